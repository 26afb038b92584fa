#include "hub/controller/discovery_state.h"

#include <google/protobuf/util/message_differencer.h>

#include "common/base/resource_names.h"

namespace vmesh::hub {
namespace {

using google::protobuf::util::MessageDifferencer;

template <typename T>
std::string NsName(const T& o) {
  return ObjectKey(o.spec().namespace_(), o.spec().name());
}
std::string NsName(const api::v1::Workload& w) { return ObjectKey(w.spec().namespace_(), w.metadata().name()); }

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

// The size of `map` after Merge() with these arguments.
template <typename T, typename KeyFn>
std::size_t SizeAfter(const std::map<std::string, T>* map, const google::protobuf::RepeatedPtrField<T>& items,
                      bool full_state, const google::protobuf::RepeatedPtrField<std::string>& removed, KeyFn key) {
  std::set<std::string> keys;
  for (const auto& item : items) keys.insert(key(item));
  if (full_state || map == nullptr) {
    for (const auto& k : removed) keys.erase(k);
    return keys.size();
  }
  std::size_t size = map->size();
  for (const auto& k : keys) size += map->count(k) ? 0 : 1;
  std::set<std::string> gone(removed.begin(), removed.end());
  for (const auto& k : gone) size -= (map->count(k) || keys.count(k)) ? 1 : 0;
  return size;
}

}  // namespace

std::pair<std::size_t, std::size_t> DiscoveryState::CountAfter(const std::string& cluster,
                                                               const link::v1::DiscoveryReport& report) const {
  auto it = clusters_.find(cluster);
  const ClusterView* view = it == clusters_.end() ? nullptr : &it->second;
  const std::size_t meshes =
      SizeAfter(view ? &view->meshes : nullptr, report.meshes(), report.full_state(), report.removed_meshes(),
                [](const api::v1::Mesh& m) { return m.metadata().name(); });
  const std::size_t destinations =
      SizeAfter(view ? &view->destinations : nullptr, report.destinations(), report.full_state(),
                report.removed_destinations(), [](const api::v1::Destination& d) { return NsName(d); });
  const std::size_t workloads =
      SizeAfter(view ? &view->workloads : nullptr, report.workloads(), report.full_state(), report.removed_workloads(),
                [](const api::v1::Workload& w) { return NsName(w); });
  return {meshes, destinations + workloads};
}

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

}  // namespace vmesh::hub
