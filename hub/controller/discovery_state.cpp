#include "hub/controller/discovery_state.h"

#include <google/protobuf/util/message_differencer.h>

namespace vmesh::hub {
namespace {

using google::protobuf::util::MessageDifferencer;

template <typename T>
std::string NsName(const T& o) {
  return o.spec().namespace_() + "/" + o.spec().name();
}
std::string NsName(const api::v1::Workload& w) { return w.spec().namespace_() + "/" + w.metadata().name(); }

// Upserts `items` into `map` (keyed by `key`), recording changed keys (with `prefix`) in `changed`.
template <typename T, typename KeyFn>
void Merge(std::map<std::string, T>& map, const google::protobuf::RepeatedPtrField<T>& items, bool full_state,
           const google::protobuf::RepeatedPtrField<std::string>& removed, KeyFn key, const std::string& prefix,
           std::set<std::string>& changed) {
  if (full_state) {
    std::set<std::string> keep;
    for (const auto& item : items) keep.insert(key(item));
    for (auto it = map.begin(); it != map.end();) {
      if (!keep.count(it->first)) {
        changed.insert(prefix + it->first);
        it = map.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& item : items) {
    const std::string k = key(item);
    auto it = map.find(k);
    if (it == map.end() || !MessageDifferencer::Equals(it->second, item)) {
      map[k] = item;
      changed.insert(prefix + k);
    }
  }
  for (const auto& k : removed) {
    if (map.erase(k)) changed.insert(prefix + k);
  }
}

}  // namespace

DiscoveryChanges DiscoveryState::Apply(const std::string& cluster, const link::v1::DiscoveryReport& report) {
  DiscoveryChanges changes;
  ClusterView& view = clusters_[cluster];
  Merge(
      view.meshes, report.meshes(), report.full_state(), report.removed_meshes(),
      [](const api::v1::Mesh& m) { return m.metadata().name(); }, "", changes.meshes);
  Merge(
      view.destinations, report.destinations(), report.full_state(), report.removed_destinations(),
      [](const api::v1::Destination& d) { return NsName(d); }, cluster + "/", changes.destinations);
  Merge(
      view.workloads, report.workloads(), report.full_state(), report.removed_workloads(),
      [](const api::v1::Workload& w) { return NsName(w); }, cluster + "/", changes.workloads);
  return changes;
}

DiscoveryChanges DiscoveryState::ForgetCluster(const std::string& cluster) {
  DiscoveryChanges changes;
  auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return changes;
  for (const auto& [k, m] : it->second.meshes) changes.meshes.insert(k);
  for (const auto& [k, d] : it->second.destinations) changes.destinations.insert(cluster + "/" + k);
  for (const auto& [k, w] : it->second.workloads) changes.workloads.insert(cluster + "/" + k);
  clusters_.erase(it);
  return changes;
}

std::vector<api::v1::Mesh> DiscoveryState::Meshes(const std::string& cluster) const {
  std::vector<api::v1::Mesh> out;
  auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return out;
  for (const auto& [k, m] : it->second.meshes) out.push_back(m);
  return out;
}

std::vector<api::v1::Destination> DiscoveryState::Destinations(const std::string& cluster) const {
  std::vector<api::v1::Destination> out;
  auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return out;
  for (const auto& [k, d] : it->second.destinations) out.push_back(d);
  return out;
}

std::vector<api::v1::Workload> DiscoveryState::Workloads(const std::string& cluster) const {
  std::vector<api::v1::Workload> out;
  auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return out;
  for (const auto& [k, w] : it->second.workloads) out.push_back(w);
  return out;
}

std::vector<std::string> DiscoveryState::Clusters() const {
  std::vector<std::string> out;
  for (const auto& [c, v] : clusters_) out.push_back(c);
  return out;
}

std::map<std::string, std::string> DiscoveryState::MeshOwners() const {
  std::map<std::string, std::string> out;
  for (const auto& [cluster, view] : clusters_) {
    for (const auto& [name, m] : view.meshes) out[name] = cluster;
  }
  return out;
}

}  // namespace vmesh::hub
