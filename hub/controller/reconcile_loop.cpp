#include "hub/controller/reconcile_loop.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <mutex>

namespace vmesh::hub {

namespace asio = boost::asio;

struct ReconcileLoop::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor executor, WorkQueue::Clock clock, Options options, Reconcile reconcile)
      : strand(asio::make_strand(std::move(executor))),
        timer(strand),
        queue(std::move(clock), options.retry_base, options.retry_max),
        reconcile(std::move(reconcile)) {}

  // Runs one key: a failure is retried with backoff, a success forgets the key's failures.
  void RunOne(const std::string& key) {
    auto outcome = reconcile(key);
    if (!outcome.ok()) {
      queue.AddRateLimited(key);
      spdlog::error("reconcile {} failed (attempt {}): {}", key, queue.Failures(key), outcome.error().message);
    } else {
      queue.Forget(key);
      if (outcome->requeue_after) queue.AddAfter(key, *outcome->requeue_after);
    }
    queue.Done(key);
  }

  std::size_t RunReady() {
    std::lock_guard running(run_mu);
    std::size_t runs = 0;
    while (!stopped) {
      auto key = queue.Get();
      if (!key) break;
      RunOne(*key);
      ++runs;
    }
    return runs;
  }

  // On the strand: runs what is ready, then waits for the earliest delayed key.
  void Pump() {
    RunReady();
    if (stopped) return;
    auto next = queue.NextReadyTime();
    if (!next || (armed && *next >= armed_at)) return;
    armed = true;
    armed_at = *next;
    timer.expires_at(*next);  // cancels an earlier wait, whose handler then does nothing
    timer.async_wait(asio::bind_executor(strand, [weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->armed = false;
      self->Pump();
    }));
  }

  void Wake() {
    asio::post(strand, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->Pump();
    });
  }

  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;  // strand-confined, as are armed and armed_at
  bool armed = false;
  std::chrono::steady_clock::time_point armed_at;
  WorkQueue queue;
  Reconcile reconcile;
  std::mutex run_mu;  // one RunReady() at a time
  std::atomic<bool> stopped{false};
};

ReconcileLoop::ReconcileLoop(asio::any_io_executor executor, WorkQueue::Clock clock, Options options,
                             Reconcile reconcile)
    : state_(std::make_shared<State>(std::move(executor), std::move(clock), options, std::move(reconcile))) {}

ReconcileLoop::~ReconcileLoop() { Stop(); }

void ReconcileLoop::Add(const std::string& key) {
  state_->queue.Add(key);
  state_->Wake();
}

void ReconcileLoop::AddAfter(const std::string& key, Duration delay) {
  state_->queue.AddAfter(key, delay);
  state_->Wake();
}

void ReconcileLoop::Stop() {
  if (state_->stopped.exchange(true)) return;
  // The timer belongs to the strand: cancelled there (the io_context may be gone already; then nothing waits).
  asio::post(state_->strand, [state = state_] { state->timer.cancel(); });
}

std::size_t ReconcileLoop::RunReady() {
  const std::size_t runs = state_->RunReady();
  state_->Wake();  // the strand waits for what these runs delayed (retries, requeues)
  return runs;
}

int ReconcileLoop::Failures(const std::string& key) const { return state_->queue.Failures(key); }

}  // namespace vmesh::hub
