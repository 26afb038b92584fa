#include "common/link/clock.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <mutex>
#include <vector>

namespace vmesh::link {
namespace {

namespace asio = boost::asio;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

class SteadyTimer final : public Timer {
 public:
  explicit SteadyTimer(asio::any_io_executor executor) : timer_(std::move(executor)) {}

  void ExpiresAt(TimePoint deadline) override { timer_.expires_at(deadline); }
  void ExpiresAfter(std::chrono::steady_clock::duration delay) override { timer_.expires_after(delay); }
  void Cancel() override { timer_.cancel(); }
  asio::awaitable<boost::system::error_code> Wait() override {
    auto [ec] = co_await timer_.async_wait(kAwait);
    co_return ec;
  }

 private:
  asio::steady_timer timer_;
};

class SteadyClockImpl final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  TimerPtr MakeTimer(asio::any_io_executor executor) override {
    return std::make_unique<SteadyTimer>(std::move(executor));
  }
};

}  // namespace

ClockPtr SteadyClock() {
  static const ClockPtr clock = std::make_shared<SteadyClockImpl>();
  return clock;
}

namespace internal {

// What a manual timer waits on: a steady timer that never expires by itself, cancelled to wake the waiter.
// Touched on the timer's executor only.
struct ManualWaiter {
  explicit ManualWaiter(asio::any_io_executor executor) : wake(std::move(executor)) {}
  asio::steady_timer wake;
  std::uint64_t generation = 0;  // bumped by every re-arm and cancel: a stale firing is ignored
  bool fired = false;
};

struct ManualClockState {
  struct Armed {
    Clock::TimePoint deadline;
    std::uint64_t generation;
    std::weak_ptr<ManualWaiter> waiter;
    bool fired = false;  // the firing was posted; the entry stays until Wait() consumes it
  };

  mutable std::mutex mu;
  Clock::TimePoint now = Clock::TimePoint(std::chrono::hours(24));
  std::uint64_t next_id = 1;
  std::map<std::uint64_t, Armed> armed;  // by timer id
};

}  // namespace internal

namespace {

class ManualTimer final : public Timer {
 public:
  ManualTimer(std::shared_ptr<internal::ManualClockState> state, asio::any_io_executor executor)
      : state_(std::move(state)), waiter_(std::make_shared<internal::ManualWaiter>(std::move(executor))) {
    std::lock_guard lock(state_->mu);
    id_ = state_->next_id++;
  }
  ~ManualTimer() override { Cancel(); }

  void ExpiresAt(TimePoint deadline) override {
    Interrupt();
    std::lock_guard lock(state_->mu);
    state_->armed[id_] = {deadline, waiter_->generation, waiter_, false};
  }
  void ExpiresAfter(std::chrono::steady_clock::duration delay) override {
    Interrupt();
    std::lock_guard lock(state_->mu);
    state_->armed[id_] = {state_->now + delay, waiter_->generation, waiter_, false};
  }
  void Cancel() override {
    Interrupt();
    std::lock_guard lock(state_->mu);
    state_->armed.erase(id_);
  }

  asio::awaitable<boost::system::error_code> Wait() override {
    {
      std::lock_guard lock(state_->mu);
      auto it = state_->armed.find(id_);
      if (it == state_->armed.end()) co_return asio::error::operation_aborted;  // cancelled, or consumed
      if (it->second.deadline <= state_->now) {
        state_->armed.erase(it);
        co_return boost::system::error_code();
      }
    }
    const std::uint64_t generation = waiter_->generation;
    waiter_->fired = false;
    waiter_->wake.expires_at(asio::steady_timer::time_point::max());
    co_await waiter_->wake.async_wait(kAwait);
    if (!waiter_->fired || waiter_->generation != generation) co_return asio::error::operation_aborted;
    std::lock_guard lock(state_->mu);
    state_->armed.erase(id_);
    co_return boost::system::error_code();
  }

 private:
  // Ends a wait in progress (operation_aborted) and voids firings already on their way.
  void Interrupt() {
    ++waiter_->generation;
    waiter_->fired = false;
    waiter_->wake.cancel();
  }

  std::shared_ptr<internal::ManualClockState> state_;
  std::shared_ptr<internal::ManualWaiter> waiter_;
  std::uint64_t id_ = 0;
};

}  // namespace

ManualClock::ManualClock() : state_(std::make_shared<internal::ManualClockState>()) {}
ManualClock::~ManualClock() = default;

Clock::TimePoint ManualClock::Now() const {
  std::lock_guard lock(state_->mu);
  return state_->now;
}

TimerPtr ManualClock::MakeTimer(asio::any_io_executor executor) {
  return std::make_unique<ManualTimer>(state_, std::move(executor));
}

void ManualClock::Advance(std::chrono::steady_clock::duration by) {
  std::vector<internal::ManualClockState::Armed> due;
  {
    std::lock_guard lock(state_->mu);
    state_->now += by;
    for (auto& [id, armed] : state_->armed) {
      if (armed.deadline <= state_->now && !armed.fired) {
        armed.fired = true;
        due.push_back(armed);
      }
    }
  }
  for (const auto& armed : due) {
    auto waiter = armed.waiter.lock();  // (only to find its executor)
    if (!waiter) continue;
    asio::post(waiter->wake.get_executor(), [weak = armed.waiter, generation = armed.generation] {
      auto w = weak.lock();
      if (!w || w->generation != generation) return;
      w->fired = true;
      w->wake.cancel();
    });
  }
}

std::size_t ManualClock::armed_timers() const {
  std::lock_guard lock(state_->mu);
  std::size_t n = 0;
  for (const auto& [id, armed] : state_->armed) n += armed.deadline > state_->now ? 1 : 0;
  return n;
}

}  // namespace vmesh::link
