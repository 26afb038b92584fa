#include "hub/controller/incremental_state.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "common/base/resource_names.h"
#include "common/sync/sync.h"

namespace vmesh::hub {
namespace {

// Deterministic bytes of a message (map fields sorted), appended to `out`.
void AppendSerialized(const google::protobuf::Message& message, std::string& out) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  out += std::to_string(bytes.size());
  out += ':';
  out += bytes;
}

void AppendField(const std::string& value, std::string& out) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
}

// Everything but the destinations that the resources and federated counts depend on.
std::string Context(const HubState& state, const std::vector<VirtualMeshResult>& statuses) {
  std::string out;
  for (const auto& ap : state.access_policies) AppendSerialized(ap, out);
  out += '|';
  for (size_t i = 0; i < statuses.size(); ++i) {
    const VirtualMeshResult& result = statuses[i];
    const auto& meta = state.status.virtual_meshes[i].current.metadata();
    AppendField(result.key, out);
    AppendField(meta.namespace_(), out);
    AppendField(meta.name(), out);
    if (!result.effective_spec) {
      out += '-';
      continue;
    }
    AppendSerialized(*result.effective_spec, out);
    for (const auto& [key, mesh] : ActiveMeshes(state, result)) {
      AppendField(key, out);
      AppendSerialized(mesh, out);
    }
    out += '/';
    if (auto root = state.roots.find(result.key); root != state.roots.end()) {
      AppendField(root->second.trust_bundle_pem, out);
      AppendField(root->second.fingerprint, out);
      AppendField(root->second.bundle_tag, out);
    }
    out += '/';
    if (auto ca = state.gateway_cas.find(result.key); ca != state.gateway_cas.end()) {
      AppendField(ca->second.fingerprint, out);
    }
    out += ';';
  }
  return out;
}

sync::SharedResource Versioned(link::v1::Resource r) {
  r.set_version(sync::ContentVersion(r));
  return std::make_shared<const link::v1::Resource>(std::move(r));
}

}  // namespace

DesiredState IncrementalDesiredState::Compute(const HubState& state) {
  std::vector<VirtualMeshResult> statuses = ComputeStatuses(state.status);
  std::string context = Context(state, statuses);
  changed_.clear();
  bool full = !valid_ || collision_ || context != context_;
  if (!full && !Patch(state)) full = true;
  last_full_ = full;
  if (full) {
    ++full_computes_;
    std::set<std::string> before;
    for (const auto& [cluster, resources] : by_cluster_) before.insert(cluster);
    context_ = std::move(context);
    FullCompute(state, statuses);
    changed_ = std::move(before);
    for (const auto& [cluster, resources] : by_cluster_) changed_.insert(cluster);
  } else {
    ++incremental_computes_;
  }
  if (collision_) {
    // Ambiguous without the full computation's order: take its result as it is.
    DesiredState out = ComputeDesiredState(state);
    for (auto& [cluster, resources] : out.resources) {
      for (auto& r : resources) r = Versioned(*r);
    }
    return out;
  }
  return Assemble(std::move(statuses), state);
}

