#include "hub/controller/root_rotation.h"

namespace vmesh::hub {

PhaseTrust TrustOf(RootRotationPhase phase) {
  switch (phase) {
    case api::v1::TRUST_BOTH:
      return {.sign_with_new = false, .trust_old = true, .trust_new = true};
    case api::v1::ISSUE_NEW:
      return {.sign_with_new = true, .trust_old = true, .trust_new = true};
    case api::v1::TRUST_NEW:
      return {.sign_with_new = true, .trust_old = false, .trust_new = true};
    case api::v1::ROLLBACK_ISSUE_OLD:
      return {.sign_with_new = false, .trust_old = true, .trust_new = true};
    case api::v1::ROLLBACK_TRUST_OLD:
    default:
      return {.sign_with_new = false, .trust_old = true, .trust_new = false};
  }
}

std::string PhaseName(RootRotationPhase phase) { return api::v1::RootRotationPhase_Name(phase); }

RootRotationPhase ParsePhase(const std::string& name) {
  RootRotationPhase phase = api::v1::ROOT_ROTATION_PHASE_UNSPECIFIED;
  if (!api::v1::RootRotationPhase_Parse(name, &phase)) return api::v1::ROOT_ROTATION_PHASE_UNSPECIFIED;
  return phase;
}

namespace {

std::string WaitingFor(RootRotationPhase phase, const RotationMember& m) {
  const std::string where = "mesh " + m.mesh_key + " (cluster " + (m.cluster.empty() ? "unknown" : m.cluster) + ")";
  if (!m.inactive_reason.empty()) return where + ": gets no certificate now: " + m.inactive_reason;
  const std::string agent = m.agent_connected ? "" : "; its agent is disconnected";
  if (m.directed_generation.empty()) return where + ": no certificate is directed for it yet" + agent;
  if (m.installed_generation != m.directed_generation) {
    std::string what = where + ": has not installed the intermediate for phase " + PhaseName(phase) + agent;
    if (!m.errors.empty()) what += "; agent reports: " + m.errors.front();
    return what;
  }
  std::string what = where + ": ";
  if (m.auto_restart_pods) {
    what += "restarting its workloads for certificate " + m.restart_owed_for;
  } else {
    what += "its workloads need a restart for certificate " + m.restart_owed_for +
            " (autoRestartPods is false: run `vmeshctl mesh restart " + m.mesh_key.substr(0, m.mesh_key.rfind('.')) +
            "`)";
  }
  if (!m.pending_restarts.empty()) {
    what += "; pending: " + m.pending_restarts.front();
    if (m.pending_restarts.size() > 1) what += " and " + std::to_string(m.pending_restarts.size() - 1) + " more";
  }
  return what + agent;
}

}  // namespace

RotationStep DecideRotation(RootRotationPhase phase, const std::vector<RotationMember>& members) {
  RotationStep step;
  for (const auto& m : members) {
    MemberAck ack{m.mesh_key, false, ""};
    ack.acknowledged = m.inactive_reason.empty() && !m.directed_generation.empty() &&
                       m.installed_generation == m.directed_generation && m.restart_owed_for.empty();
    if (ack.acknowledged) {
      ++step.acknowledged;
    } else {
      ack.waiting_for = WaitingFor(phase, m);
      step.waiting_for.push_back(ack.waiting_for);
    }
    step.members.push_back(std::move(ack));
  }
  if (!step.waiting_for.empty()) return step;
  switch (phase) {
    case api::v1::TRUST_BOTH:
      step.outcome = RotationOutcome::kAdvance;
      step.next = api::v1::ISSUE_NEW;
      break;
    case api::v1::ISSUE_NEW:
      step.outcome = RotationOutcome::kAdvance;
      step.next = api::v1::TRUST_NEW;
      break;
    case api::v1::TRUST_NEW:
      step.outcome = RotationOutcome::kCompleted;
      break;
    case api::v1::ROLLBACK_ISSUE_OLD:
      step.outcome = RotationOutcome::kAdvance;
      step.next = api::v1::ROLLBACK_TRUST_OLD;
      break;
    case api::v1::ROLLBACK_TRUST_OLD:
      step.outcome = RotationOutcome::kRolledBack;
      break;
    default:
      step.outcome = RotationOutcome::kHold;
      break;
  }
  return step;
}

Result<RootRotationPhase> AbortTarget(RootRotationPhase phase) {
  switch (phase) {
    case api::v1::TRUST_BOTH:
      return api::v1::ROLLBACK_TRUST_OLD;
    case api::v1::ISSUE_NEW:
      return api::v1::ROLLBACK_ISSUE_OLD;
    case api::v1::TRUST_NEW:
      return MakeError(
          "the rotation is in its last phase (TRUST_NEW: workloads are dropping the old root), so it can no longer be "
          "aborted; let it complete, then rotate again",
          ErrorCode::kConflict);
    case api::v1::ROLLBACK_ISSUE_OLD:
    case api::v1::ROLLBACK_TRUST_OLD:
      return MakeError("the rotation is already being rolled back (phase " + PhaseName(phase) + ")",
                       ErrorCode::kConflict);
    default:
      return MakeError("no root rotation is in progress", ErrorCode::kNotFound);
  }
}

}  // namespace vmesh::hub
