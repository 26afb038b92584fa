#include "hub/controller/agent_facts.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>

#include "common/base/resource_names.h"
#include "common/sync/sync.h"

namespace vmesh::hub {
namespace {

bool SameReportIgnoringTime(const MeshReport& a, const MeshReport& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a.certificate, b.certificate) && a.errors == b.errors &&
         a.federated_destinations == b.federated_destinations && a.applied_outputs == b.applied_outputs &&
         a.pending_restarts == b.pending_restarts && a.installed_generation == b.installed_generation &&
         a.restart_owed_for == b.restart_owed_for &&
         a.gateway_installed_generations == b.gateway_installed_generations &&
         std::equal(a.gateway_certificates.begin(), a.gateway_certificates.end(), b.gateway_certificates.begin(),
                    b.gateway_certificates.end(), [](const auto& x, const auto& y) {
                      return google::protobuf::util::MessageDifferencer::Equals(x, y);
                    });
}

std::string MeshKey(const api::v1::Mesh& m) { return vmesh::MeshKey(m.metadata().name(), m.metadata().namespace_()); }

template <typename T>
void FillNamespace(google::protobuf::RepeatedPtrField<T>* list, const std::string& ns) {
  for (auto& o : *list) {
    if (o.metadata().namespace_().empty()) o.mutable_metadata()->set_namespace_(ns);
  }
}

}  // namespace

AgentFacts::AgentFacts(std::string hub_namespace) : hub_namespace_(std::move(hub_namespace)) {}

DiscoveryChanges AgentFacts::ApplyDiscovery(const std::string& cluster, link::v1::DiscoveryReport report) {
  FillNamespace(report.mutable_meshes(), hub_namespace_);
  FillNamespace(report.mutable_destinations(), hub_namespace_);
  FillNamespace(report.mutable_workloads(), hub_namespace_);
  std::lock_guard lock(mu_);
  retired_meshes_.erase(cluster);
  return discovery_.Apply(cluster, report);
}

void AgentFacts::SetDiscovery(const std::string& cluster, std::vector<api::v1::Mesh> meshes,
                              std::vector<api::v1::Destination> destinations) {
  link::v1::DiscoveryReport report;
  report.set_full_state(true);
  for (auto& m : meshes) *report.add_meshes() = std::move(m);
  for (auto& d : destinations) *report.add_destinations() = std::move(d);
  ApplyDiscovery(cluster, std::move(report));
}

std::pair<std::size_t, std::size_t> AgentFacts::CountAfter(const std::string& cluster,
                                                           const link::v1::DiscoveryReport& report) const {
  std::lock_guard lock(mu_);
  return discovery_.CountAfter(cluster, report);
}

bool AgentFacts::Knows(const std::string& cluster) const {
  std::lock_guard lock(mu_);
  return discovery_.Knows(cluster);
}

std::optional<api::v1::Mesh> AgentFacts::FindMesh(const std::string& cluster, const std::string& mesh) const {
  std::lock_guard lock(mu_);
  for (auto& m : discovery_.Meshes(cluster)) {
    if (m.metadata().name() == mesh) return std::move(m);
  }
  return std::nullopt;
}

