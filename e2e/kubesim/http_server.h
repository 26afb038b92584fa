// HttpServer: serves an ApiHandler over plain HTTP/1.1 (Boost.Beast, C++20 coroutines).
//
// Requests are answered by ApiHandler::Handle(); watches are streamed with chunked transfer encoding,
// one JSON event per line, woken by the store's change listener, with BOOKMARK events every
// `bookmark_interval` when the client allows them, until `timeoutSeconds`, the client disconnecting, or
// Stop(). All I/O runs on the io_context passed in; the server must be used (Listen/Stop) from that
// context's thread, or before it runs. The store may be written from any thread; it must outlive the
// io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "e2e/kubesim/api_handler.h"

namespace vmesh::kubesim {

struct HttpServerOptions {
  std::chrono::milliseconds bookmark_interval{std::chrono::seconds(60)};
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const ApiHandler& handler, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0 picks a free one), starts accepting, and returns the bound port.
  Result<uint16_t> Listen(const std::string& host, uint16_t port);

  // Stops accepting and closes every connection, ending open watches; io_context::run() then returns
  // once nothing else is pending.
  void Stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vmesh::kubesim
