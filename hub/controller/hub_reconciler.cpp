#include "hub/controller/hub_reconciler.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>

namespace vmesh::hub {

HubReconciler::HubReconciler(Store& store, ObjectService& objects, CaService& ca)
    : store_(store), objects_(objects), ca_(ca) {}

void HubReconciler::SetDiscovery(const std::string& cluster, std::vector<api::v1::Mesh> meshes,
                                 std::vector<api::v1::Destination> destinations) {
  meshes_by_cluster_[cluster] = std::move(meshes);
  destinations_by_cluster_[cluster] = std::move(destinations);
}

void HubReconciler::SetConnected(const std::string& cluster, bool connected) {
  if (connected) {
    connected_.insert(cluster);
  } else {
    connected_.erase(cluster);
  }
}

void HubReconciler::SetDeregistered(const std::string& cluster, bool deregistered) {
  if (!deregistered) {
    deregistered_.erase(cluster);
    return;
  }
  deregistered_.insert(cluster);
  connected_.erase(cluster);
}

void HubReconciler::SetReport(const std::string& mesh_key, MeshReport report) {
  reports_[mesh_key] = std::move(report);
}

Result<HubState> HubReconciler::Gather() const {
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
    const auto& root_ca = in.current.spec().mtls_config().shared().root_certificate_authority();
    const std::string key = row.ns + "/" + row.name;
    if (root_ca.has_secret()) {
      auto root = store_.GetRootCa(key);
      if (!root.ok()) return root.error();
      if (!root->has_value()) {
        in.root_secret_problem = "secret " +
                                 (root_ca.secret().namespace_().empty() ? row.ns : root_ca.secret().namespace_()) +
                                 "/" + root_ca.secret().name() + " has not been provided to the hub";
      }
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
  for (const auto& [cluster, meshes] : meshes_by_cluster_) {
    for (const auto& m : meshes) state.status.meshes[m.metadata().name() + "." + m.metadata().namespace_()] = m;
  }
  for (const auto& [cluster, ds] : destinations_by_cluster_) {
    state.destinations.insert(state.destinations.end(), ds.begin(), ds.end());
  }
  state.status.connected_clusters = connected_;
  state.status.deregistered_clusters = deregistered_;
  state.status.reports = reports_;
  return state;
}

Result<DesiredState> HubReconciler::Reconcile() {
  auto state = Gather();
  if (!state.ok()) return state.error();
  DesiredState desired = ComputeDesiredState(*state);
  // Roots are created the first time a VirtualMesh needs one, then everything is computed again with it.
  if (!desired.roots_needed.empty()) {
    for (size_t i = 0; i < desired.statuses.size(); ++i) {
      const VirtualMeshResult& r = desired.statuses[i];
      if (!desired.roots_needed.count(r.key) || !r.effective_spec) continue;
      const auto& root_ca = r.effective_spec->mtls_config().shared().root_certificate_authority();
      if (root_ca.has_secret()) continue;
      auto root = ca_.EnsureGeneratedRoot(r.key, root_ca.generated());
      if (!root.ok()) return root.error().Wrap("root CA of VirtualMesh " + r.key);
      state->roots[r.key] = {root->trust_bundle_pem, root->signer.certificate().Fingerprint()};
    }
    desired = ComputeDesiredState(*state);
  }
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
  return desired;
}

Result<DesiredState> HubReconciler::Preview(api::v1::VirtualMesh vm, const std::string& default_namespace,
                                            const std::string& now_rfc3339) const {
  auto state = Gather();
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
