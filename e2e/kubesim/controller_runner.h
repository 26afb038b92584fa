// ControllerRunner: drives a WorkloadController on an io_context: a pass after every batch of store
// changes, and at the times the controller asks for (pods becoming ready).
//
// Use from the io_context's thread (or before it runs); the store may be written from any thread. The
// store must outlive the runner.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/workload_controller.h"

namespace vmesh::kubesim {

class ControllerRunner {
 public:
  ControllerRunner(boost::asio::io_context& io, ObjectStore& store, WorkloadController& controller);
  ~ControllerRunner();
  ControllerRunner(const ControllerRunner&) = delete;
  ControllerRunner& operator=(const ControllerRunner&) = delete;

  // Runs a first pass soon and from then on follows the store.
  void Start();
  // No more passes; pending ones are dropped.
  void Stop();

 private:
  void Schedule();
  void RunPass();

  boost::asio::io_context& io_;
  ObjectStore& store_;
  WorkloadController& controller_;
  boost::asio::steady_timer timer_;
  int listener_id_ = 0;
  bool scheduled_ = false;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace vmesh::kubesim
