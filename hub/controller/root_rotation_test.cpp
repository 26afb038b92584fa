#include "hub/controller/root_rotation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vmesh::hub {
namespace {

using ::testing::HasSubstr;

constexpr RootRotationPhase kAllPhases[] = {api::v1::TRUST_BOTH, api::v1::ISSUE_NEW, api::v1::TRUST_NEW,
                                            api::v1::ROLLBACK_ISSUE_OLD, api::v1::ROLLBACK_TRUST_OLD};

RotationMember Acked(const std::string& mesh, const std::string& cluster) {
  RotationMember m;
  m.mesh_key = mesh + ".vmesh";
  m.cluster = cluster;
  m.agent_connected = true;
  m.directed_generation = "gen-" + mesh;
  m.installed_generation = "gen-" + mesh;
  return m;
}

TEST(RootRotationTest, PhasesMeanWhatTheSpecSays) {
  EXPECT_FALSE(TrustOf(api::v1::TRUST_BOTH).sign_with_new);
  EXPECT_TRUE(TrustOf(api::v1::TRUST_BOTH).trust_old && TrustOf(api::v1::TRUST_BOTH).trust_new);
  EXPECT_TRUE(TrustOf(api::v1::ISSUE_NEW).sign_with_new);
  EXPECT_TRUE(TrustOf(api::v1::ISSUE_NEW).trust_old && TrustOf(api::v1::ISSUE_NEW).trust_new);
  EXPECT_TRUE(TrustOf(api::v1::TRUST_NEW).sign_with_new);
  EXPECT_FALSE(TrustOf(api::v1::TRUST_NEW).trust_old);
  EXPECT_FALSE(TrustOf(api::v1::ROLLBACK_ISSUE_OLD).sign_with_new);
  EXPECT_TRUE(TrustOf(api::v1::ROLLBACK_ISSUE_OLD).trust_new);
  EXPECT_FALSE(TrustOf(api::v1::ROLLBACK_TRUST_OLD).trust_new);
  EXPECT_FALSE(TrustOf(api::v1::ROLLBACK_TRUST_OLD).sign_with_new);
}

// Between two consecutive phases, a workload in the earlier state and one in the later state always interoperate:
// what either presents (its signing root) is in what the other trusts. This is what makes the rotation safe.
TEST(RootRotationTest, ConsecutivePhasesInteroperate) {
  auto trusts = [](PhaseTrust t, bool signed_by_new) { return signed_by_new ? t.trust_new : t.trust_old; };
  const PhaseTrust before_rotation{.sign_with_new = false, .trust_old = true, .trust_new = false};
  const PhaseTrust after_rotation{.sign_with_new = true, .trust_old = false, .trust_new = true};
  auto check = [&](PhaseTrust a, PhaseTrust b, const std::string& what) {
    EXPECT_TRUE(trusts(a, b.sign_with_new)) << what;
    EXPECT_TRUE(trusts(b, a.sign_with_new)) << what;
  };
  // Forward.
  std::vector<PhaseTrust> forward = {before_rotation, TrustOf(api::v1::TRUST_BOTH), TrustOf(api::v1::ISSUE_NEW),
                                     TrustOf(api::v1::TRUST_NEW), after_rotation};
  for (size_t i = 0; i + 1 < forward.size(); ++i) check(forward[i], forward[i + 1], "forward " + std::to_string(i));
  // Every abort path, from where an abort is allowed, back to the old root.
  for (RootRotationPhase from : kAllPhases) {
    auto target = AbortTarget(from);
    if (!target.ok()) continue;
    std::vector<PhaseTrust> path = {TrustOf(from)};
    RootRotationPhase p = *target;
    while (true) {
      path.push_back(TrustOf(p));
      RotationStep step = DecideRotation(p, {});
      if (step.outcome != RotationOutcome::kAdvance) {
        EXPECT_EQ(step.outcome, RotationOutcome::kRolledBack) << PhaseName(p);
        break;
      }
      p = step.next;
    }
    path.push_back(before_rotation);
    for (size_t i = 0; i + 1 < path.size(); ++i) check(path[i], path[i + 1], "abort from " + PhaseName(from));
  }
}

TEST(RootRotationTest, AdvancesOnlyWhenEveryMemberAcknowledged) {
  const std::vector<RotationMember> all = {Acked("m1", "c1"), Acked("m2", "c2"), Acked("m3", "c3")};
  struct Expect {
    RootRotationPhase phase;
    RotationOutcome outcome;
    RootRotationPhase next;
  };
  for (const Expect& e : {Expect{api::v1::TRUST_BOTH, RotationOutcome::kAdvance, api::v1::ISSUE_NEW},
                          Expect{api::v1::ISSUE_NEW, RotationOutcome::kAdvance, api::v1::TRUST_NEW},
                          Expect{api::v1::TRUST_NEW, RotationOutcome::kCompleted, {}},
                          Expect{api::v1::ROLLBACK_ISSUE_OLD, RotationOutcome::kAdvance, api::v1::ROLLBACK_TRUST_OLD},
                          Expect{api::v1::ROLLBACK_TRUST_OLD, RotationOutcome::kRolledBack, {}}}) {
    RotationStep step = DecideRotation(e.phase, all);
    EXPECT_EQ(step.outcome, e.outcome) << PhaseName(e.phase);
    if (e.outcome == RotationOutcome::kAdvance) EXPECT_EQ(step.next, e.next) << PhaseName(e.phase);
    EXPECT_EQ(step.acknowledged, 3);
    EXPECT_TRUE(step.waiting_for.empty());

    // Any one member not acknowledging, for any reason, holds every phase and is named.
    for (size_t i = 0; i < all.size(); ++i) {
      for (int reason = 0; reason < 5; ++reason) {
        std::vector<RotationMember> members = all;
        RotationMember& m = members[i];
        switch (reason) {
          case 0:
            m.installed_generation = "an-earlier-one";
            break;
          case 1:
            m.installed_generation.clear();
            m.agent_connected = false;
            break;
          case 2:
            m.restart_owed_for = "0abc";
            m.pending_restarts = {"Deployment bookinfo/reviews"};
            break;
          case 3:
            m.directed_generation.clear();
            m.installed_generation.clear();
            break;
          case 4:  // e.g. a hub restarted before the agent reported its discovery again
            m.inactive_reason = "mesh " + m.mesh_key + " has not been discovered";
            break;
        }
        RotationStep held = DecideRotation(e.phase, members);
        EXPECT_EQ(held.outcome, RotationOutcome::kHold) << PhaseName(e.phase) << " reason " << reason;
        EXPECT_EQ(held.acknowledged, 2);
        ASSERT_EQ(held.waiting_for.size(), 1u);
        EXPECT_THAT(held.waiting_for[0], HasSubstr("mesh " + m.mesh_key + " (cluster " + m.cluster + ")"));
        EXPECT_FALSE(held.members[i].acknowledged);
        EXPECT_EQ(held.members[i].waiting_for, held.waiting_for[0]);
      }
    }
  }
}

TEST(RootRotationTest, WaitingReasonsSayWhatIsMissing) {
  RotationMember m = Acked("istiod-istio-system-cluster-2", "cluster-2");
  m.installed_generation = "old";
  m.agent_connected = false;
  m.errors = {"boom"};
  auto step = DecideRotation(api::v1::ISSUE_NEW, {m});
  EXPECT_THAT(step.waiting_for[0], HasSubstr("has not installed the intermediate for phase ISSUE_NEW"));
  EXPECT_THAT(step.waiting_for[0], HasSubstr("agent is disconnected"));
  EXPECT_THAT(step.waiting_for[0], HasSubstr("agent reports: boom"));

  m = Acked("istiod-istio-system-cluster-2", "cluster-2");
  m.restart_owed_for = "0abc";
  m.auto_restart_pods = false;
  step = DecideRotation(api::v1::TRUST_BOTH, {m});
  EXPECT_THAT(step.waiting_for[0], HasSubstr("vmeshctl mesh restart istiod-istio-system-cluster-2"));
}

TEST(RootRotationTest, AnUndiscoveredMemberHoldsThePhase) {
  RotationMember m = Acked("istiod-istio-system-cluster-3", "");
  m.inactive_reason = "not discovered yet";
  auto step = DecideRotation(api::v1::TRUST_NEW, {Acked("a", "c1"), m});
  EXPECT_EQ(step.outcome, RotationOutcome::kHold);
  EXPECT_THAT(step.waiting_for[0], HasSubstr("(cluster unknown): gets no certificate now: not discovered yet"));
}

TEST(RootRotationTest, NoMembersMeansNothingToWaitFor) {
  EXPECT_EQ(DecideRotation(api::v1::TRUST_BOTH, {}).outcome, RotationOutcome::kAdvance);
  EXPECT_EQ(DecideRotation(api::v1::ROOT_ROTATION_PHASE_UNSPECIFIED, {}).outcome, RotationOutcome::kHold);
}

TEST(RootRotationTest, AbortIsPossibleOnlyBeforeTheLastPhase) {
  EXPECT_EQ(*AbortTarget(api::v1::TRUST_BOTH), api::v1::ROLLBACK_TRUST_OLD);
  EXPECT_EQ(*AbortTarget(api::v1::ISSUE_NEW), api::v1::ROLLBACK_ISSUE_OLD);
  auto last = AbortTarget(api::v1::TRUST_NEW);
  ASSERT_FALSE(last.ok());
  EXPECT_THAT(last.error().message, HasSubstr("last phase"));
  EXPECT_EQ(last.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(AbortTarget(api::v1::ROLLBACK_ISSUE_OLD).ok());
  EXPECT_FALSE(AbortTarget(api::v1::ROLLBACK_TRUST_OLD).ok());
  EXPECT_EQ(AbortTarget(api::v1::ROOT_ROTATION_PHASE_UNSPECIFIED).error().code, ErrorCode::kNotFound);
}

TEST(RootRotationTest, PhaseNamesRoundTrip) {
  for (RootRotationPhase p : kAllPhases) EXPECT_EQ(ParsePhase(PhaseName(p)), p);
  EXPECT_EQ(ParsePhase("nonsense"), api::v1::ROOT_ROTATION_PHASE_UNSPECIFIED);
}

}  // namespace
}  // namespace vmesh::hub
