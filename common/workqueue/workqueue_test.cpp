#include "common/workqueue/workqueue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace vmesh {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  WorkQueue::Clock fn() {
    return [this] { return now; };
  }
};

TEST(WorkQueue, KeysAreDeduplicatedAndServedInOrder) {
  FakeClock clock;
  WorkQueue q(clock.fn());
  q.Add("a");
  q.Add("b");
  q.Add("a");
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(*q.Get(), "a");
  EXPECT_EQ(*q.Get(), "b");
  EXPECT_FALSE(q.Get());
}

TEST(WorkQueue, OneWorkerPerKeyAndAddsDuringProcessingAreKept) {
  FakeClock clock;
  WorkQueue q(clock.fn());
  q.Add("vm1");
  ASSERT_EQ(*q.Get(), "vm1");
  q.Add("vm1");  // changed while being reconciled
  EXPECT_FALSE(q.Get()) << "not handed to a second worker";
  q.Done("vm1");
  EXPECT_EQ(*q.Get(), "vm1") << "the change is reconciled again";
  q.Done("vm1");
  EXPECT_FALSE(q.Get()) << "nothing changed: nothing to do";
}

TEST(WorkQueue, RequeueAfterWaitsForTheClock) {
  FakeClock clock;
  WorkQueue q(clock.fn());
  q.AddAfter("rotate", 10s);
  EXPECT_FALSE(q.Get());
  EXPECT_EQ(*q.NextReadyTime(), clock.now + 10s);
  clock.now += 9s;
  EXPECT_FALSE(q.Get());
  clock.now += 1s;
  EXPECT_EQ(*q.Get(), "rotate");
  EXPECT_FALSE(q.NextReadyTime());
}

TEST(WorkQueue, DelayedAddsOfAKeyWaitForTheEarliestTimeOnly) {
  FakeClock clock;
  WorkQueue q(clock.fn());
  q.AddAfter("k", 20ms);
  clock.now += 5ms;
  q.AddAfter("k", 20ms);  // later than the one waiting: coalesced into it
  q.AddAfter("k", 30s);
  EXPECT_EQ(*q.NextReadyTime(), clock.now + 15ms);
  q.AddAfter("k", 1ms);  // earlier: replaces it
  EXPECT_EQ(*q.NextReadyTime(), clock.now + 1ms);
  EXPECT_EQ(q.Len(), 1u);
  clock.now += 1s;
  EXPECT_EQ(*q.Get(), "k");
  q.Done("k");
  EXPECT_FALSE(q.Get()) << "one run for the whole burst";
  EXPECT_FALSE(q.NextReadyTime());
}

TEST(WorkQueue, RateLimitedRetriesBackOffExponentiallyUntilForgotten) {
  FakeClock clock;
  WorkQueue q(clock.fn(), 5ms, 40ms);
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 6; ++i) {
    q.AddRateLimited("k");
    auto due = *q.NextReadyTime();
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(due - clock.now));
    clock.now = due;
    ASSERT_EQ(*q.Get(), "k");
    q.Done("k");
  }
  EXPECT_THAT(delays, ::testing::ElementsAre(5ms, 10ms, 20ms, 40ms, 40ms, 40ms));
  EXPECT_EQ(q.Failures("k"), 6);
  q.Forget("k");
  EXPECT_EQ(q.Failures("k"), 0);
  q.AddRateLimited("k");
  EXPECT_EQ(*q.NextReadyTime() - clock.now, std::chrono::steady_clock::duration(5ms));
}

TEST(WorkQueue, ConcurrentWorkersNeverShareAKey) {
  WorkQueue q([] { return std::chrono::steady_clock::now(); });
  std::mutex mu;
  std::set<std::string> active;
  std::atomic<int> processed{0};
  std::atomic<bool> overlap{false};
  for (int i = 0; i < 200; ++i) q.Add("k" + std::to_string(i % 10));
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      for (int spins = 0; spins < 20000 && processed < 10; ++spins) {
        auto key = q.Get();
        if (!key) {
          std::this_thread::yield();
          continue;
        }
        {
          std::lock_guard lock(mu);
          if (!active.insert(*key).second) overlap = true;
        }
        std::this_thread::sleep_for(100us);
        {
          std::lock_guard lock(mu);
          active.erase(*key);
        }
        ++processed;
        q.Done(*key);
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_FALSE(overlap);
  EXPECT_EQ(processed.load(), 10) << "200 adds of 10 keys: each reconciled once";
}

}  // namespace
}  // namespace vmesh