void IncrementalDesiredState::FullCompute(const HubState& state, const std::vector<VirtualMeshResult>& statuses) {
  valid_ = true;
  collision_ = false;
  vms_.clear();
  by_cluster_.clear();
  federated_.clear();
  directed_.clear();
  roots_needed_.clear();
  gateway_directed_.clear();
  gateway_cas_needed_.clear();
  std::vector<std::string> ids;
  ids.reserve(state.destinations.size());
  for (const auto& d : state.destinations) {
    ids.emplace_back();
    AppendSerialized(d, ids.back());
  }
  vms_.resize(statuses.size());
  for (size_t i = 0; i < statuses.size(); ++i) {
    const VirtualMeshResult& result = statuses[i];
    if (!result.effective_spec) continue;
    const api::v1::VirtualMesh& current = state.status.virtual_meshes[i].current;
    VirtualMeshCache& vm = vms_[i].emplace();
    vm.ns = current.metadata().namespace_();
    vm.name = current.metadata().name();
    vm.spec = *result.effective_spec;
    vm.active = ActiveMeshes(state, result);

    std::vector<std::pair<std::string, link::v1::Resource>> certificates;
    std::map<std::string, std::string> directed;
    CertificateDirectives(state, result, vm.active, certificates, directed, roots_needed_);
    if (!directed.empty()) directed_[result.key] = std::move(directed);
    GatewayDirected gateway_directed;
    GatewayCertificateDirectives(state, result, vm.active, certificates, gateway_directed, gateway_cas_needed_);
    if (!gateway_directed.empty()) gateway_directed_[result.key] = std::move(gateway_directed);
    for (auto& [cluster, r] : certificates) Contribute(cluster, Versioned(std::move(r)));

    vm.federation.emplace(vm.ns, vm.name, vm.spec, vm.active);
    vm.access.emplace(vm.ns, vm.name, vm.spec, vm.active);
    if (vm.spec.mtls_config().has_limited()) vm.limited.emplace(vm.ns, vm.name, vm.spec, vm.active);
    if (vm.access->enabled()) {
      vm.policies = state.access_policies;
      vm.rules = vm.access->Rules(vm.policies);
      for (const auto& o : vm.access->MeshPolicies()) Contribute(o.cluster, Versioned(OutputResource(o)));
    }
    for (size_t j = 0; j < state.destinations.size(); ++j) {
      if (InActiveMesh(state.destinations[j], vm.ns, vm.active)) AddDestination(vm, ids[j], state.destinations[j]);
    }
  }
}

bool IncrementalDesiredState::Patch(const HubState& state) {
  std::vector<std::string> ids;
  ids.reserve(state.destinations.size());
  for (const auto& d : state.destinations) {
    ids.emplace_back();
    AppendSerialized(d, ids.back());
  }
  for (auto& cached : vms_) {
    if (!cached) continue;
    VirtualMeshCache& vm = *cached;
    // The destinations now: id -> (count, one of them).
    std::map<std::string, std::pair<int, const api::v1::Destination*>> now;
    for (size_t j = 0; j < state.destinations.size(); ++j) {
      if (!InActiveMesh(state.destinations[j], vm.ns, vm.active)) continue;
      auto& entry = now[ids[j]];
      ++entry.first;
      entry.second = &state.destinations[j];
    }
    std::vector<std::pair<std::string, int>> removals;
    for (const auto& [id, entry] : vm.destinations) {
      auto it = now.find(id);
      const int wanted = it == now.end() ? 0 : it->second.first;
      if (entry.count > wanted) removals.emplace_back(id, entry.count - wanted);
    }
    for (const auto& [id, n] : removals) {
      for (int k = 0; k < n; ++k) RemoveDestination(vm, id);
    }
    for (const auto& [id, entry] : now) {
      auto it = vm.destinations.find(id);
      const int have = it == vm.destinations.end() ? 0 : it->second.count;
      for (int k = have; k < entry.first; ++k) AddDestination(vm, id, *entry.second);
    }
  }
  return !collision_;
}

