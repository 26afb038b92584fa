// ComputeDesiredState with memory (SPEC §13: hub work per change proportional to the clusters affected).
//
// Compute() returns exactly what ComputeDesiredState returns for the same HubState, except that every resource
// carries its sync::ContentVersion already (so the sync layer hashes nothing again). Between calls it keeps:
//  - the "context": per VirtualMesh its key, effective spec, active meshes and root, plus the AccessPolicies.
//    Any change there (a VirtualMesh applied, a mesh joining or changing, a root created) recomputes everything;
//  - per VirtualMesh and destination (identified by its content), its translated outputs, receivers and
//    whether it makes its mesh export; per mesh the east-west Gateway it gets while it exports;
//  - per cluster the resulting resources, reference-counted.
// Resources are immutable and shared (sync::SharedResource), never copied: a destination's outputs, the clusters'
// slots, every result and the clusters' senders hold the same objects, and receivers alike (same namespace and
// Istio version) share one object per output of a destination. With the context unchanged, only destinations that
// appeared, disappeared or changed are translated, and only the clusters their outputs touch are patched. Statuses are
// computed afresh every time (cheap; they depend on connections and agent reports).
//
// When two contributions produce the same resource name with different contents (two VirtualMeshes federating
// one destination into one mesh with the same suffix, say), the result would depend on the full computation's
// order: then every call computes from scratch, until the collision is gone.
//
// Not thread-safe (the reconciler runs one reconcile at a time).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hub/controller/desired_state.h"
#include "hub/translate/access_policy.h"
#include "hub/translate/federation.h"
#include "hub/translate/limited_federation.h"

namespace vmesh::hub {

class IncrementalDesiredState {
 public:
  DesiredState Compute(const HubState& state);

  // Clusters whose resources differ from those of the previous Compute() (every cluster after a full
  // recompute, including clusters that lost all their resources).
  const std::set<std::string>& changed_clusters() const { return changed_; }
  bool last_was_full() const { return last_full_; }
  // Calls so far that recomputed everything / only what changed (for tests and metrics).
  std::uint64_t full_computes() const { return full_computes_; }
  std::uint64_t incremental_computes() const { return incremental_computes_; }

 private:
  struct DestinationEntry {
    int count = 0;  // identical destinations reported more than once
    std::vector<std::string> receivers;
    std::string exporting_mesh;                                         // its mesh's key when federated anywhere
    std::vector<std::pair<std::string, sync::SharedResource>> outputs;  // cluster, versioned resource
  };
  struct VirtualMeshCache {
    std::string ns;
    std::string name;
    api::v1::VirtualMeshSpec spec;
    std::map<std::string, api::v1::Mesh> active;
    std::optional<FederationTranslator> federation;
    std::optional<AccessPolicyTranslator> access;
    std::optional<LimitedFederationTranslator> limited;  // set under limited trust: it makes the outputs then
    std::vector<api::v1::AccessPolicy> policies;         // part of the context: unchanged while cached
    std::vector<boost::json::object> rules;
    std::map<std::string, DestinationEntry> destinations;  // by serialized Destination
    std::map<std::string, int> exporting;                  // mesh key -> destinations it exports
  };
  struct Slot {
    sync::SharedResource resource;  // the contribution's own (shared, not copied)
    int refs = 0;
  };

  void FullCompute(const HubState& state, const std::vector<VirtualMeshResult>& statuses);
  // Patches the caches to the destinations of `state`; false when a collision makes the result ambiguous.
  bool Patch(const HubState& state);
  void AddDestination(VirtualMeshCache& vm, const std::string& id, const api::v1::Destination& d);
  void RemoveDestination(VirtualMeshCache& vm, const std::string& id);
  void SetExporting(VirtualMeshCache& vm, const std::string& mesh_key, int delta);
  void Contribute(const std::string& cluster, const sync::SharedResource& r);
  void Withdraw(const std::string& cluster, const std::string& name);
  DesiredState Assemble(std::vector<VirtualMeshResult> statuses, const HubState& state) const;

  bool valid_ = false;
  bool collision_ = false;
  std::string context_;
  std::vector<std::optional<VirtualMeshCache>> vms_;  // aligned with the statuses
  std::map<std::string, std::map<std::string, Slot>> by_cluster_;
  std::map<std::string, std::uint32_t> federated_;
  std::map<std::string, std::map<std::string, std::string>> directed_;
  std::set<std::string> roots_needed_;
  std::map<std::string, GatewayDirected> gateway_directed_;
  std::set<std::string> gateway_cas_needed_;
  std::set<std::string> changed_;
  bool last_full_ = false;
  std::uint64_t full_computes_ = 0;
  std::uint64_t incremental_computes_ = 0;
};

}  // namespace vmesh::hub
