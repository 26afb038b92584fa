#include "hub/controller/hub_reconciler.h"

#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/api/secret.h"
#include "common/base/resource_names.h"
#include "common/base/time.h"
#include "common/pki/certificate.h"
#include "common/pki/openssl_util.h"
#include "common/pki/secure_string.h"
#include "hub/controller/root_rotation.h"

namespace vmesh::hub {

HubReconciler::HubReconciler(Store& store, ObjectService& objects, CaService& ca, std::string hub_namespace,
                             std::function<TimePoint()> clock)
    : store_(store), objects_(objects), ca_(ca), clock_(std::move(clock)), facts_(std::move(hub_namespace)) {}

void HubReconciler::SetDiscovery(const std::string& cluster, std::vector<api::v1::Mesh> meshes,
                                 std::vector<api::v1::Destination> destinations) {
  facts_.SetDiscovery(cluster, std::move(meshes), std::move(destinations));
}

void HubReconciler::SetConnected(const std::string& cluster, bool connected) {
  facts_.SetConnected(cluster, connected);
}

void HubReconciler::SetDeregistered(const std::string& cluster, bool deregistered) {
  facts_.SetDeregistered(cluster, deregistered);
}

namespace {

// Outputs held back because they do not validate against their cluster's schemas make the mesh of their
// VirtualMesh in that cluster FAILED, with the validator's message (SPEC §4 FAILED: the spec is valid, writing an
// output failed). An output without a member mesh in its cluster is reported on the VirtualMesh as a whole.
void ReportRejectedOutputs(const std::map<std::string, std::vector<RejectedOutput>>& rejected, const HubState& state,
                           std::vector<VirtualMeshResult>& statuses) {
  for (const auto& [cluster, list] : rejected) {
    for (const RejectedOutput& r : list) {
      for (auto& result : statuses) {
        if (result.key != r.virtual_mesh) continue;
        api::v1::ApprovalStatus* target = nullptr;
        for (const auto& key : result.active_meshes) {
          auto mesh = state.status.meshes.find(key);
          if (mesh == state.status.meshes.end() || mesh->second.spec().cluster() != cluster) continue;
          auto status = result.status.mutable_meshes()->find(key);
          if (status != result.status.mutable_meshes()->end()) target = &status->second;
          break;
        }
        if (target != nullptr) {
          target->set_state(api::v1::FAILED);
          target->add_errors(r.message);
          Summarize(result.status);
        } else {
          result.status.add_errors(r.message);
          result.status.set_state(api::v1::FAILED);
        }
      }
    }
  }
}

}  // namespace

void HubReconciler::SetReport(const std::string& mesh_key, MeshReport report) {
  facts_.SetReport(mesh_key, std::move(report));
}

Status HubReconciler::CheckRootSecret(const std::string& key, VirtualMeshInput& in, SecretRoots* secret_roots) const {
  const auto& ref = in.current.spec().mtls_config().shared().root_certificate_authority().secret();
  const std::string ns = ref.namespace_().empty() ? in.current.metadata().namespace_() : ref.namespace_();
  const std::string id = "secret " + ns + "/" + ref.name();
  auto root = store_.GetRootCa(key);
  if (!root.ok()) return root.error();
  auto secret = objects_.GetSecretData(ns, ref.name());
  std::optional<std::string> problem;
  if (!secret.ok()) {
    problem = id + " cannot be read: " + secret.error().message;
  } else if (!secret->has_value()) {
    problem = id + " does not exist: create it with `vmeshctl create root-secret " + ref.name() +
              " --root-cert FILE --key FILE -n " + ns + "`";
  } else if (auto errors = api::ValidateRootCaSecret(**secret); !errors.empty()) {
    std::string what;
    for (const auto& e : errors) what += (what.empty() ? "" : "; ") + (e.path.empty() ? "" : e.path + ": ") + e.message;
    problem = id + " is not a valid root CA secret: " + what;
  }

  if (!root->has_value()) {
    if (problem) {
      in.root_secret_problem = *problem;
    } else {
      secret_roots->importable[key] = **secret;
    }
    return OkStatus();
  }
  // The VirtualMesh already has its root: it stays, whatever became of the Secret.
  std::string note;
  if (problem) {
    note = *problem + "; the root CA already in use stays";
  } else {
    auto stored = pki::Certificate::FromPem((*root)->certificate_pem);
    auto given = pki::Certificate::FromPem(*api::SecretValue(**secret, api::kRootCertKey));
    if (stored.ok() && given.ok() && stored->Fingerprint() != given->Fingerprint()) {
      note = id + " now holds a different root-cert.pem (subject " + given->subject() +
             "); the VirtualMesh keeps its root CA (subject " + stored->subject() + ", serial " + stored->serial_hex() +
             ") until a root rotation to it completes";
      auto rotation = store_.GetRootRotation(key);
      if (!rotation.ok()) return rotation.error();
      auto declined = store_.GetSetting(DeclinedRotationSetting(key, given->Fingerprint()));
      if (!declined.ok()) return declined.error();
      const std::string command =
          "`vmeshctl rotate root " + in.current.metadata().name() + " -n " + in.current.metadata().namespace_() + "`";
      if (rotation->has_value()) {
        auto next = pki::Certificate::FromPem((*rotation)->next.certificate_pem);
        if (!next.ok() || next->Fingerprint() != given->Fingerprint()) {
          note += "; another root rotation is in progress (phase " + (*rotation)->phase +
                  "): the rotation to this root starts when it has ended";
        } else {
          note.clear();  // status.rootRotation tells
        }
      } else if (declined->has_value()) {
        note += "; a rotation to it was aborted, so it is not started again by itself: " + command + " starts one";
      } else {
        secret_roots->rotatable[key] = id;
        note.clear();  // Reconcile() starts the rotation; status.rootRotation tells
      }
    }
  }
  if (!note.empty())
    secret_roots->notes[key].push_back("spec.mtlsConfig.shared.rootCertificateAuthority.secret: " + note);
  return OkStatus();
}

Result<HubState> HubReconciler::Gather(SecretRoots* secret_roots, AgentFacts::Snapshot facts) const {
  HubState state;
  auto rows = store_.ListObjects("VirtualMesh");
  if (!rows.ok()) return rows.error();
  for (const auto& row : *rows) {
    VirtualMeshInput in;
    if (!in.current.ParseFromString(row.body)) return MakeError("stored VirtualMesh " + row.name + " is corrupt");
    if (!row.status.empty()) in.current.mutable_status()->ParseFromString(row.status);
    if (row.last_good) {
      api::v1::VirtualMeshSpec spec;
      if (spec.ParseFromString(*row.last_good)) in.last_good_spec = spec;
      in.last_good_generation = row.last_good_generation;
    }
    const std::string key = ObjectKey(row.ns, row.name);
    if (in.current.spec().mtls_config().shared().root_certificate_authority().has_secret()) {
      if (Status s = CheckRootSecret(key, in, secret_roots); !s.ok()) return s.error();
    }
    auto root = store_.GetRootCa(key);
    if (!root.ok()) return root.error();
    if (root->has_value()) {
      if (Status s = LoadRoots(key, state, secret_roots->rotations); !s.ok()) return s.error();
    }
    if (in.current.spec().mtls_config().has_limited() ||
        (in.last_good_spec && in.last_good_spec->mtls_config().has_limited())) {
      auto gateway_ca = store_.GetRootCa(GatewayCaKey(key));
      if (!gateway_ca.ok()) return gateway_ca.error();
      if (gateway_ca->has_value()) {
        auto ca = ca_.LoadGatewayCa(key);
        if (!ca.ok()) return ca.error().Wrap("gateway CA of VirtualMesh " + key);
        state.gateway_cas[key] = {ca->trust_bundle_pem, ca->signer.certificate().Fingerprint()};
      }
    }
    state.status.virtual_meshes.push_back(std::move(in));
  }
  auto policies = objects_.ListAccessPolicies();
  if (!policies.ok()) return policies.error();
  state.access_policies = std::move(*policies);
  state.status.meshes = std::move(facts.meshes);
  state.destinations = std::move(facts.destinations);
  state.status.connected_clusters = std::move(facts.connected);
  state.status.deregistered_clusters = std::move(facts.deregistered);
  state.status.reports = std::move(facts.reports);
  return state;
}

std::string DeclinedRotationSetting(const std::string& virtual_mesh, const std::string& root_fingerprint) {
  auto hash = pki::Sha256Hex(virtual_mesh);
  return "rotation-declined." + (hash.ok() ? hash->substr(0, 16) : std::string("0")) + "." +
         root_fingerprint.substr(0, 32);
}

Status HubReconciler::LoadRoots(const std::string& key, HubState& state,
                                std::map<std::string, RootsInForce>& rotations) const {
  auto loaded = ca_.LoadRootsInForce(key);
  if (!loaded.ok()) return loaded.error();
  state.roots[key] = {loaded->signing.trust_bundle_pem, loaded->signing.signer.certificate().Fingerprint(),
                      loaded->bundle_tag};
  if (loaded->rotation) {
    rotations.insert_or_assign(key, std::move(*loaded));
  } else {
    rotations.erase(key);
  }
  return OkStatus();
}

namespace {

google::protobuf::Timestamp ToTimestamp(TimePoint t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  return ts;
}

// The member meshes of a VirtualMesh in a rotation, with what the hub directs and what their agents reported.
std::vector<RotationMember> RotationMembers(const DesiredState& desired, const HubState& state,
                                            const VirtualMeshResult& result) {
  std::vector<RotationMember> members;
  const bool auto_restart = result.effective_spec && result.effective_spec->mtls_config().auto_restart_pods();
  const std::set<std::string> active(result.active_meshes.begin(), result.active_meshes.end());
  for (const auto& key : result.claimed_meshes) {
    RotationMember m;
    m.mesh_key = key;
    auto mesh = state.status.meshes.find(key);
    if (mesh == state.status.meshes.end() || !active.count(key)) {
      if (mesh != state.status.meshes.end()) m.cluster = mesh->second.spec().cluster();
      auto status = result.status.meshes().find(key);
      m.inactive_reason = status != result.status.meshes().end() && status->second.errors_size() > 0
                              ? status->second.errors(0)
                              : "mesh " + key + " has not been discovered";
      members.push_back(std::move(m));
      continue;
    }
    m.cluster = mesh->second.spec().cluster();
    m.agent_connected = state.status.connected_clusters.count(m.cluster) > 0;
    m.auto_restart_pods = auto_restart;
    if (auto resources = desired.resources.find(m.cluster); resources != desired.resources.end()) {
      const std::string name = CertResourceName(mesh->second.metadata().name());
      for (const auto& r : resources->second) {
        if (r->name() == name && r->has_certificate()) m.directed_generation = r->certificate().generation();
      }
    }
    if (auto report = state.status.reports.find(key); report != state.status.reports.end()) {
      m.installed_generation = report->second.installed_generation;
      m.restart_owed_for = report->second.restart_owed_for;
      m.pending_restarts = report->second.pending_restarts;
      m.errors = report->second.errors;
    }
    members.push_back(std::move(m));
  }
  return members;
}

}  // namespace

Result<bool> HubReconciler::AdvanceRotations(const DesiredState& desired, HubState& state, SecretRoots& roots) {
  bool moved = false;
  for (const auto& result : desired.statuses) {
    auto rotation = roots.rotations.find(result.key);
    if (rotation == roots.rotations.end() || !result.effective_spec) continue;
    const std::string from = rotation->second.rotation->phase;
    const RotationStep step = DecideRotation(ParsePhase(from), RotationMembers(desired, state, result));
    Status s = OkStatus();
    switch (step.outcome) {
      case RotationOutcome::kHold:
        continue;
      case RotationOutcome::kAdvance:
        s = store_.SetRootRotationPhase(result.key, from, PhaseName(step.next), clock_());
        if (s.ok()) {
          spdlog::info("VirtualMesh {}: root rotation: every member acknowledged {}; now in phase {}", result.key, from,
                       PhaseName(step.next));
        }
        break;
      case RotationOutcome::kCompleted:
      case RotationOutcome::kRolledBack: {
        const bool completed = step.outcome == RotationOutcome::kCompleted;
        s = store_.FinishRootRotation(result.key, from, completed);
        if (s.ok()) {
          spdlog::info("VirtualMesh {}: root rotation {}: root serial {} {}", result.key,
                       completed ? "completed" : "rolled back",
                       completed ? rotation->second.next_serial : rotation->second.root_serial, "in force");
        }
        break;
      }
    }
    if (!s.ok()) return s.error().Wrap("root rotation of VirtualMesh " + result.key);
    moved = true;
    if (Status l = LoadRoots(result.key, state, roots.rotations); !l.ok()) return l.error();
  }
  return moved;
}

void HubReconciler::ReportRotations(const DesiredState& desired, const HubState& state, const SecretRoots& roots,
                                    std::vector<VirtualMeshResult>& statuses) const {
  for (auto& result : statuses) {
    auto rotation = roots.rotations.find(result.key);
    if (rotation == roots.rotations.end()) continue;
    const RootRotationRecord& record = *rotation->second.rotation;
    const RootRotationPhase phase = ParsePhase(record.phase);
    const std::vector<RotationMember> members = RotationMembers(desired, state, result);
    const RotationStep step = DecideRotation(phase, members);
    auto* out = result.status.mutable_root_rotation();
    out->set_phase(phase);
    out->set_reason(record.reason);
    *out->mutable_started_at() = ToTimestamp(record.started_at);
    *out->mutable_phase_since() = ToTimestamp(record.phase_since);
    out->set_from_root_serial(rotation->second.root_serial);
    out->set_to_root_serial(rotation->second.next_serial);
    out->set_progress(std::to_string(step.acknowledged) + "/" + std::to_string(members.size()));
    for (const auto& w : step.waiting_for) out->add_waiting_for(w);
    out->set_abortable(AbortTarget(phase).ok());
    for (const auto& ack : step.members) {
      auto mesh = result.status.mutable_meshes()->find(ack.mesh_key);
      if (mesh == result.status.mutable_meshes()->end()) continue;
      auto* part = mesh->second.mutable_root_rotation();
      part->set_phase(phase);
      part->set_acknowledged(ack.acknowledged);
      part->set_waiting_for(ack.waiting_for);
    }
  }
}

Result<std::string> HubReconciler::StartRootRotation(const std::string& key, const std::string& reason) {
  const ObjectKeyParts parts = ParseObjectKey(key);
  auto row = store_.GetObject("VirtualMesh", parts.ns, parts.name);
  if (!row.ok()) return row.error();
  if (!row->has_value()) return MakeError("VirtualMesh " + key + " does not exist", ErrorCode::kNotFound);
  api::v1::VirtualMesh vm;
  if (!vm.ParseFromString((*row)->body)) return MakeError("stored VirtualMesh " + key + " is corrupt");
  api::v1::VirtualMeshSpec spec = vm.spec();
  if ((*row)->last_good) {
    api::v1::VirtualMeshSpec good;
    if (good.ParseFromString(*(*row)->last_good)) spec = good;
  }
  if (!spec.mtls_config().has_shared()) {
    return MakeError("VirtualMesh " + key + " has no shared trust (spec.mtlsConfig.shared), so no root to rotate",
                     ErrorCode::kInvalidArgument);
  }
  auto current = store_.GetRootCa(key);
  if (!current.ok()) return current.error();
  if (!current->has_value()) return MakeError("VirtualMesh " + key + " has no root CA yet", ErrorCode::kNotFound);
  auto existing = store_.GetRootRotation(key);
  if (!existing.ok()) return existing.error();
  if (existing->has_value()) {
    return MakeError("a root rotation of VirtualMesh " + key + " is in progress already (phase " + (*existing)->phase +
                         "); wait for it to finish or abort it",
                     ErrorCode::kConflict);
  }
  const auto& root_ca = spec.mtls_config().shared().root_certificate_authority();
  Result<RootCaRecord> next = MakeError("");
  std::string what;
  if (root_ca.has_secret()) {
    const std::string ns = root_ca.secret().namespace_().empty() ? parts.ns : root_ca.secret().namespace_();
    const std::string id = "secret " + ns + "/" + root_ca.secret().name();
    auto secret = objects_.GetSecretData(ns, root_ca.secret().name());
    if (!secret.ok()) return secret.error().Wrap(id);
    if (!secret->has_value()) return MakeError(id + " does not exist", ErrorCode::kNotFound);
    if (auto errors = api::ValidateRootCaSecret(**secret); !errors.empty()) {
      return MakeError(id + " is not a valid root CA secret: " + errors.front().message, ErrorCode::kInvalidArgument);
    }
    next = ca_.PrepareImportedRoot(key, *api::SecretValue(**secret, api::kRootCertKey),
                                   *api::SecretValue(**secret, api::kRootKeyKey),
                                   api::SecretValue(**secret, api::kCertChainKey).value_or(""));
    if (!next.ok()) return next.error().Wrap(id).WithDefaultCode(ErrorCode::kInvalidArgument);
    if (next->certificate_pem == (*current)->certificate_pem) {
      return MakeError(id + " holds the root VirtualMesh " + key +
                           " uses already; put the new root into it (vmeshctl create root-secret) first",
                       ErrorCode::kConflict);
    }
    what = "the root in " + id;
  } else {
    next = ca_.GenerateRotationRoot(key, root_ca.generated());
    if (!next.ok()) return next.error();
    what = "a new generated root";
  }
  auto next_cert = pki::Certificate::FromPem(next->certificate_pem);
  const TimePoint now = clock_();
  RootRotationRecord record{key, PhaseName(api::v1::TRUST_BOTH), *next, reason, now, now};
  Status s = store_.StartRootRotation(record);
  pki::Cleanse(record.next.key_pem);
  pki::Cleanse(next->key_pem);
  if (!s.ok()) return s.error();
  const std::string serial = next_cert.ok() ? next_cert->serial_hex() : "";
  spdlog::info("VirtualMesh {}: root rotation to {} (serial {}) started: phase TRUST_BOTH", key, what, serial);
  return "root rotation of VirtualMesh " + key + " to " + what + " (serial " + serial + ") started: phase TRUST_BOTH";
}

Result<std::string> HubReconciler::AbortRootRotation(const std::string& key) {
  auto existing = store_.GetRootRotation(key);
  if (!existing.ok()) return existing.error();
  if (!existing->has_value()) {
    return MakeError("no root rotation of VirtualMesh " + key + " is in progress", ErrorCode::kNotFound);
  }
  auto target = AbortTarget(ParsePhase((*existing)->phase));
  if (!target.ok()) return target.error().Wrap("VirtualMesh " + key);
  if (Status s = store_.SetRootRotationPhase(key, (*existing)->phase, PhaseName(*target), clock_()); !s.ok()) {
    return s.error();
  }
  // A rotation to a root from a Secret would start again by itself at the next reconcile: not after an abort.
  if (auto next = pki::Certificate::FromPem((*existing)->next.certificate_pem); next.ok()) {
    auto marked = store_.PutSettingIfAbsent(DeclinedRotationSetting(key, next->Fingerprint()), FormatRfc3339(clock_()));
    if (!marked.ok()) spdlog::warn("VirtualMesh {}: recording the aborted root: {}", key, marked.error().message);
  }
  spdlog::info("VirtualMesh {}: root rotation aborted in phase {}: rolling back through {}", key, (*existing)->phase,
               PhaseName(*target));
  return "root rotation of VirtualMesh " + key + " aborted in phase " + (*existing)->phase + ": rolling back (phase " +
         PhaseName(*target) + ")";
}

void HubReconciler::SetIstioSchemas(const std::string& cluster, const link::v1::IstioSchemas& schemas) {
  facts_.SetIstioSchemas(cluster, schemas);
}

Result<DesiredState> HubReconciler::Reconcile() {
  for (auto& [cluster, schemas] : facts_.TakeSchemaChanges()) {
    if (schemas) {
      validator_.SetClusterSchemas(cluster, *schemas);
    } else {
      validator_.ForgetCluster(cluster);
    }
  }
  AgentFacts::Snapshot facts = facts_.Take();
  std::map<std::string, std::vector<link::v1::Resource>> restarts = std::move(facts.restarts);
  std::set<std::string> discovered = std::move(facts.discovered);
  SecretRoots secret_roots;
  auto state = Gather(&secret_roots, std::move(facts));
  if (!state.ok()) return state.error();
  auto compute = [this](const HubState& s) {
    return incremental_on_ ? incremental_.Compute(s) : ComputeDesiredState(s);
  };
  DesiredState desired = compute(*state);
  // Roots are created (or imported from their Secret) the first time a VirtualMesh needs one, then everything is
  // computed again with it.
  if (!desired.roots_needed.empty()) {
    for (size_t i = 0; i < desired.statuses.size(); ++i) {
      const VirtualMeshResult& r = desired.statuses[i];
      if (!desired.roots_needed.count(r.key) || !r.effective_spec) continue;
      const auto& root_ca = r.effective_spec->mtls_config().shared().root_certificate_authority();
      if (root_ca.has_secret()) {
        auto secret = secret_roots.importable.find(r.key);
        if (secret == secret_roots.importable.end()) continue;  // its problem is in the status already
        const api::v1::Secret& s = secret->second;
        const std::string id = "secret " + s.metadata().namespace_() + "/" + s.metadata().name();
        auto root =
            ca_.ImportRoot(r.key, *api::SecretValue(s, api::kRootCertKey), *api::SecretValue(s, api::kRootKeyKey),
                           api::SecretValue(s, api::kCertChainKey).value_or(""));
        if (!root.ok()) {
          spdlog::warn("VirtualMesh {}: root CA from {} refused: {}", r.key, id, root.error().message);
          state->status.virtual_meshes[i].root_secret_problem = id + ": " + root.error().message;
          continue;
        }
        spdlog::info("VirtualMesh {}: root CA imported from {} (subject {}, serial {})", r.key, id,
                     root->signer.certificate().subject(), root->signer.certificate().serial_hex());
        state->roots[r.key] = {root->trust_bundle_pem, root->signer.certificate().Fingerprint()};
        continue;
      }
      auto root = ca_.EnsureGeneratedRoot(r.key, root_ca.generated());
      if (!root.ok()) return root.error().Wrap("root CA of VirtualMesh " + r.key);
      state->roots[r.key] = {root->trust_bundle_pem, root->signer.certificate().Fingerprint()};
    }
    desired = compute(*state);
  }
  // Limited trust: the gateway CA is generated the first time a VirtualMesh needs one (SPEC §8).
  if (!desired.gateway_cas_needed.empty()) {
    for (const auto& key : desired.gateway_cas_needed) {
      auto ca = ca_.EnsureGatewayCa(key);
      if (!ca.ok()) return ca.error().Wrap("gateway CA of VirtualMesh " + key);
      spdlog::info("VirtualMesh {}: gateway CA ready (subject {}, serial {})", key, ca->signer.certificate().subject(),
                   ca->signer.certificate().serial_hex());
      state->gateway_cas[key] = {ca->trust_bundle_pem, ca->signer.certificate().Fingerprint()};
    }
    desired = compute(*state);
  }
  // A root Secret that now holds another root starts a rotation to it (unless one runs, or one to it was aborted).
  if (!secret_roots.rotatable.empty()) {
    for (const auto& [key, id] : secret_roots.rotatable) {
      if (secret_roots.rotations.count(key)) continue;
      auto started = StartRootRotation(key, id + " changed");
      if (!started.ok()) {
        spdlog::warn("VirtualMesh {}: cannot start a root rotation to the root in {}: {}", key, id,
                     started.error().message);
        continue;
      }
      if (Status l = LoadRoots(key, *state, secret_roots.rotations); !l.ok()) return l.error();
    }
    desired = compute(*state);
  }
  // Root rotations move on when every member acknowledged their phase; then everything is computed again.
  for (int round = 0; round < 3; ++round) {
    auto moved = AdvanceRotations(desired, *state, secret_roots);
    if (!moved.ok()) return moved.error();
    if (!*moved) break;
    desired = compute(*state);
  }
  ReportRotations(desired, *state, secret_roots, desired.statuses);
  validator_.Check(desired.resources);
  desired.revalidated_clusters = validator_.TakeChanged();
  // Restart directives go with the cluster's other resources until its agent holds them.
  std::map<std::string, std::map<std::string, std::string>> restarts_directed;
  for (auto& [cluster, directives] : restarts) {
    auto& resources = desired.resources[cluster];
    for (auto& r : directives) {
      restarts_directed[cluster][r.name()] = r.version();
      resources.push_back(std::make_shared<const link::v1::Resource>(std::move(r)));
    }
    std::sort(resources.begin(), resources.end(),
              [](const sync::SharedResource& a, const sync::SharedResource& b) { return a->name() < b->name(); });
  }
  ReportRejectedOutputs(validator_.rejected(), *state, desired.statuses);
  for (size_t i = 0; i < desired.statuses.size(); ++i) {
    const VirtualMeshResult& r = desired.statuses[i];
    const VirtualMeshInput& in = state->status.virtual_meshes[i];
    std::optional<api::v1::VirtualMeshSpec> last_good = in.last_good_spec;
    std::int64_t last_good_gen = in.last_good_generation;
    if (!r.whole_invalid) {
      last_good = in.current.spec();
      last_good_gen = in.current.metadata().generation();
    }
    api::v1::VirtualMeshStatus status = r.status;
    if (auto notes = secret_roots.notes.find(r.key); notes != secret_roots.notes.end()) {
      for (const auto& note : notes->second) status.add_errors(note);
    }
    for (auto& [key, mesh_status] : *status.mutable_meshes()) {
      auto fed = desired.federated_destinations.find(key);
      if (fed != desired.federated_destinations.end()) mesh_status.set_federated_destinations(fed->second);
    }
    const bool changed = !google::protobuf::util::MessageDifferencer::Equals(status, in.current.status()) ||
                         last_good_gen != in.last_good_generation;
    if (!changed) continue;
    auto before = store_.GetObject("VirtualMesh", in.current.metadata().namespace_(), in.current.metadata().name());
    Status s = objects_.UpdateVirtualMeshStatus(in.current.metadata().namespace_(), in.current.metadata().name(),
                                                status, last_good, last_good_gen);
    if (!s.ok()) return s.error();
    auto after = store_.GetObject("VirtualMesh", in.current.metadata().namespace_(), in.current.metadata().name());
    if (before.ok() && after.ok() && before->has_value() && after->has_value() &&
        (*before)->resource_version != (*after)->resource_version) {
      ++status_writes_;
    }
  }
  // When exactly one incremental computation happened since the last successful reconcile, only the clusters it
  // changed (and those revalidated, or with restart directives given or delivered) may hold something new.
  const std::uint64_t computes = incremental_.full_computes() + incremental_.incremental_computes();
  if (incremental_on_ && !incremental_.last_was_full() && computes_seen_ && computes == *computes_seen_ + 1) {
    std::set<std::string> changed = incremental_.changed_clusters();
    changed.insert(desired.revalidated_clusters.begin(), desired.revalidated_clusters.end());
    std::set<std::string> with_restarts;
    for (const auto& [cluster, directives] : restarts_directed) with_restarts.insert(cluster);
    for (const auto& [cluster, directives] : restarts_directed_) with_restarts.insert(cluster);
    for (const auto& cluster : with_restarts) {
      auto now = restarts_directed.find(cluster);
      auto before = restarts_directed_.find(cluster);
      if (now == restarts_directed.end() || before == restarts_directed_.end() || now->second != before->second) {
        changed.insert(cluster);
      }
    }
    desired.changed_clusters = std::move(changed);
  }
  computes_seen_ = computes;
  restarts_directed_ = std::move(restarts_directed);
  desired.discovered_clusters = std::move(discovered);
  return desired;
}

Result<DesiredState> HubReconciler::Preview(api::v1::VirtualMesh vm, const std::string& default_namespace,
                                            const std::string& now_rfc3339) const {
  SecretRoots secret_roots;  // a preview imports nothing
  AgentFacts::Snapshot facts = facts_.Take();
  auto state = Gather(&secret_roots, std::move(facts));
  if (!state.ok()) return state.error();
  auto* meta = vm.mutable_metadata();
  if (meta->namespace_().empty()) meta->set_namespace_(default_namespace);
  vm.clear_status();
  auto& vms = state->status.virtual_meshes;
  auto same = std::find_if(vms.begin(), vms.end(), [&](const VirtualMeshInput& in) {
    return in.current.metadata().namespace_() == meta->namespace_() && in.current.metadata().name() == meta->name();
  });
  if (same != vms.end()) {
    const auto& stored = same->current.metadata();
    meta->set_creation_timestamp(stored.creation_timestamp());
    const bool spec_changed = !google::protobuf::util::MessageDifferencer::Equals(vm.spec(), same->current.spec());
    meta->set_generation(stored.generation() + (spec_changed ? 1 : 0));
    same->current = std::move(vm);
  } else {
    meta->set_creation_timestamp(now_rfc3339);
    meta->set_generation(1);
    VirtualMeshInput in;
    in.current = std::move(vm);
    vms.push_back(std::move(in));
  }
  return ComputeDesiredState(*state);
}

}  // namespace vmesh::hub
