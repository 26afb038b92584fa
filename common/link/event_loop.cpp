#include "common/link/event_loop.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>
#include <vector>

namespace vmesh::link {

struct EventLoop::Impl {
  explicit Impl(int threads) : io(threads), work(io.get_executor()) {}
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
  std::vector<std::thread> threads;
};

EventLoop::EventLoop(int threads) : impl_(std::make_unique<Impl>(threads < 1 ? 1 : threads)) {
  for (int i = 0; i < (threads < 1 ? 1 : threads); ++i) {
    impl_->threads.emplace_back([io = &impl_->io] { io->run(); });
  }
}

EventLoop::~EventLoop() { Stop(); }

boost::asio::io_context& EventLoop::context() { return impl_->io; }

void EventLoop::Stop() {
  impl_->work.reset();
  impl_->io.stop();
  for (std::thread& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
  impl_->threads.clear();
}

}  // namespace vmesh::link
