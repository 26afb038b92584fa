// The hub's view of what agents discovered (SPEC §3.3), fed by DiscoveryReports: a full state on the first
// report of a session, then deltas. Reports change only their own cluster's view (the session authorized them
// already), and Apply says exactly what changed, so that the reconciler recomputes only what is affected.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::hub {

struct DiscoveryChanges {
  std::set<std::string> meshes;        // mesh names added, changed or removed
  std::set<std::string> destinations;  // "<cluster>/<namespace>/<name>"
  std::set<std::string> workloads;     // "<cluster>/<namespace>/<name>"
  bool empty() const { return meshes.empty() && destinations.empty() && workloads.empty(); }
};

class DiscoveryState {
 public:
  DiscoveryChanges Apply(const std::string& cluster, const link::v1::DiscoveryReport& report);
  // How many meshes and destinations + workloads the cluster would hold after `report` (not applied), for the
  // per-cluster caps. O(report size).
  std::pair<std::size_t, std::size_t> CountAfter(const std::string& cluster,
                                                 const link::v1::DiscoveryReport& report) const;
  // A deregistered cluster's objects go away.
  DiscoveryChanges ForgetCluster(const std::string& cluster);

  std::vector<api::v1::Mesh> Meshes(const std::string& cluster) const;
  std::vector<api::v1::Destination> Destinations(const std::string& cluster) const;
  std::vector<api::v1::Workload> Workloads(const std::string& cluster) const;
  // True once the cluster reported (even nothing) and until it is forgotten.
  bool Knows(const std::string& cluster) const { return clusters_.count(cluster) > 0; }
  std::vector<std::string> Clusters() const;

 private:
  struct ClusterView {
    std::map<std::string, api::v1::Mesh> meshes;               // by mesh name
    std::map<std::string, api::v1::Destination> destinations;  // by "<namespace>/<name>"
    std::map<std::string, api::v1::Workload> workloads;        // by "<namespace>/<name>"
  };
  std::map<std::string, ClusterView> clusters_;
};

}  // namespace vmesh::hub
