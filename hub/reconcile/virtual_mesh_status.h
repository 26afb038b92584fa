// SPEC §4: the status of every VirtualMesh, computed from intent, discovery and agent reports.
//
// A pure function of its input (no I/O, no clock): the hub's reconciler gathers the input, calls
// ComputeStatuses whenever any part changes, and writes a status only when it differs (level-based). The
// same input always yields the same output, whatever the order of the input lists.
//
// Rules, in the order they are applied:
//  1. Whole VirtualMesh INVALID: structural errors (validation.h), a mesh ref naming a mesh of a deregistered
//     cluster, a root secret that is missing or malformed, a switch from shared to limited trust (below). Errors go to
//     status.errors and every member mesh is INVALID too. A whole-INVALID VirtualMesh keeps running the spec of its
//     last accepted generation ("last good config wins"), and keeps the meshes of that spec: a typo never hands a
//     mesh over to another VirtualMesh.
//  2. Ownership: VirtualMeshes are ordered by creation time, then namespace/name (never by anything that can
//     invert); each claims the meshes of its effective spec that no earlier one claimed. A mesh claimed
//     earlier is INVALID in the later VirtualMesh only, naming the owner.
//  3. A mesh no agent has reported is PENDING, naming it.
//  4. Per-mesh INVALID: hostnameSuffix other than "global" on a mesh (a receiver of federated hosts) without
//     smart DNS proxying; federation that needs an east-west gateway (two or more meshes, not flatNetwork)
//     on a mesh that has none; under limited trust (where flatNetwork does not apply) an egress gateway as well.
//  5. FAILED when the mesh's agent reported an error; PENDING while its agent is disconnected or its
//     certificate is not installed yet; otherwise ACCEPTED.
// Switching trust models (SPEC §8): limited -> shared is the normal shared-trust adoption (intermediates, cacerts,
// ordered restarts per autoRestartPods). shared -> limited is refused while the last accepted generation had shared
// trust: every mesh then holds a vmesh intermediate in cacerts that limited trust would stop renewing (istiod stops
// issuing when it expires), so the last good (shared) configuration keeps running and renewing, and the error names
// spec.mtlsConfig.limited and what to do.
// Overall state: INVALID when the whole object is; otherwise ACCEPTED only when every mesh is; otherwise
// FAILED if any mesh failed, else INVALID if any mesh is invalid, else PENDING.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace vmesh::hub {

// What an agent last reported for one mesh.
struct MeshReport {
  api::v1::CertificateStatus certificate;
  // Failures to apply outputs or install the certificate, in the agent's words.
  std::vector<std::string> errors;
  std::uint32_t federated_destinations = 0;
  std::uint32_t applied_outputs = 0;
  std::vector<std::string> pending_restarts;
  // The certificate directive generation the installed intermediate answers ("" when none).
  std::string installed_generation;
  // The certificate serial a restart of the mesh's workloads is still owed for ("" when none).
  std::string restart_owed_for;
  // Limited trust: the mesh's gateway certificates, and per role the GatewayCertificateDirective generation the
  // installed one answers.
  std::vector<api::v1::GatewayCertificateStatus> gateway_certificates;
  std::map<std::string, std::string> gateway_installed_generations;
  std::optional<google::protobuf::Timestamp> last_report_time;
};

struct VirtualMeshInput {
  // metadata.creationTimestamp (RFC 3339, UTC) and metadata.generation must be set.
  api::v1::VirtualMesh current;
  // The spec of the last generation that was not INVALID as a whole, and that generation.
  std::optional<api::v1::VirtualMeshSpec> last_good_spec;
  std::int64_t last_good_generation = 0;
  // When the spec names a root secret: what is wrong with it (missing, malformed), or nullopt if it is fine.
  std::optional<std::string> root_secret_problem;
};

struct StatusInput {
  std::vector<VirtualMeshInput> virtual_meshes;
  // Discovered meshes by key "<name>.<namespace>".
  std::map<std::string, api::v1::Mesh> meshes;
  std::set<std::string> deregistered_clusters;
  std::set<std::string> connected_clusters;
  // Agent reports by mesh key.
  std::map<std::string, MeshReport> reports;
};

struct VirtualMeshResult {
  // "<namespace>/<name>".
  std::string key;
  api::v1::VirtualMeshStatus status;
  bool whole_invalid = false;
  // The spec agents should run: the current one if it is not INVALID as a whole, else the last good one.
  std::optional<api::v1::VirtualMeshSpec> effective_spec;
  // Meshes this VirtualMesh owns (keys), and the subset that is ready to act on (discovered, not INVALID):
  // those get certificates and outputs.
  std::vector<std::string> claimed_meshes;
  std::vector<std::string> active_meshes;
};

// "<name>.<namespace>", with an empty ref namespace standing for `default_namespace`.
std::string MeshKey(const api::v1::ObjectRef& ref, const std::string& default_namespace);

// One result per input VirtualMesh, in input order.
std::vector<VirtualMeshResult> ComputeStatuses(const StatusInput& input);

// ACCEPTED when every mesh is, else FAILED if any is, else INVALID if any is, else PENDING.
api::v1::ApprovalState OverallState(const api::v1::VirtualMeshStatus& status);

// "<accepted>/<meshes> accepted" over status.meshes, e.g. "2/3 accepted": status.meshSummary, the MESHES column of
// `kubectl get virtualmeshes`.
std::string MeshSummary(const api::v1::VirtualMeshStatus& status);

// Sets status.state (OverallState) and status.meshSummary from the per-mesh statuses: call it after changing any.
void Summarize(api::v1::VirtualMeshStatus& status);

}  // namespace vmesh::hub