void IncrementalDesiredState::AddDestination(VirtualMeshCache& vm, const std::string& id,
                                             const api::v1::Destination& d) {
  auto [it, inserted] = vm.destinations.try_emplace(id);
  DestinationEntry& entry = it->second;
  if (inserted) {
    entry.receivers = vm.federation->Receivers(d);
    if (!entry.receivers.empty()) entry.exporting_mesh = vm.federation->SourceMeshKey(d);
    // Receivers alike (same namespace and Istio version) get equal outputs: one object serves them all.
    std::map<std::pair<std::string, std::string>, sync::SharedResource> alike;  // (name, version) -> the first
    auto add = [&](const Output& o) {
      sync::SharedResource r = Versioned(OutputResource(o));
      auto [it, first] = alike.try_emplace({r->name(), r->version()}, r);
      entry.outputs.emplace_back(o.cluster, it->second);
    };
    for (const auto& o : vm.limited ? vm.limited->TranslateDestination(d) : vm.federation->TranslateDestination(d))
      add(o);
    if (vm.access->enabled()) {
      for (const auto& o : vm.limited ? vm.limited->DestinationPolicies(vm.policies, d)
                                      : vm.access->DestinationPolicies(vm.policies, vm.rules, d))
        add(o);
    }
  }
  ++entry.count;
  for (const auto& receiver : entry.receivers) ++federated_[receiver];
  if (!entry.exporting_mesh.empty()) SetExporting(vm, entry.exporting_mesh, +1);
  for (const auto& [cluster, r] : entry.outputs) Contribute(cluster, r);
}

void IncrementalDesiredState::RemoveDestination(VirtualMeshCache& vm, const std::string& id) {
  auto it = vm.destinations.find(id);
  if (it == vm.destinations.end()) return;
  DestinationEntry& entry = it->second;
  for (const auto& receiver : entry.receivers) {
    auto fed = federated_.find(receiver);
    if (fed != federated_.end() && --fed->second == 0) federated_.erase(fed);
  }
  if (!entry.exporting_mesh.empty()) SetExporting(vm, entry.exporting_mesh, -1);
  for (const auto& [cluster, r] : entry.outputs) Withdraw(cluster, r->name());
  if (--entry.count == 0) vm.destinations.erase(it);
}

void IncrementalDesiredState::SetExporting(VirtualMeshCache& vm, const std::string& mesh_key, int delta) {
  int& n = vm.exporting[mesh_key];
  const int before = n;
  n += delta;
  if ((before == 0) == (n == 0)) return;
  // Under limited trust each destination has gateways of its own (in its outputs), no per-mesh one.
  auto gateway = vm.limited ? std::nullopt : vm.federation->TranslateGateway(mesh_key);
  if (n == 0) vm.exporting.erase(mesh_key);
  if (!gateway) return;
  if (before == 0) {
    Contribute(gateway->cluster, Versioned(OutputResource(*gateway)));
  } else {
    Withdraw(gateway->cluster,
             KubeResourceName(gateway->api_version, gateway->kind, gateway->namespace_, gateway->name));
  }
}

void IncrementalDesiredState::Contribute(const std::string& cluster, const sync::SharedResource& r) {
  Slot& slot = by_cluster_[cluster][r->name()];
  if (slot.refs == 0) {
    slot.resource = r;
    changed_.insert(cluster);
  } else if (slot.resource->version() != r->version()) {
    collision_ = true;
  }
  ++slot.refs;
}

void IncrementalDesiredState::Withdraw(const std::string& cluster, const std::string& name) {
  auto c = by_cluster_.find(cluster);
  if (c == by_cluster_.end()) return;
  auto slot = c->second.find(name);
  if (slot == c->second.end()) return;
  if (--slot->second.refs > 0) return;
  c->second.erase(slot);
  changed_.insert(cluster);
  if (c->second.empty()) by_cluster_.erase(c);
}

DesiredState IncrementalDesiredState::Assemble(std::vector<VirtualMeshResult> statuses, const HubState& state) const {
  DesiredState out;
  out.statuses = std::move(statuses);
  for (const auto& [cluster, slots] : by_cluster_) {
    auto& list = out.resources[cluster];
    list.reserve(slots.size());
    for (const auto& [name, slot] : slots) list.push_back(slot.resource);
  }
  out.roots_needed = roots_needed_;
  out.gateway_cas_needed = gateway_cas_needed_;
  out.federated_destinations = federated_;
  RequireCurrentCertificates(directed_, state.status.reports, out.statuses);
  RequireGatewayCertificates(gateway_directed_, state.status.reports, out.statuses);
  AddLimitedTrustWarnings(state, out.statuses);
  return out;
}

}  // namespace vmesh::hub
