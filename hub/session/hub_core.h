// The hub's live half (SPEC §4, §9): agent sessions on /v1/connect, the facts they report, and the reconcile
// loop that turns intent + facts into statuses and into the resources each cluster's agent should hold.
//
// Per session: the client certificate was verified by TLS; IdentityCheck() then refuses identities the
// registry does not know or has revoked. The agent's Hello starts the session (MarkConnected, Welcome, then the
// ResourceSender of its cluster resumes from the versions the agent holds and sends only differences). Every
// later Envelope is authorized against the connection's cluster (AuthorizeEnvelope): a message for another
// cluster or mesh is NACKed (ProtocolNack), an undecodable frame or a broken protocol closes the session. A mesh
// is bound in the store to the cluster that first reported it (Store::BindMeshIfAbsent, on first sight only);
// the bindings outlive hub restarts and deregistrations.
// DiscoveryReports, status reports and ACKs are facts for the reconciler; CSRs are answered by the CA service.
//
// Reconciles are level-based and coalesced: TriggerReconcile() from anywhere schedules one soon; one runs at a
// time; a failed one is retried with backoff. Deregistering a cluster closes its live session with 1008.
// `vmeshctl mesh restart` becomes a restart directive in the owning cluster's desired state.
//
// Thread safety: every public method may be called from any thread.
// Implementation (hub_core.cpp wires these): SessionRegistry (live sessions, what each agent holds and is sent),
// HubReconciler (the only holder of the agents' facts, AgentFacts, read at the start of each reconcile so a long
// reconcile, e.g. generating an RSA root, never stalls sessions), a ReconcileLoop on common/workqueue (reconciles,
// retries of rejected resources, the end of the restart grace period), CsrHandler (signing off the connection
// strands) and RestartGate: after a hub restart, no cluster gets updates until every cluster that had an agent
// before reported its discovery again (or 30 s passed), so nothing is removed from a cluster merely because the
// new hub does not know the others' services yet. A reconcile's result goes only to the clusters whose discovery
// it was computed from, and to none when the gate was closed as it started (a report may arrive while it runs).
// Preview() waits for a running reconcile.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/link/connection.h"
#include "common/link/server.h"
#include "common/metrics/metrics.h"
#include "hub/api/object_service.h"
#include "hub/ca/ca_service.h"
#include "hub/controller/desired_state.h"
#include "hub/registration/registration.h"
#include "hub/session/rate_limit.h"
#include "hub/session/session_registry.h"
#include "hub/store/store.h"
#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vmesh::hub {

struct HubCoreOptions {
  std::string hub_name;
  std::string hub_namespace = "vmesh";
  // Sent in Welcome: how often agents send status reports.
  std::chrono::seconds status_interval{10};
  // A burst of triggers within this window becomes one reconcile.
  std::chrono::milliseconds reconcile_delay{20};
  // Rejected resources are offered again after this long (with nothing changed they would stay rejected).
  std::chrono::milliseconds retry_rejected_after{30000};
  // Per-cluster caps on discovered objects: a DiscoveryReport after which its cluster would hold more is NACKed
  // and nothing of it is applied.
  std::size_t max_meshes_per_cluster = 100;
  std::size_t max_objects_per_cluster = 20000;  // destinations + workloads
  // CSRs (intermediate CAs and identity renewals) a cluster may have signed; over it a CSR is NACKed naming
  // the limit and nothing is signed. The agent resends later.
  RateLimit csr_rate;
  // Metric series a cluster's reports may create per metric family (e.g. one certificate expiry gauge per
  // mesh); further values are not exported, so a hostile agent cannot make /metrics unbounded.
  std::size_t max_series_per_cluster = 64;
  // Bytes of an agent's messages received but not yet handled (they wait for the session's strand while, e.g., a
  // CSR is signed). An agent that sends this far ahead of the hub is disconnected (1008), so that a flood cannot
  // grow the hub's memory; a well-behaved agent sends one report at a time and never comes near it.
  std::size_t max_pending_bytes_per_session = 64u << 20;
  // Tests: called on the reconcile's thread after a reconcile computed its result and before the sessions get it,
  // to force interleavings with the agents' messages.
  std::function<void()> before_apply;
};

class HubCore {
 public:
  virtual ~HubCore() = default;

  // Loads what the store holds and runs the first reconcile. Ready() is true afterwards.
  virtual Status Start() = 0;
  // Closes every session with 1001 and stops reconciling. Blocks; not from an io thread. Idempotent.
  virtual void Stop() = 0;
  // Stop() for a replica that lost the leader election: sessions are closed with 1012 (service restart: agents
  // reconnect, through the Service, to the new leader) and the store is not written any more (the new leader
  // owns it and marks the clusters it finds CONNECTED disconnected when it loads them). Idempotent with Stop().
  virtual void StepDown() { Stop(); }
  virtual bool Ready() const = 0;

  // The /v1/connect route (client certificate required) and the identity check for the agent listener.
  virtual link::WebSocketRoute ConnectRoute() = 0;
  virtual link::IdentityCheck IdentityCheck() = 0;

  // After an API write (apply/delete): reconcile soon.
  virtual void TriggerReconcile() = 0;
  // After `vmeshctl cluster deregister`: close the live session (1008 "cluster deregistered"), forget its
  // discovery, reconcile.
  virtual void OnDeregistered(const std::string& cluster) = 0;
  // `vmeshctl mesh restart MESH`: directs the mesh's agent to run the ordered restart once more. Returns a
  // request id; fails for an unknown mesh.
  virtual Result<std::string> RequestMeshRestart(const std::string& mesh) = 0;
  // `vmeshctl rotate root NAME [--abort]` (SPEC §5.5, HubReconciler::StartRootRotation / AbortRootRotation): starts
  // (or aborts) the root rotation of VirtualMesh `key` ("<namespace>/<name>") and reconciles. Returns a one-line
  // description; the error's code says why it was refused (kNotFound, kConflict, kInvalidArgument).
  virtual Result<std::string> StartRootRotation(const std::string& /*key*/) {
    return MakeError("root rotation is not supported by this hub core", ErrorCode::kUnavailable);
  }
  virtual Result<std::string> AbortRootRotation(const std::string& /*key*/) {
    return MakeError("root rotation is not supported by this hub core", ErrorCode::kUnavailable);
  }

  // What agents discovered (for `vmeshctl get meshes|destinations|workloads`), ordered by name.
  virtual std::vector<api::v1::Mesh> Meshes() const = 0;
  virtual std::vector<api::v1::Destination> Destinations() const = 0;
  virtual std::vector<api::v1::Workload> Workloads() const = 0;
  virtual std::vector<SessionInfo> Sessions() const = 0;

  // `vmeshctl preview`: what `vm` would make every cluster hold, from the current discovery, without storing
  // anything (cluster -> resources).
  virtual Result<DesiredState> Preview(const api::v1::VirtualMesh& vm) const = 0;
};

using HubCorePtr = std::unique_ptr<HubCore>;

struct HubCoreDeps {
  boost::asio::io_context& io;
  Store& store;
  RegistrationService& registration;
  ObjectService& objects;
  CaService& ca;
  metrics::Registry& metrics;
  std::function<TimePoint()> clock;
};

HubCorePtr MakeHubCore(HubCoreDeps deps, HubCoreOptions options);

}  // namespace vmesh::hub
