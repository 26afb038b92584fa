// An io_context run by a fixed number of threads: what the link server and clients run on.
#pragma once

#include <memory>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vmesh::link {

class EventLoop {
 public:
  // Starts `threads` (at least 1) threads running the io_context until Stop().
  explicit EventLoop(int threads = 1);
  ~EventLoop();  // Stop()
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& context();
  // Stops the io_context (pending handlers are abandoned) and joins the threads. Idempotent. Stop servers and
  // clients first for a graceful shutdown. Not from one of the loop's threads.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmesh::link
