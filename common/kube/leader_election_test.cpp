// Leader election against the in-process kubesim (FakeKubeClient) on a ManualClock: time only moves when a test
// moves it, in 100 ms steps, and every step runs whatever became ready, so the timings asserted are exact.
#include "common/kube/leader_election.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "common/kube/fake_client.h"

namespace vmesh::kube {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr char kLease[] = "/apis/coordination.k8s.io/v1/namespaces/vmesh/leases/vmesh-hub";

// Forwards to another client, or fails every request (a partition between this replica and the API server).
// Every request first yields to the other coroutines, as a network round trip would, so that candidates
// interleave: several read the same resourceVersion before any of them writes.
class PartitionableClient final : public KubeClient {
 public:
  explicit PartitionableClient(KubeClient& next) : next_(next) {}
  asio::awaitable<Result<ApiResponse>> Request(std::string method, std::string target, std::string body,
                                               std::string content_type) override {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    if (partitioned) co_return MakeError("connection refused (partitioned)");
    auto r = co_await next_.Request(std::move(method), std::move(target), std::move(body), std::move(content_type));
    if (r.ok() && r->status == 409) ++conflicts;
    co_return r;
  }
  asio::awaitable<Status> Watch(std::string target, std::function<bool(const WatchEvent&)> on_event) override {
    co_return co_await next_.Watch(std::move(target), std::move(on_event));
  }
  std::atomic<bool> partitioned{false};
  int conflicts = 0;  // 409 answers (lost races)

 private:
  KubeClient& next_;
};

struct Candidate {
  std::string name;
  std::unique_ptr<PartitionableClient> client;
  std::unique_ptr<LeaderElector> elector;
  int started = 0;
  int stopped = 0;
  std::string stop_reason;
  std::optional<link::Clock::TimePoint> started_at, stopped_at;
};

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = MakeFakeKubeClient();
    ASSERT_TRUE(fake.ok()) << fake.error().message;
    fake_ = std::move(*fake);
    ASSERT_TRUE(fake_->Seed("apiVersion: v1\nkind: Namespace\nmetadata: {name: vmesh}\n").ok());
  }
  void TearDown() override {
    for (auto& c : candidates_) c->elector->Stop();
    Settle();
  }

  Candidate& Add(const std::string& name, bool release_on_stop = true) {
    auto c = std::make_unique<Candidate>();
    c->name = name;
    c->client = std::make_unique<PartitionableClient>(*fake_);
    Candidate* raw = c.get();
    LeaderElectionConfig config{
        .lease_namespace = "vmesh", .lease_name = "vmesh-hub", .identity = name, .release_on_stop = release_on_stop};
    c->elector = std::make_unique<LeaderElector>(*c->client, config,
                                                 LeaderElectionCallbacks{.on_started_leading =
                                                                             [this, raw] {
                                                                               ++raw->started;
                                                                               raw->started_at = clock_->Now();
                                                                             },
                                                                         .on_stopped_leading =
                                                                             [this, raw](const std::string& reason) {
                                                                               ++raw->stopped;
                                                                               raw->stop_reason = reason;
                                                                               raw->stopped_at = clock_->Now();
                                                                             }},
                                                 clock_);
    candidates_.push_back(std::move(c));
    return *raw;
  }

  // Runs every handler that is ready (the fake answers without I/O, so this reaches a fixed point).
  void Settle() {
    for (int i = 0; i < 1000; ++i) {
      io_.restart();
      if (io_.poll() == 0) return;
    }
  }
  // Moves time in 100 ms steps; after each, at most one candidate may sign.
  void Run(std::chrono::milliseconds total) {
    for (auto t = 0ms; t < total; t += 100ms) {
      clock_->Advance(100ms);
      Settle();
      int signing = 0;
      for (auto& c : candidates_) signing += c->elector->MaySign() ? 1 : 0;
      ASSERT_LE(signing, 1) << "two replicas may sign at once";
    }
  }

  json::object LeaseSpec() {
    auto r = RunTaskOn(fake_->Get(kLease));
    EXPECT_TRUE(r.ok() && r->ok());
    return r->body.at("spec").as_object();
  }
  Result<ApiResponse> RunTaskOn(asio::awaitable<Result<ApiResponse>> task) {
    std::optional<Result<ApiResponse>> out;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { out.emplace(co_await std::move(task)); }, asio::detached);
    Settle();
    return std::move(*out);
  }

  std::shared_ptr<link::ManualClock> clock_ = std::make_shared<link::ManualClock>();
  asio::io_context io_;
  FakeKubeClientPtr fake_;
  std::vector<std::unique_ptr<Candidate>> candidates_;
};

