// The time the link's timers run on (ping interval, idle watchdog, closing grace, reconnect backoff): a seam, so
// that tests move time instead of sleeping. SteadyClock() is the real one; ManualClock only moves when told to.
//
// A Timer is one-shot and re-armable, bound to an executor (a connection's strand): Wait() completes on it with
// success once the clock reaches the deadline, or with operation_aborted when Cancel() is called or the timer is
// destroyed. Use a timer from its executor only. Clocks are thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <memory>

namespace vmesh::link {

class Timer {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Timer() = default;

  // Re-arms the timer; a wait in progress completes with operation_aborted.
  virtual void ExpiresAt(TimePoint deadline) = 0;
  virtual void ExpiresAfter(std::chrono::steady_clock::duration delay) = 0;
  virtual void Cancel() = 0;
  virtual boost::asio::awaitable<boost::system::error_code> Wait() = 0;
};

using TimerPtr = std::unique_ptr<Timer>;

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;

  virtual TimePoint Now() const = 0;
  virtual TimerPtr MakeTimer(boost::asio::any_io_executor executor) = 0;
};

using ClockPtr = std::shared_ptr<Clock>;

// std::chrono::steady_clock and asio::steady_timer.
ClockPtr SteadyClock();

namespace internal {
struct ManualClockState;
}  // namespace internal

// Starts at an arbitrary fixed time and moves only by Advance(). Timers whose deadline Advance() passes complete
// (on their executors, so asynchronously to the caller of Advance()).
class ManualClock final : public Clock {
 public:
  ManualClock();
  ~ManualClock() override;

  TimePoint Now() const override;
  TimerPtr MakeTimer(boost::asio::any_io_executor executor) override;

  void Advance(std::chrono::steady_clock::duration by);
  // Timers armed right now (with a deadline the clock has not reached, waiting or not).
  std::size_t armed_timers() const;

 private:
  std::shared_ptr<internal::ManualClockState> state_;  // shared with the timers, which may outlive the clock
};

}  // namespace vmesh::link
