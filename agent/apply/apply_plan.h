// What the agent's applier may touch (SPEC §6: "outputs that are no longer desired are deleted (prune by
// label); objects vmesh did not create are never touched"), as pure decisions.
//
// Objects are identified by group/kind/namespace/name — not by version: Istio serves the same object as
// v1alpha3, v1beta1 and v1, and vmesh may write a different version than it did before an Istio upgrade.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace vmesh::agent {

inline constexpr char kManagedBy[] = "app.kubernetes.io/managed-by";
inline constexpr char kVirtualMeshLabel[] = "networking.vmesh.dev/virtual-mesh";
// Stamped by the agent on every output it applies: which vmesh cluster's agent owns the object, so that an
// agent prunes only its own outputs even when two registered clusters share one API server.
inline constexpr char kClusterLabel[] = "networking.vmesh.dev/cluster";

struct LiveObject {
  std::string api_version;  // "networking.istio.io/v1beta1"
  std::string kind;
  std::string ns;
  std::string name;
  std::map<std::string, std::string> labels;
};

// "networking.istio.io/ServiceEntry/istio-system/x": the identity of an object across API versions
// (vmesh::OutputKey, common/base/resource_names.h).
std::string OutputKeyOf(const LiveObject& o);

bool IsManagedByVmesh(const LiveObject& o);

// Objects to delete: vmesh's own objects (by label) whose key is not desired. Objects without vmesh's labels
// are never returned, whatever their name; with `cluster`, neither are objects whose kClusterLabel is not it
// (another agent's, or applied before the agent stamped the label).
std::vector<LiveObject> PruneCandidates(const std::set<std::string>& desired_keys, const std::vector<LiveObject>& live,
                                        const std::string& cluster = "");

// The kinds the hub's translator writes (hub/translate): ServiceEntry, DestinationRule and Gateway of
// networking.istio.io and AuthorizationPolicy of security.istio.io, each in v1beta1 or v1. The agent applies
// and removes nothing else, whatever the hub sends (a Secret, RBAC or a workload would be a hub gone wrong):
// the error names the object's kind and what is allowed.
Status CheckOutputKind(const std::string& api_version, const std::string& kind);

// Before applying over an existing object: OK when it is vmesh's (or absent); otherwise an error for the NACK
// that says how to resolve it.
Status CheckTakeover(const LiveObject* existing);

}  // namespace vmesh::agent