TEST(LeaderElectionConfigTest, RefusesUnsafeTimings) {
  LeaderElectionConfig c{.lease_namespace = "vmesh", .lease_name = "vmesh-hub", .identity = "a"};
  EXPECT_TRUE(ValidateLeaderElectionConfig(c).ok());
  c.renew_deadline = 15s;
  EXPECT_THAT(ValidateLeaderElectionConfig(c).error().message,
              HasSubstr("--leader-elect-renew-deadline 15s must be shorter than --leader-elect-lease-duration 15s"));
  c.renew_deadline = 10s;
  c.retry_period = 10s;
  EXPECT_THAT(ValidateLeaderElectionConfig(c).error().message,
              HasSubstr("--leader-elect-retry-period 10s must be shorter than --leader-elect-renew-deadline 10s"));
  c.retry_period = 2s;
  c.identity = "";
  EXPECT_THAT(ValidateLeaderElectionConfig(c).error().message, HasSubstr("--replica-id"));
}

TEST_F(LeaderElectionTest, OneOfTwoLeadsAndKeepsRenewing) {
  Candidate& a = Add("hub-a");
  Candidate& b = Add("hub-b");
  a.elector->Start(io_.get_executor());
  Settle();
  b.elector->Start(io_.get_executor());
  Settle();
  EXPECT_TRUE(a.elector->IsLeader());
  EXPECT_FALSE(b.elector->IsLeader());
  EXPECT_EQ(b.elector->ObservedHolder(), "hub-a");
  Run(60s);  // far beyond the lease duration: renewals keep it
  EXPECT_TRUE(a.elector->IsLeader());
  EXPECT_FALSE(b.elector->IsLeader());
  EXPECT_EQ(a.started, 1);
  EXPECT_EQ(a.stopped, 0);
  EXPECT_EQ(b.started, 0);
  json::object spec = LeaseSpec();
  EXPECT_EQ(spec.at("holderIdentity"), "hub-a");
  EXPECT_EQ(spec.at("leaseTransitions"), 0);
  EXPECT_EQ(spec.at("leaseDurationSeconds"), 15);
  // MicroTime: microsecond precision.
  EXPECT_EQ(std::string(spec.at("acquireTime").as_string()).size(), std::string("2026-01-01T00:00:00.000000Z").size());
}

TEST_F(LeaderElectionTest, PartitionedLeaderStopsWithinRenewDeadlineAndOtherTakesOverAfterLeaseDuration) {
  Candidate& a = Add("hub-a");
  Candidate& b = Add("hub-b");
  a.elector->Start(io_.get_executor());
  Settle();
  b.elector->Start(io_.get_executor());
  Run(5s);
  ASSERT_TRUE(a.elector->IsLeader());
  // The last change b saw: a's last successful renewal happened at most one retry period ago.
  const auto partitioned_at = clock_->Now();
  a.client->partitioned = true;
  Run(30s);
  ASSERT_EQ(a.stopped, 1);
  EXPECT_THAT(a.stop_reason, HasSubstr("renew deadline"));
  EXPECT_LE(*a.stopped_at - partitioned_at, 10s) << "stops within the renew deadline";
  ASSERT_EQ(b.started, 1);
  // b may take over only a full lease duration after the last renewal it saw (which was before the partition).
  EXPECT_GE(*b.started_at - partitioned_at, 15s - 2s);
  EXPECT_GT(*b.started_at, *a.stopped_at);
  EXPECT_LE(*b.started_at - partitioned_at, 15s + 2s + 100ms);
  json::object spec = LeaseSpec();
  EXPECT_EQ(spec.at("holderIdentity"), "hub-b");
  EXPECT_EQ(spec.at("leaseTransitions"), 1);
  // Healed, a sees b's lease and stays a follower.
  a.client->partitioned = false;
  Run(30s);
  EXPECT_FALSE(a.elector->IsLeader());
  EXPECT_TRUE(b.elector->IsLeader());
  EXPECT_EQ(a.elector->ObservedHolder(), "hub-b");
}

