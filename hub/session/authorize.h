// Per-message authorization on the hub (SPEC §9 "Authorization"): every Envelope an agent sends is checked
// against the cluster identity of its connection (from its verified client certificate), never against what
// the message claims. An agent can report only for its own cluster, only meshes whose names derive from its
// cluster and that no other cluster holds, and request certificates and send status only for meshes bound to
// its cluster. Every name it reports is checked (common/api/discovery_validation.h) before the hub uses it.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::hub {

enum class Verdict {
  kAccept,
  kNack,   // refuse this message (ProtocolNack with the reason); the session goes on
  kClose,  // the peer is broken or hostile: close the connection
};

struct Authorization {
  Verdict verdict = Verdict::kAccept;
  std::string reason;
  // An accepted DiscoveryReport's meshes that are bound to no cluster yet: the caller binds them to the
  // connection's cluster (Store::BindMeshIfAbsent) before it applies the report.
  std::vector<std::string> meshes_to_bind;
};

// Defaults of the per-cluster caps on reported objects (HubCoreOptions).
inline constexpr std::size_t kDefaultMaxMeshesPerCluster = 100;
inline constexpr std::size_t kDefaultMaxObjectsPerCluster = 20000;  // destinations + workloads

// How many objects a cluster would hold after a DiscoveryReport (DiscoveryState::CountAfter).
struct ReportedCounts {
  std::size_t meshes = 0;
  std::size_t objects = 0;  // destinations + workloads
};

struct AuthorizationContext {
  // Mesh name -> the cluster it is bound to (the store's durable bindings, SPEC §9).
  const std::map<std::string, std::string>& mesh_owner;
  std::string hub_namespace = "vmesh";
  // For a DiscoveryReport: what the cluster would hold after it, checked against the caps.
  ReportedCounts counts_after;
  std::size_t max_meshes = kDefaultMaxMeshesPerCluster;
  std::size_t max_objects = kDefaultMaxObjectsPerCluster;
};

// `cluster`: the connection's identity.
Authorization AuthorizeEnvelope(const std::string& cluster, const link::v1::Envelope& envelope,
                                const AuthorizationContext& context);

}  // namespace vmesh::hub
