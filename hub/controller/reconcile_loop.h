// Runs a level-based reconciler over a WorkQueue on an Asio strand (STYLE "reconcilers around them"): keys added
// from any thread are handed to `reconcile` one at a time; a key that fails is retried with the queue's rate
// limit (exponential backoff), a key that succeeds forgets its failures and may ask to run again after a delay.
// Delayed adds of a key coalesce (the earliest wins), so a burst of triggers becomes one run.
//
// The queue's clock is injected. In programs the loop waits for delayed keys with a steady_timer on its strand
// (the clock must then be steady_clock::now); tests may instead call RunReady() with a fake clock and never run
// the io_context.
//
// Thread safety: Add/AddAfter/Stop from any thread; `reconcile` runs on the loop's strand (or in RunReady()'s
// caller). After Stop() returns no new run starts; one running may finish.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "common/workqueue/workqueue.h"

namespace vmesh::hub {

class ReconcileLoop {
 public:
  using Duration = WorkQueue::Duration;
  // What one run of a key asks for: nothing, or to run again after a delay (requeue after).
  struct Outcome {
    std::optional<Duration> requeue_after;
  };
  using Reconcile = std::function<Result<Outcome>(const std::string& key)>;

  struct Options {
    // Retries of a failing key: base * 2^(failures so far), capped.
    Duration retry_base = std::chrono::milliseconds(100);
    Duration retry_max = std::chrono::seconds(30);
  };

  ReconcileLoop(boost::asio::any_io_executor executor, WorkQueue::Clock clock, Options options, Reconcile reconcile);
  ~ReconcileLoop();  // Stop()s
  ReconcileLoop(const ReconcileLoop&) = delete;
  ReconcileLoop& operator=(const ReconcileLoop&) = delete;

  void Add(const std::string& key);
  void AddAfter(const std::string& key, Duration delay);
  void Stop();

  // Runs every key that is ready now on the caller's thread; returns how many runs there were.
  std::size_t RunReady();
  // Consecutive failures of a key (0 after a success).
  int Failures(const std::string& key) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace vmesh::hub
