#include "e2e/kubesim/controller_runner.h"

#include <boost/asio/post.hpp>

namespace vmesh::kubesim {

ControllerRunner::ControllerRunner(boost::asio::io_context& io, ObjectStore& store, std::vector<Reconciler> reconcilers)
    : io_(io), store_(store), reconcilers_(std::move(reconcilers)), timer_(io) {}

ControllerRunner::~ControllerRunner() {
  Stop();
  *alive_ = false;
}

void ControllerRunner::Start() {
  stopped_ = false;
  std::weak_ptr<bool> alive = alive_;
  listener_id_ = store_.AddChangeListener([this, alive] {
    // Runs on the writing thread: hop onto the io_context before touching the runner.
    boost::asio::post(io_, [this, alive] {
      if (auto a = alive.lock(); a && *a) Schedule();
    });
  });
  Schedule();
}

void ControllerRunner::Stop() {
  stopped_ = true;
  if (listener_id_ != 0) store_.RemoveChangeListener(listener_id_);
  listener_id_ = 0;
  timer_.cancel();
}

void ControllerRunner::Schedule() {
  if (scheduled_ || stopped_) return;
  scheduled_ = true;
  std::weak_ptr<bool> alive = alive_;
  boost::asio::post(io_, [this, alive] {
    if (auto a = alive.lock(); a && *a) RunPass();
  });
}

void ControllerRunner::RunPass() {
  scheduled_ = false;
  if (stopped_) return;
  std::optional<std::chrono::steady_clock::time_point> next;
  for (auto& reconcile : reconcilers_) {
    auto wanted = reconcile();
    if (wanted && (!next || *wanted < *next)) next = wanted;
  }
  if (!next) return;
  timer_.expires_at(*next);
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (auto a = alive.lock(); !ec && a && *a) Schedule();
  });
}

}  // namespace vmesh::kubesim
