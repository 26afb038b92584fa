// A keyed work queue for level-based reconcilers, in the style of controller-runtime's:
//  - a key waits in the queue at most once, however often it is added;
//  - a key is handed to one worker at a time: added while being processed, it is queued again when Done();
//  - delayed adds (requeue after): a key waits for at most one time, the earliest it was asked for, so a burst
//    of delayed adds becomes one run;
//  - per-key rate-limited retries with exponential backoff (5 ms doubling
//    up to 1000 s by default), reset by Forget() after a success.
// The clock is injected; the queue never sleeps or spawns threads — a driver asks NextReadyTime() and waits
// (an Asio timer in the programs, nothing in tests). Thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace vmesh {

class WorkQueue {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Duration = std::chrono::steady_clock::duration;

  explicit WorkQueue(Clock clock, Duration base_delay = std::chrono::milliseconds(5),
                     Duration max_delay = std::chrono::seconds(1000));

  void Add(const std::string& key);
  void AddAfter(const std::string& key, Duration delay);
  // Retry with this key's backoff: base_delay * 2^(failures so far), capped.
  void AddRateLimited(const std::string& key);
  // Forgets the key's failures (call after a successful reconcile).
  void Forget(const std::string& key);
  int Failures(const std::string& key) const;

  // The next key ready now that no worker holds, marking it held; nothing when none is ready.
  std::optional<std::string> Get();
  // The worker finished `key`.
  void Done(const std::string& key);

  // When the earliest delayed key becomes ready (nothing when none waits).
  std::optional<std::chrono::steady_clock::time_point> NextReadyTime() const;
  // Keys waiting (ready or delayed), not counting those being processed.
  size_t Len() const;

 private:
  void PromoteDueLocked();
  void EnqueueLocked(const std::string& key);

  Clock clock_;
  Duration base_delay_;
  Duration max_delay_;
  mutable std::mutex mu_;
  std::deque<std::string> ready_;
  std::set<std::string> queued_;      // in ready_
  std::set<std::string> processing_;  // handed out, not Done
  std::set<std::string> dirty_;       // added while processing
  std::multimap<std::chrono::steady_clock::time_point, std::string> delayed_;
  std::map<std::string, std::chrono::steady_clock::time_point> due_;  // key -> its entry in delayed_
  std::map<std::string, int> failures_;
};

}  // namespace vmesh