TEST_F(LeaderElectionTest, FencingTurnsOffAtTheRenewDeadlineEvenBeforeTheCallback) {
  Candidate& a = Add("hub-a");
  a.elector->Start(io_.get_executor());
  Settle();
  ASSERT_TRUE(a.elector->MaySign());
  a.client->partitioned = true;
  // No handler runs: time passes while the process is, say, stalled.
  clock_->Advance(10s);
  EXPECT_FALSE(a.elector->MaySign());
  EXPECT_EQ(a.stopped, 0);
  Settle();
  EXPECT_EQ(a.stopped, 1);
}

TEST_F(LeaderElectionTest, ReleaseOnStopLetsAFollowerTakeOverAtItsNextRetry) {
  Candidate& a = Add("hub-a");
  Candidate& b = Add("hub-b");
  a.elector->Start(io_.get_executor());
  Settle();
  b.elector->Start(io_.get_executor());
  Run(3s);
  ASSERT_TRUE(a.elector->IsLeader());
  bool done = false;
  a.elector->Stop([&] { done = true; });
  Settle();
  EXPECT_TRUE(done);
  EXPECT_EQ(a.stopped, 1);
  EXPECT_THAT(a.stop_reason, HasSubstr("shutting down"));
  EXPECT_EQ(LeaseSpec().at("holderIdentity"), "");
  const auto released_at = clock_->Now();
  Run(3s);
  ASSERT_EQ(b.started, 1);
  EXPECT_LE(*b.started_at - released_at, 2s + 100ms) << "no wait for the lease to expire";
  EXPECT_EQ(LeaseSpec().at("leaseTransitions"), 1);
}

TEST_F(LeaderElectionTest, WithoutReleaseAFollowerWaitsForTheLeaseToExpire) {
  Candidate& a = Add("hub-a", /*release_on_stop=*/false);
  Candidate& b = Add("hub-b");
  a.elector->Start(io_.get_executor());
  Settle();
  b.elector->Start(io_.get_executor());
  Run(3s);
  a.elector->Stop();
  Settle();
  EXPECT_EQ(LeaseSpec().at("holderIdentity"), "hub-a");
  const auto stopped_at = clock_->Now();
  Run(20s);
  ASSERT_EQ(b.started, 1);
  EXPECT_GE(*b.started_at - stopped_at, 15s - 2s);
}

TEST_F(LeaderElectionTest, ALeaseTakenByAnotherWriterEndsLeadershipWithinTheRenewDeadline) {
  Candidate& a = Add("hub-a");
  a.elector->Start(io_.get_executor());
  Settle();
  ASSERT_TRUE(a.elector->IsLeader());
  // Somebody else (kubectl, a replica with a skewed view) writes itself in.
  auto got = RunTaskOn(fake_->Get(kLease));
  json::object lease = got->body.as_object();
  lease["spec"].as_object()["holderIdentity"] = "intruder";
  ASSERT_TRUE(RunTaskOn(fake_->Update(kLease, lease))->ok());
  const auto taken_at = clock_->Now();
  Run(12s);
  EXPECT_EQ(a.stopped, 1);
  EXPECT_LE(*a.stopped_at - taken_at, 10s);
  EXPECT_EQ(a.elector->ObservedHolder(), "intruder");
}

// Three candidates started in the same instant read the same resourceVersion and race their writes; with random
// API errors on top, leadership moves around, but at no step may two replicas sign.
TEST_F(LeaderElectionTest, ConflictingWritesNeverProduceTwoLeaders) {
  for (const char* name : {"hub-a", "hub-b", "hub-c"}) Add(name);
  for (auto& c : candidates_) c->elector->Start(io_.get_executor());
  Settle();
  int leaders = 0, conflicts = 0;
  for (auto& c : candidates_) {
    leaders += c->elector->IsLeader() ? 1 : 0;
    conflicts += c->client->conflicts;
  }
  EXPECT_EQ(leaders, 1);
  EXPECT_EQ(conflicts, 2) << "all three tried to create the Lease; two lost with 409";
  auto faults = RunTaskOn(fake_->Request("POST", "/kubesim/faults", R"({"errorRate": 0.4, "seed": 7})"));
  ASSERT_TRUE(faults.ok() && faults->ok()) << (faults.ok() ? faults->Describe() : faults.error().message);
  Run(300s);  // (asserts at every step)
  int transitions = 0;
  for (auto& c : candidates_) transitions += c->started;
  EXPECT_GE(transitions, 2) << "the error rate should have moved leadership at least once";
}

}  // namespace
}  // namespace vmesh::kube
