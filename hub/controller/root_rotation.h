// Root rotation of a VirtualMesh (SPEC §5.5) as a pure state machine over facts.
//
// A rotation replaces a VirtualMesh's root R_old by R_new without any pair of workloads ever failing mTLS. It runs
// in phases; each holds until every member mesh acknowledged it, i.e. its agent installed the intermediate the hub
// directs for the phase (reported installed_generation == the phase's directive generation) and finished the
// ordered restart that installation owed (restart_owed_for == "").
//
//   TRUST_BOTH   bundle R_old+R_new, intermediates from R_old  (every workload comes to trust both roots)
//   ISSUE_NEW    bundle R_old+R_new, intermediates from R_new  (every workload comes to present an R_new chain)
//   TRUST_NEW    bundle R_new,       intermediates from R_new  (every workload stops trusting R_old)
//   -> completed: R_new becomes the VirtualMesh's root.
//
// Abort rule: possible before the last phase. From TRUST_BOTH the rotation rolls back through ROLLBACK_TRUST_OLD;
// from ISSUE_NEW through ROLLBACK_ISSUE_OLD (intermediates from R_old again, bundle still both) then
// ROLLBACK_TRUST_OLD (bundle R_old) -> rolled back: R_old stays, R_new is dropped. In TRUST_NEW some workloads may
// already have dropped R_old, so going back would need a rotation of its own: abort is refused (start a new
// rotation once this one completed).
//
// Why no pair fails: a phase starts only when every workload is in the state the previous phase established, and
// within a phase workloads move one at a time between two states that interoperate (trusting {old} or {old,new}
// while all present old chains; presenting old or new chains while all trust both; trusting {old,new} or {new}
// while all present new chains).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "vmesh/api/v1/common.pb.h"

namespace vmesh::hub {

using api::v1::RootRotationPhase;

// What a phase means for certificates.
struct PhaseTrust {
  bool sign_with_new = false;  // intermediates are signed by the new root
  bool trust_old = true;       // the trust bundle holds the old root
  bool trust_new = false;      // the trust bundle holds the new root
};
PhaseTrust TrustOf(RootRotationPhase phase);

// Name as stored and shown ("TRUST_BOTH", ...); ParsePhase is its inverse (UNSPECIFIED for anything else).
std::string PhaseName(RootRotationPhase phase);
RootRotationPhase ParsePhase(const std::string& name);

// What the hub knows of one member mesh during the phase. Members are the meshes the VirtualMesh claims, discovered
// or not: a hub restarted mid-phase that has not heard from an agent yet must hold the phase, not advance it.
struct RotationMember {
  std::string mesh_key;  // "<mesh>.<namespace>"
  std::string cluster;   // "" when not known (not discovered)
  // Why the mesh gets no certificate now (not discovered, INVALID for this VirtualMesh), "" when it is active.
  std::string inactive_reason;
  bool agent_connected = false;
  std::string directed_generation;   // the CertificateDirective generation of the phase
  std::string installed_generation;  // what its agent reported installed ("" when none / no report)
  std::string restart_owed_for;      // the serial a restart is still owed for ("" when none)
  std::vector<std::string> pending_restarts;
  bool auto_restart_pods = true;
  std::vector<std::string> errors;  // the agent's errors for the mesh
};

enum class RotationOutcome {
  kHold,        // some member has not acknowledged the phase
  kAdvance,     // every member acknowledged: go to `next`
  kCompleted,   // the last forward phase is acknowledged: the new root is the VirtualMesh's root
  kRolledBack,  // the last rollback phase is acknowledged: the old root stays, the new one is dropped
};

struct MemberAck {
  std::string mesh_key;
  bool acknowledged = false;
  std::string waiting_for;  // empty when acknowledged
};

struct RotationStep {
  RotationOutcome outcome = RotationOutcome::kHold;
  RootRotationPhase next = api::v1::ROOT_ROTATION_PHASE_UNSPECIFIED;  // with kAdvance
  std::vector<MemberAck> members;                                     // in the order given
  std::vector<std::string> waiting_for;  // one line per member not acknowledged, naming mesh and cluster
  int acknowledged = 0;
};

// The decision for a rotation in `phase` (not UNSPECIFIED) with these members. With no members every phase is
// trivially acknowledged.
RotationStep DecideRotation(RootRotationPhase phase, const std::vector<RotationMember>& members);

// The phase an abort moves to, or why it is refused (the last phase; already rolling back; no rotation).
Result<RootRotationPhase> AbortTarget(RootRotationPhase phase);

}  // namespace vmesh::hub