namespace {

// Every cluster's objects of one kind (`of`: a DiscoveryState getter), sorted by `key`.
template <typename T, typename Of, typename Key>
std::vector<T> Collect(const DiscoveryState& discovery, Of of, Key key) {
  std::vector<T> out;
  for (const auto& c : discovery.Clusters()) {
    auto items = (discovery.*of)(c);
    out.insert(out.end(), std::make_move_iterator(items.begin()), std::make_move_iterator(items.end()));
  }
  std::sort(out.begin(), out.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
  return out;
}

// Destinations and workloads are listed by name, then cluster and namespace.
template <typename T>
auto NameClusterNamespace(const T& o) {
  return std::tie(o.metadata().name(), o.spec().cluster(), o.spec().namespace_());
}

}  // namespace

std::vector<api::v1::Mesh> AgentFacts::Meshes() const {
  std::lock_guard lock(mu_);
  return Collect<api::v1::Mesh>(discovery_, &DiscoveryState::Meshes, [](const api::v1::Mesh& m) {
    return std::tie(m.metadata().namespace_(), m.metadata().name());
  });
}

std::vector<api::v1::Destination> AgentFacts::Destinations() const {
  std::lock_guard lock(mu_);
  return Collect<api::v1::Destination>(discovery_, &DiscoveryState::Destinations,
                                       NameClusterNamespace<api::v1::Destination>);
}

std::vector<api::v1::Workload> AgentFacts::Workloads() const {
  std::lock_guard lock(mu_);
  return Collect<api::v1::Workload>(discovery_, &DiscoveryState::Workloads, NameClusterNamespace<api::v1::Workload>);
}

void AgentFacts::SetConnected(const std::string& cluster, bool connected) {
  std::lock_guard lock(mu_);
  if (connected) {
    connected_.insert(cluster);
  } else {
    connected_.erase(cluster);
  }
}

void AgentFacts::SetDeregistered(const std::string& cluster, bool deregistered) {
  std::lock_guard lock(mu_);
  if (!deregistered) {
    deregistered_.erase(cluster);
    return;
  }
  deregistered_.insert(cluster);
  connected_.erase(cluster);
  schema_changes_.emplace_back(cluster, std::nullopt);
}

void AgentFacts::ForgetCluster(const std::string& cluster) {
  std::lock_guard lock(mu_);
  std::vector<api::v1::Mesh> meshes = discovery_.Meshes(cluster);
  for (const auto& m : meshes) reports_.erase(MeshKey(m));
  if (discovery_.Knows(cluster)) retired_meshes_[cluster] = std::move(meshes);
  discovery_.ForgetCluster(cluster);
  rejected_.erase(cluster);
  restarts_.erase(cluster);
  deregistered_.insert(cluster);
  connected_.erase(cluster);
  schema_changes_.emplace_back(cluster, std::nullopt);
}

std::string AgentFacts::MeshKeyLocked(const std::string& cluster, const std::string& mesh) const {
  for (const auto& m : discovery_.Meshes(cluster)) {
    if (m.metadata().name() == mesh) return MeshKey(m);
  }
  return mesh + "." + hub_namespace_;
}

bool AgentFacts::SetAgentReport(const std::string& cluster, const std::string& mesh, MeshReport report) {
  std::lock_guard lock(mu_);
  MeshReport& held = reports_[MeshKeyLocked(cluster, mesh)];
  const bool changed = !SameReportIgnoringTime(held, report) || !held.last_report_time;
  held = std::move(report);
  return changed;
}

void AgentFacts::SetReport(const std::string& mesh_key, MeshReport report) {
  std::lock_guard lock(mu_);
  reports_[mesh_key] = std::move(report);
}

void AgentFacts::SetRejected(const std::string& cluster, std::map<std::string, std::string> rejected) {
  std::lock_guard lock(mu_);
  if (rejected.empty()) {
    rejected_.erase(cluster);
  } else {
    rejected_[cluster] = std::move(rejected);
  }
}

void AgentFacts::SetIstioSchemas(const std::string& cluster, link::v1::IstioSchemas schemas) {
  std::lock_guard lock(mu_);
  schema_changes_.emplace_back(cluster, std::move(schemas));
}

std::vector<std::pair<std::string, std::optional<link::v1::IstioSchemas>>> AgentFacts::TakeSchemaChanges() {
  std::lock_guard lock(mu_);
  return std::exchange(schema_changes_, {});
}

Result<link::v1::Resource> AgentFacts::RequestRestart(const std::string& cluster, const std::string& mesh,
                                                      const std::string& request_id) {
  std::lock_guard lock(mu_);
  std::optional<api::v1::Mesh> reported;
  for (auto& m : discovery_.Meshes(cluster)) {
    if (m.metadata().name() == mesh) reported = std::move(m);
  }
  if (!reported) return MakeError("mesh " + mesh + " is not known to the hub: no agent has reported it");
  link::v1::Resource r;
  r.set_name(RestartResourceName(mesh));
  auto* d = r.mutable_restart();
  d->set_mesh(mesh);
  d->set_request_id(request_id);
  if (auto report = reports_.find(MeshKey(*reported)); report != reports_.end()) {
    d->set_certificate_serial(report->second.certificate.serial());
  }
  r.set_version(sync::ContentVersion(r));
  restarts_[cluster][r.name()] = r;
  return r;
}

void AgentFacts::RestartsHeld(const std::string& cluster, const std::map<std::string, std::string>& agent_versions) {
  std::lock_guard lock(mu_);
  auto directives = restarts_.find(cluster);
  if (directives == restarts_.end()) return;
  std::erase_if(directives->second, [&](const auto& entry) {
    auto held = agent_versions.find(entry.first);
    return held != agent_versions.end() && held->second == entry.second.version();
  });
  if (directives->second.empty()) restarts_.erase(directives);
}

AgentFacts::Snapshot AgentFacts::Take() const {
  std::lock_guard lock(mu_);
  Snapshot s;
  for (const auto& [cluster, meshes] : retired_meshes_) {
    for (const auto& m : meshes) s.meshes[MeshKey(m)] = m;
  }
  for (const auto& cluster : discovery_.Clusters()) {
    s.discovered.insert(cluster);
    for (auto& m : discovery_.Meshes(cluster)) s.meshes[MeshKey(m)] = std::move(m);
    auto ds = discovery_.Destinations(cluster);
    s.destinations.insert(s.destinations.end(), std::make_move_iterator(ds.begin()), std::make_move_iterator(ds.end()));
  }
  s.connected = connected_;
  s.deregistered = deregistered_;
  s.reports = reports_;
  for (const auto& [cluster, rejected] : rejected_) {
    for (const auto& m : discovery_.Meshes(cluster)) {
      MeshReport& report = s.reports[MeshKey(m)];
      for (const auto& [name, message] : rejected) {
        const std::string mesh = MeshOfResourceName(name);
        if (!mesh.empty() && mesh != m.metadata().name()) continue;
        report.errors.push_back("cluster " + cluster + " rejected " + name + ": " + message);
      }
    }
  }
  for (const auto& [cluster, directives] : restarts_) {
    for (const auto& [name, r] : directives) s.restarts[cluster].push_back(r);
  }
  return s;
}

}  // namespace vmesh::hub
