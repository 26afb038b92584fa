// The loop's bookkeeping with a fake clock and RunReady() (the io_context never runs), and its Asio driver with
// the real clock, waited for by the runs it makes, not by time.
#include "hub/controller/reconcile_loop.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

namespace vmesh::hub {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  WorkQueue::Clock fn() {
    return [this] { return now; };
  }
};

class ReconcileLoopTest : public ::testing::Test {
 protected:
  ReconcileLoop MakeLoop() {
    return ReconcileLoop(io_.get_executor(), clock_.fn(), {.retry_base = 100ms, .retry_max = 400ms},
                         [this](const std::string& key) -> Result<ReconcileLoop::Outcome> {
                           runs_.push_back(key);
                           if (failing_.count(key)) return MakeError("not yet");
                           if (key == "periodic") return ReconcileLoop::Outcome{.requeue_after = 1s};
                           return ReconcileLoop::Outcome{};
                         });
  }

  boost::asio::io_context io_;
  FakeClock clock_;
  std::vector<std::string> runs_;
  std::set<std::string> failing_;
};

TEST_F(ReconcileLoopTest, ABurstOfDelayedTriggersIsOneRun) {
  auto loop = MakeLoop();
  for (int i = 0; i < 5; ++i) {
    loop.AddAfter("reconcile", 20ms);
    clock_.now += 1ms;
  }
  EXPECT_EQ(loop.RunReady(), 0u);
  clock_.now += 20ms;
  EXPECT_EQ(loop.RunReady(), 1u);
  EXPECT_EQ(loop.RunReady(), 0u) << "nothing changed: nothing to do";
  EXPECT_THAT(runs_, ElementsAre("reconcile"));
}

TEST_F(ReconcileLoopTest, AFailingKeyIsRetriedWithBackoffUntilItSucceeds) {
  auto loop = MakeLoop();
  failing_.insert("k");
  loop.Add("k");
  EXPECT_EQ(loop.RunReady(), 1u);
  EXPECT_EQ(loop.Failures("k"), 1);
  clock_.now += 99ms;
  EXPECT_EQ(loop.RunReady(), 0u) << "waits 100 ms after the first failure";
  clock_.now += 1ms;
  EXPECT_EQ(loop.RunReady(), 1u);
  clock_.now += 199ms;
  EXPECT_EQ(loop.RunReady(), 0u) << "then 200 ms";
  clock_.now += 1ms;
  failing_.clear();
  EXPECT_EQ(loop.RunReady(), 1u);
  EXPECT_EQ(loop.Failures("k"), 0) << "a success forgets the failures";
  clock_.now += 1h;
  EXPECT_EQ(loop.RunReady(), 0u) << "and is not retried";
  EXPECT_EQ(runs_.size(), 3u);
}

TEST_F(ReconcileLoopTest, ARunMayAskToRunAgainLater) {
  auto loop = MakeLoop();
  loop.Add("periodic");
  EXPECT_EQ(loop.RunReady(), 1u);
  clock_.now += 999ms;
  EXPECT_EQ(loop.RunReady(), 0u);
  clock_.now += 1ms;
  EXPECT_EQ(loop.RunReady(), 1u);
}

TEST_F(ReconcileLoopTest, NothingRunsAfterStop) {
  auto loop = MakeLoop();
  loop.Add("k");
  loop.Stop();
  EXPECT_EQ(loop.RunReady(), 0u);
  EXPECT_TRUE(runs_.empty());
}

TEST(ReconcileLoopDriver, RunsAddedAndDelayedKeysOnItsStrand) {
  boost::asio::io_context io;
  std::vector<std::string> runs;
  ReconcileLoop loop(
      io.get_executor(), [] { return std::chrono::steady_clock::now(); }, {},
      [&](const std::string& key) -> Result<ReconcileLoop::Outcome> {
        runs.push_back(key);
        if (runs.size() == 2) io.stop();
        return ReconcileLoop::Outcome{};
      });
  loop.AddAfter("later", 1ms);
  loop.Add("now");
  io.run();  // returns once both ran (the driver's timer keeps it busy until then)
  EXPECT_THAT(runs, ElementsAre("now", "later"));
}

}  // namespace
}  // namespace vmesh::hub
