// ManualClock: timers complete when the clock is moved past their deadline, not before, and a cancel or a re-arm
// ends a wait with operation_aborted (a firing already on its way is voided).
#include "common/link/clock.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

namespace vmesh::link {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// Runs what is ready (also after the context ran out of work).
void Poll(asio::io_context& io) {
  io.restart();
  io.poll();
}

// Waits on `timer` and records the outcome.
void Spawn(asio::io_context& io, Timer& timer, std::optional<boost::system::error_code>& out) {
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { out = co_await timer.Wait(); }, asio::detached);
}

TEST(ManualClockTest, TimersFireWhenTheClockPassesTheirDeadline) {
  asio::io_context io;
  ManualClock clock;
  const auto start = clock.Now();
  TimerPtr timer = clock.MakeTimer(io.get_executor());
  timer->ExpiresAfter(milliseconds(100));
  std::optional<boost::system::error_code> result;
  Spawn(io, *timer, result);
  Poll(io);
  EXPECT_FALSE(result.has_value());
  EXPECT_EQ(clock.armed_timers(), 1u);

  clock.Advance(milliseconds(99));
  Poll(io);
  EXPECT_FALSE(result.has_value()) << "not due yet";
  clock.Advance(milliseconds(1));
  Poll(io);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result) << result->message();
  EXPECT_EQ(clock.Now() - start, milliseconds(100));
  EXPECT_EQ(clock.armed_timers(), 0u);
}

TEST(ManualClockTest, ADeadlinePassedBeforeTheWaitCompletesAtOnce) {
  asio::io_context io;
  ManualClock clock;
  TimerPtr timer = clock.MakeTimer(io.get_executor());
  timer->ExpiresAfter(milliseconds(10));
  clock.Advance(milliseconds(50));
  std::optional<boost::system::error_code> result;
  Spawn(io, *timer, result);
  Poll(io);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
}

TEST(ManualClockTest, CancelAndReArmAbortTheWait) {
  asio::io_context io;
  ManualClock clock;
  TimerPtr timer = clock.MakeTimer(io.get_executor());
  timer->ExpiresAfter(milliseconds(10));
  std::optional<boost::system::error_code> cancelled;
  Spawn(io, *timer, cancelled);
  Poll(io);
  timer->Cancel();
  Poll(io);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(*cancelled, asio::error::operation_aborted);
  EXPECT_EQ(clock.armed_timers(), 0u);

  // A firing posted by Advance() but not yet run is voided by a re-arm: the new deadline counts.
  timer->ExpiresAfter(milliseconds(10));
  std::optional<boost::system::error_code> first;
  Spawn(io, *timer, first);
  Poll(io);
  clock.Advance(milliseconds(10));
  timer->ExpiresAfter(milliseconds(10));
  Poll(io);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, asio::error::operation_aborted);
  std::optional<boost::system::error_code> second;
  Spawn(io, *timer, second);
  Poll(io);
  EXPECT_FALSE(second.has_value());
  clock.Advance(milliseconds(10));
  Poll(io);
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(*second);
}

TEST(SteadyClockTest, IsTheSteadyClock) {
  const auto before = std::chrono::steady_clock::now();
  const auto now = SteadyClock()->Now();
  EXPECT_GE(now, before);
  EXPECT_EQ(SteadyClock(), SteadyClock()) << "one shared instance";
}

}  // namespace
}  // namespace vmesh::link
