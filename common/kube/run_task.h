// Runs one coroutine to completion on a private io_context and returns its result: for tests and tools that
// call the coroutine APIs (KubeClient, the agent's appliers) from plain code. Rethrows what the coroutine threw.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <utility>

namespace vmesh::kube {

template <typename T>
T RunTask(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  std::optional<T> out;
  // (Result<T> is not default-constructible, so the value is stored by a wrapper coroutine.)
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(task)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  return std::move(*out);
}

}  // namespace vmesh::kube
