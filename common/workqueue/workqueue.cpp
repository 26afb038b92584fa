#include "common/workqueue/workqueue.h"

#include <algorithm>

namespace vmesh {

WorkQueue::WorkQueue(Clock clock, Duration base_delay, Duration max_delay)
    : clock_(std::move(clock)), base_delay_(base_delay), max_delay_(max_delay) {}

void WorkQueue::EnqueueLocked(const std::string& key) {
  if (processing_.count(key)) {
    dirty_.insert(key);
    return;
  }
  if (queued_.insert(key).second) ready_.push_back(key);
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard lock(mu_);
  EnqueueLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, Duration delay) {
  if (delay <= Duration::zero()) return Add(key);
  std::lock_guard lock(mu_);
  const auto due = clock_() + delay;
  if (auto waiting = due_.find(key); waiting != due_.end()) {
    if (waiting->second <= due) return;
    auto [first, last] = delayed_.equal_range(waiting->second);
    for (auto it = first; it != last; ++it) {
      if (it->second == key) {
        delayed_.erase(it);
        break;
      }
    }
  }
  delayed_.emplace(due, key);
  due_[key] = due;
}

void WorkQueue::AddRateLimited(const std::string& key) {
  Duration delay;
  {
    std::lock_guard lock(mu_);
    int n = failures_[key]++;
    delay = base_delay_;
    for (int i = 0; i < n && delay < max_delay_; ++i) delay *= 2;
    delay = std::min(delay, max_delay_);
  }
  AddAfter(key, delay);
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int WorkQueue::Failures(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::PromoteDueLocked() {
  const auto now = clock_();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    due_.erase(key);
    EnqueueLocked(key);
  }
}

std::optional<std::string> WorkQueue::Get() {
  std::lock_guard lock(mu_);
  PromoteDueLocked();
  if (ready_.empty()) return std::nullopt;
  std::string key = ready_.front();
  ready_.pop_front();
  queued_.erase(key);
  processing_.insert(key);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.erase(key)) EnqueueLocked(key);
}

std::optional<std::chrono::steady_clock::time_point> WorkQueue::NextReadyTime() const {
  std::lock_guard lock(mu_);
  if (delayed_.empty()) return std::nullopt;
  return delayed_.begin()->first;
}

size_t WorkQueue::Len() const {
  std::lock_guard lock(mu_);
  std::set<std::string> waiting(queued_);
  for (const auto& [t, key] : delayed_) waiting.insert(key);
  for (const auto& key : dirty_) waiting.insert(key);
  return waiting.size();
}

}  // namespace vmesh
