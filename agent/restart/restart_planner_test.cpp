#include "agent/restart/restart_planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace vmesh::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

WorkloadState W(WorkloadRole role, const std::string& name) {
  return WorkloadState{role, "Deployment", role == WorkloadRole::kWorkload ? "bookinfo" : "istio-system", name};
}

std::vector<std::string> Ids(const RestartDecision& d) {
  std::vector<std::string> out;
  for (const auto& w : d.restart_now) out.push_back(w.name);
  return out;
}

// A fake cluster: a patch marks the workload restarted with its rollout in progress; Tick completes rollouts.
struct Cluster {
  RestartInput in;
  std::vector<std::string> restart_log;

  void Apply(const RestartDecision& d) {
    for (const auto& r : d.restart_now) {
      for (auto& w : in.workloads) {
        if (w.Id() == r.Id()) {
          ASSERT_NE(w.restarted_for, in.certificate_serial) << "restarted twice: " << w.Id();
          w.restarted_for = in.certificate_serial;
          w.rollout_complete = false;
          restart_log.push_back(w.name);
        }
      }
    }
  }
  void Tick() {
    for (auto& w : in.workloads) w.rollout_complete = true;
  }
};

RestartInput Mesh() {
  RestartInput in;
  in.certificate_serial = "serial-1";
  in.max_concurrent = 2;
  in.workloads = {W(WorkloadRole::kWorkload, "reviews"),
                  W(WorkloadRole::kGateway, "istio-eastwestgateway"),
                  W(WorkloadRole::kWorkload, "productpage"),
                  W(WorkloadRole::kIstiod, "istiod"),
                  W(WorkloadRole::kGateway, "istio-ingressgateway"),
                  W(WorkloadRole::kWorkload, "ratings"),
                  W(WorkloadRole::kWorkload, "details")};
  return in;
}

TEST(RestartPlanner, IstiodThenRootThenGatewaysThenWorkloadsEachRolloutCompleteFirst) {
  Cluster c{Mesh()};
  auto d = DecideRestarts(c.in);
  EXPECT_EQ(d.phase, RestartPhase::kIstiod);
  EXPECT_THAT(Ids(d), ElementsAre("istiod"));
  c.Apply(d);
  d = DecideRestarts(c.in);
  EXPECT_THAT(Ids(d), IsEmpty()) << "wait for istiod's rollout";
  EXPECT_THAT(d.waiting_for, HasSubstr("rollout of istiod"));
  c.Tick();
  d = DecideRestarts(c.in);
  EXPECT_EQ(d.phase, RestartPhase::kWaitForRoot);
  EXPECT_THAT(Ids(d), IsEmpty());
  c.in.root_config_maps_current = true;
  d = DecideRestarts(c.in);
  EXPECT_EQ(d.phase, RestartPhase::kGateways);
  EXPECT_THAT(Ids(d), ElementsAre("istio-eastwestgateway", "istio-ingressgateway"));
  c.Apply(d);
  EXPECT_THAT(Ids(DecideRestarts(c.in)), IsEmpty()) << "workloads wait for the gateways";
  c.Tick();
  d = DecideRestarts(c.in);
  EXPECT_EQ(d.phase, RestartPhase::kWorkloads);
  EXPECT_THAT(Ids(d), ElementsAre("details", "productpage")) << "bounded: 2 at a time, stable order";
  c.Apply(d);
  c.Tick();
  d = DecideRestarts(c.in);
  EXPECT_THAT(Ids(d), ElementsAre("ratings", "reviews"));
  c.Apply(d);
  c.Tick();
  d = DecideRestarts(c.in);
  EXPECT_EQ(d.phase, RestartPhase::kDone);
  EXPECT_EQ(d.done, 7);
  EXPECT_EQ(d.total, 7);
  EXPECT_THAT(c.restart_log, ElementsAre("istiod", "istio-eastwestgateway", "istio-ingressgateway", "details",
                                         "productpage", "ratings", "reviews"));
}

TEST(RestartPlanner, ConcurrencyCountsRolloutsStillInProgress) {
  Cluster c{Mesh()};
  for (auto& w : c.in.workloads) {
    if (w.role != WorkloadRole::kWorkload) w.restarted_for = "serial-1";
  }
  c.in.root_config_maps_current = true;
  auto d = DecideRestarts(c.in);
  c.Apply(d);
  // One of the two finishes: exactly one more may start.
  for (auto& w : c.in.workloads) {
    if (w.name == "details") w.rollout_complete = true;
  }
  EXPECT_THAT(Ids(DecideRestarts(c.in)), ElementsAre("ratings"));
}

TEST(RestartPlanner, AnAgentRestartedMidwayResumesAndNeverRestartsTwice) {
  Cluster c{Mesh()};
  c.in.root_config_maps_current = true;
  for (int i = 0; i < 3; ++i) {
    c.Apply(DecideRestarts(c.in));
    c.Tick();
  }
  // A new agent sees only the cluster: it continues from there.
  RestartInput fresh = c.in;
  Cluster resumed{fresh};
  while (DecideRestarts(resumed.in).phase != RestartPhase::kDone) {
    resumed.Apply(DecideRestarts(resumed.in));
    resumed.Tick();
  }
  EXPECT_EQ(c.restart_log.size() + resumed.restart_log.size(), 7u);
  // Done means done: the same certificate never triggers anything again.
  EXPECT_THAT(Ids(DecideRestarts(resumed.in)), IsEmpty());
}

TEST(RestartPlanner, ANewCertificateStartsOverAndAnEmptyMeshIsDone) {
  Cluster c{Mesh()};
  for (auto& w : c.in.workloads) w.restarted_for = "serial-1";
  c.in.root_config_maps_current = true;
  EXPECT_EQ(DecideRestarts(c.in).phase, RestartPhase::kDone);
  c.in.certificate_serial = "serial-2";
  c.in.root_config_maps_current = false;
  EXPECT_THAT(Ids(DecideRestarts(c.in)), ElementsAre("istiod"));
  EXPECT_EQ(DecideRestarts(RestartInput{"s", {}, true, 3}).phase, RestartPhase::kDone);
}

}  // namespace
}  // namespace vmesh::agent
