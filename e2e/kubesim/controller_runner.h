// ControllerRunner: drives kubesim's controllers (WorkloadController, ServiceController, IstioController)
// on an io_context: a pass of each, in order, after every batch of store changes, and at the earliest time
// any of them asks for (pods becoming ready).
//
// Use from the io_context's thread (or before it runs); the store may be written from any thread. The
// store must outlive the runner.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "e2e/kubesim/object_store.h"

namespace vmesh::kubesim {

class ControllerRunner {
 public:
  // One controller pass; returns when it wants the next one, if ever.
  using Reconciler = std::function<std::optional<std::chrono::steady_clock::time_point>()>;

  ControllerRunner(boost::asio::io_context& io, ObjectStore& store, std::vector<Reconciler> reconcilers);
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
  std::vector<Reconciler> reconcilers_;
  boost::asio::steady_timer timer_;
  int listener_id_ = 0;
  bool scheduled_ = false;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace vmesh::kubesim
