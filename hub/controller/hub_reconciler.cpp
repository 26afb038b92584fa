#include "hub/controller/hub_reconciler.h"

#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/api/secret.h"
#include "common/base/resource_names.h"
#include "common/pki/certificate.h"

namespace vmesh::hub {

HubReconciler::HubReconciler(Store& store, ObjectService& objects, CaService& ca, std::string hub_namespace)
    : store_(store), objects_(objects), ca_(ca), facts_(std::move(hub_namespace)) {}

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
             "): replacing a root is a root rotation, which this hub does not perform yet";
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
      auto loaded = ca_.LoadRoot(key);
      if (!loaded.ok()) return loaded.error();
      state.roots[key] = {loaded->trust_bundle_pem, loaded->signer.certificate().Fingerprint()};
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
  validator_.Check(desired.resources);
  desired.revalidated_clusters = validator_.TakeChanged();
  // Restart directives go with the cluster's other resources until its agent holds them.
  std::map<std::string, std::map<std::string, std::string>> restarts_directed;
  for (auto& [cluster, directives] : restarts) {
    auto& resources = desired.resources[cluster];
    for (auto& r : directives) {
      restarts_directed[cluster][r.name()] = r.version();
      resources.push_back(std::move(r));
    }
    std::sort(resources.begin(), resources.end(),
              [](const link::v1::Resource& a, const link::v1::Resource& b) { return a.name() < b.name(); });
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
