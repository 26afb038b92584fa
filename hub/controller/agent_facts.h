// What the agents told the hub, kept once (SPEC §3.3, §4, §9): each cluster's discovery, connection and
// registration state, the agents' status reports and the resources they rejected, the Istio schemas they read,
// and the restart directives asked for them (`vmeshctl mesh restart`) until their agent holds them.
//
// The agent sessions write here as messages arrive; the reconciler reads a Snapshot() at the start of each
// reconcile, so a long reconcile (e.g. generating an RSA root) never stalls a session, and the `vmeshctl get`
// listings read it directly. Objects of a cluster's reports are in the hub namespace when they name none.
//
// Thread safety: every method may be called from any thread (one mutex, held only briefly).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "hub/controller/discovery_state.h"
#include "hub/reconcile/virtual_mesh_status.h"
#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::hub {

class AgentFacts {
 public:
  explicit AgentFacts(std::string hub_namespace = "vmesh");

  // --- Discovery (DiscoveryState's contract) ---
  DiscoveryChanges ApplyDiscovery(const std::string& cluster, link::v1::DiscoveryReport report);
  // Replaces the cluster's meshes and destinations (its workloads go).
  void SetDiscovery(const std::string& cluster, std::vector<api::v1::Mesh> meshes,
                    std::vector<api::v1::Destination> destinations);
  std::pair<std::size_t, std::size_t> CountAfter(const std::string& cluster,
                                                 const link::v1::DiscoveryReport& report) const;
  bool Knows(const std::string& cluster) const;
  std::optional<api::v1::Mesh> FindMesh(const std::string& cluster, const std::string& mesh) const;
  // Every cluster's, ordered by namespace/name (meshes) or name/cluster/namespace (the others).
  std::vector<api::v1::Mesh> Meshes() const;
  std::vector<api::v1::Destination> Destinations() const;
  std::vector<api::v1::Workload> Workloads() const;

  // --- Clusters ---
  void SetConnected(const std::string& cluster, bool connected);
  // `deregistered` false: registered again (its agent is welcome back).
  void SetDeregistered(const std::string& cluster, bool deregistered = true);
  // `vmeshctl cluster deregister`: the cluster's discovery, reports and restart directives go; its meshes stay
  // known to statuses (a VirtualMesh naming them says "deregistered") until the cluster reports again.
  void ForgetCluster(const std::string& cluster);

  // --- Reports ---
  // A mesh's report from its cluster's agent; true when it differs from the last one other than in its time.
  bool SetAgentReport(const std::string& cluster, const std::string& mesh, MeshReport report);
  // The same by mesh key "<name>.<namespace>" (replaces the report, however equal).
  void SetReport(const std::string& mesh_key, MeshReport report);
  // The resources the cluster's agent rejects (name -> its message): the reports of the cluster's meshes carry
  // them as errors (SPEC §4 FAILED).
  void SetRejected(const std::string& cluster, std::map<std::string, std::string> rejected);

  // --- Istio schemas ---
  void SetIstioSchemas(const std::string& cluster, link::v1::IstioSchemas schemas);
  // Schema changes since the last call, in order: a cluster's new schemas, or nothing when it was deregistered
  // (forget its schemas).
  std::vector<std::pair<std::string, std::optional<link::v1::IstioSchemas>>> TakeSchemaChanges();

  // --- Restart directives ---
  // A restart directive for `mesh` of its owning cluster, carrying the serial of the certificate its agent last
  // reported. Fails when no agent reported the mesh. Replaces an earlier directive for the mesh.
  Result<link::v1::Resource> RequestRestart(const std::string& cluster, const std::string& mesh,
                                            const std::string& request_id);
  // The directives the agent holds (at the version directed) are delivered: they leave the desired state.
  void RestartsHeld(const std::string& cluster, const std::map<std::string, std::string>& agent_versions);

  struct Snapshot {
    std::map<std::string, api::v1::Mesh> meshes;  // by key "<name>.<namespace>"
    std::vector<api::v1::Destination> destinations;
    std::set<std::string> connected;
    std::set<std::string> deregistered;
    std::map<std::string, MeshReport> reports;  // by mesh key, with each cluster's rejected resources
    std::map<std::string, std::vector<link::v1::Resource>> restarts;  // cluster -> directives, by name
    // The clusters whose discovery is known (Knows) at the time of the snapshot.
    std::set<std::string> discovered;
  };
  Snapshot Take() const;

 private:
  std::string MeshKeyLocked(const std::string& cluster, const std::string& mesh) const;

  const std::string hub_namespace_;
  mutable std::mutex mu_;
  DiscoveryState discovery_;
  // Meshes of deregistered clusters, for statuses only.
  std::map<std::string, std::vector<api::v1::Mesh>> retired_meshes_;
  std::set<std::string> connected_;
  std::set<std::string> deregistered_;
  std::map<std::string, MeshReport> reports_;                           // mesh key -> the agent's report
  std::map<std::string, std::map<std::string, std::string>> rejected_;  // cluster -> resource -> message
  std::vector<std::pair<std::string, std::optional<link::v1::IstioSchemas>>> schema_changes_;
  std::map<std::string, std::map<std::string, link::v1::Resource>> restarts_;  // cluster -> name -> directive
};

}  // namespace vmesh::hub
