// The hub's level-based reconciler: reads intent (the store), discovery and agent facts (fed by the agent
// sessions), and converges — VirtualMesh statuses written when they change, roots created when first needed,
// and the desired resources of every cluster computed for the sync layer. Calling Reconcile() again with
// nothing changed writes nothing and yields the same desired state.
//
// Not thread-safe: one reconcile at a time (the work queue guarantees it).
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "hub/api/object_service.h"
#include "hub/ca/ca_service.h"
#include "hub/controller/desired_state.h"

namespace vmesh::hub {

class HubReconciler {
 public:
  HubReconciler(Store& store, ObjectService& objects, CaService& ca);

  // Facts from the agents. Discovery of a cluster replaces what the cluster reported before.
  void SetDiscovery(const std::string& cluster, std::vector<api::v1::Mesh> meshes,
                    std::vector<api::v1::Destination> destinations);
  void SetConnected(const std::string& cluster, bool connected);
  void SetDeregistered(const std::string& cluster);
  void SetReport(const std::string& mesh_key, MeshReport report);

  Result<DesiredState> Reconcile();

  // Status writes so far (for tests and metrics).
  int status_writes() const { return status_writes_; }

 private:
  Result<HubState> Gather();

  Store& store_;
  ObjectService& objects_;
  CaService& ca_;
  std::map<std::string, std::vector<api::v1::Mesh>> meshes_by_cluster_;
  std::map<std::string, std::vector<api::v1::Destination>> destinations_by_cluster_;
  std::set<std::string> connected_;
  std::set<std::string> deregistered_;
  std::map<std::string, MeshReport> reports_;
  int status_writes_ = 0;
};

}  // namespace vmesh::hub
