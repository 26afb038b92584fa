#include "hub/session/hub_core.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <mutex>
#include <set>

#include "common/base/error_code.h"
#include "common/base/random.h"
#include "common/base/time.h"
#include "hub/controller/hub_reconciler.h"
#include "hub/controller/reconcile_loop.h"
#include "hub/session/authorize.h"
#include "hub/session/csr_handler.h"
#include "hub/session/restart_gate.h"

namespace vmesh::hub {
namespace {

namespace asio = boost::asio;
using link::CloseCode;
using link::v1::Envelope;

constexpr char kReconcileSeconds[] = "vmesh_hub_reconcile_seconds";

// After a restart, how long updates wait for every known cluster's first DiscoveryReport (see RestartGate)
// before the clusters that are back get theirs without the missing ones.
constexpr std::chrono::seconds kRestartDiscoveryGrace{30};

// The reconcile loop's keys: the whole hub reconcile (level-based over everything), the end of the restart
// grace period, and per cluster the offer of its rejected resources again.
constexpr char kReconcileKey[] = "reconcile";
constexpr char kRestartGateKey[] = "restart-gate";
constexpr char kRetryPrefix[] = "retry-rejected/";

google::protobuf::Timestamp ToTimestamp(TimePoint t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

class Core : public std::enable_shared_from_this<Core> {
 public:
  static std::shared_ptr<Core> Make(HubCoreDeps deps, HubCoreOptions options) {
    auto core = std::make_shared<Core>(deps, std::move(options));
    core->Wire();
    return core;
  }

  Core(HubCoreDeps deps, HubCoreOptions options)
      : deps_(deps),
        options_(std::move(options)),
        reconciler_(deps.store, deps.objects, deps.ca, options_.hub_namespace, deps.clock),
        registry_(deps.metrics),
        csr_({deps.ca, deps.registration, reconciler_.facts(), deps.metrics, deps.clock},
             {options_.csr_rate, options_.max_series_per_cluster}) {
    deps_.metrics.DeclareHistogram(kReconcileSeconds, "Duration of one hub reconcile.",
                                   {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10});
  }

  Status Start() {
    if (Status s = LoadClusters(); !s.ok()) return s;
    loop_->Add(kReconcileKey);
    loop_->RunReady();  // the first reconcile, here (or, having raced us to it, on the loop's strand)
    std::lock_guard lock(mu_);
    ready_ = true;
    return OkStatus();
  }

  void Stop(bool step_down = false) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    if (step_down) {
      registry_.CloseAll(CloseCode::kServiceRestart, "hub replica lost the leader election; reconnect");
    } else {
      for (const auto& cluster : registry_.CloseAll()) MarkDisconnectedInStore(cluster);
    }
    loop_->Stop();
    std::lock_guard reconciling(reconciler_mu_);  // a running reconcile finishes; no other starts
  }

  bool Ready() const {
    std::lock_guard lock(mu_);
    return ready_ && !stopped_;
  }

  link::WebSocketRoute ConnectRoute() {
    std::weak_ptr<Core> weak = weak_from_this();
    link::WebSocketRoute route;
    route.client_cert = link::ClientCertPolicy::kRequired;
    route.on_upgrade = [weak](const link::HttpRequest& request) -> link::UpgradeDecision {
      auto self = weak.lock();
      if (!self) return link::UpgradeDecision::Refuse(503, "hub shutting down\n");
      return self->OnUpgrade(request);
    };
    return route;
  }

  link::IdentityCheck IdentityCheck() {
    std::weak_ptr<Core> weak = weak_from_this();
    return [weak](const link::PeerIdentity& peer) {
      auto self = weak.lock();
      return self && self->CheckIdentity(peer).ok();
    };
  }

  void TriggerReconcile() { loop_->AddAfter(kReconcileKey, options_.reconcile_delay); }

  void OnDeregistered(const std::string& cluster) {
    registry_.Forget(cluster);
    csr_.Forget(cluster);
    DiscoveryArrived(cluster);
    // Its meshes stay known to statuses so that a VirtualMesh naming them says "deregistered" (SPEC §4); its
    // destinations go away at once, and users no longer see anything of it. Its mesh names stay bound to it.
    reconciler_.facts().ForgetCluster(cluster);
    TriggerReconcile();
  }

  Result<std::string> RequestMeshRestart(const std::string& mesh) {
    std::string cluster;
    {
      std::lock_guard lock(mu_);
      auto owner = mesh_owner_.find(mesh);
      if (owner != mesh_owner_.end()) cluster = owner->second;
    }
    // The owner's agent must have reported it (a deregistered cluster's meshes stay bound but are forgotten).
    auto request_id = RandomHex(8);
    if (!request_id.ok()) return request_id.error();
    auto directive = reconciler_.facts().RequestRestart(cluster, mesh, *request_id);
    if (!directive.ok()) return directive.error();
    const std::string& id = directive->restart().request_id();
    spdlog::info("hub: cluster {} mesh {}: restart requested (request {})", cluster, mesh, id);
    loop_->Add(kReconcileKey);  // the directive goes out with the cluster's desired state
    return id;
  }

  Result<std::string> StartRootRotation(const std::string& key) {
    Result<std::string> out = MakeError("");
    {
      std::lock_guard lock(reconciler_mu_);
      if (Stopped()) return MakeError("the hub is shutting down", ErrorCode::kUnavailable);
      out = reconciler_.StartRootRotation(key, "vmeshctl rotate root");
    }
    if (out.ok()) loop_->Add(kReconcileKey);
    return out;
  }

  Result<std::string> AbortRootRotation(const std::string& key) {
    Result<std::string> out = MakeError("");
    {
      std::lock_guard lock(reconciler_mu_);
      if (Stopped()) return MakeError("the hub is shutting down", ErrorCode::kUnavailable);
      out = reconciler_.AbortRootRotation(key);
    }
    if (out.ok()) loop_->Add(kReconcileKey);
    return out;
  }

  std::vector<api::v1::Mesh> Meshes() const { return reconciler_.facts().Meshes(); }
  std::vector<api::v1::Destination> Destinations() const { return reconciler_.facts().Destinations(); }
  std::vector<api::v1::Workload> Workloads() const { return reconciler_.facts().Workloads(); }
  std::vector<SessionInfo> Sessions() const { return registry_.Sessions(); }

  Result<DesiredState> Preview(const api::v1::VirtualMesh& vm) const {
    std::lock_guard lock(reconciler_mu_);
    if (Stopped()) return MakeError("the hub is shutting down");
    return reconciler_.Preview(vm, options_.hub_namespace, FormatRfc3339(deps_.clock()));
  }

 private:
  // The part that needs the core's shared_ptr.
  void Wire() {
    std::weak_ptr<Core> weak = weak_from_this();
    loop_ = std::make_unique<ReconcileLoop>(
        deps_.io.get_executor(), [] { return std::chrono::steady_clock::now(); }, ReconcileLoop::Options{},
        [weak](const std::string& key) -> Result<ReconcileLoop::Outcome> {
          auto self = weak.lock();
          if (!self) return ReconcileLoop::Outcome{};
          return self->Run(key);
        });
  }

  bool Stopped() const {
    std::lock_guard lock(mu_);
    return stopped_;
  }

  // What the store holds of the clusters: mesh bindings, deregistrations, and which clusters had an agent
  // before this process (the restart gate waits for them).
  Status LoadClusters() {
    auto owners = deps_.store.ListMeshOwners();
    if (!owners.ok()) return owners.error().Wrap("hub core: listing mesh owners");
    {
      std::lock_guard lock(mu_);
      mesh_owner_ = std::move(*owners);
    }
    auto clusters = deps_.store.ListClusters();
    if (!clusters.ok()) return clusters.error().Wrap("hub core: listing clusters");
    AgentFacts& facts = reconciler_.facts();
    std::set<std::string> awaiting;
    for (const auto& c : *clusters) {
      if (c.state == ClusterState::kDeregistered) facts.SetDeregistered(c.name);
      // No session survives a restart: a cluster still marked CONNECTED lost its agent with the old process
      // (unless it is already back: the agent listener may open before Start()).
      if (c.state == ClusterState::kConnected && !registry_.Connected(c.name)) MarkDisconnectedInStore(c.name);
      // Clusters that had an agent (a cluster only registered has nothing to report yet).
      const bool had_agent = c.state == ClusterState::kConnected || c.state == ClusterState::kDisconnected;
      if (had_agent && !facts.Knows(c.name)) awaiting.insert(c.name);
    }
    if (!awaiting.empty()) {
      spdlog::info("hub: {} known clusters; updates wait until each reported its discovery (at most {} s)",
                   awaiting.size(), kRestartDiscoveryGrace.count());
      gate_.Await(std::move(awaiting));
      loop_->AddAfter(kRestartGateKey, kRestartDiscoveryGrace);
    }
    return OkStatus();
  }

  // The cluster's discovery is known now (or it is gone); the last one awaited releases the updates.
  void DiscoveryArrived(const std::string& cluster) {
    if (!gate_.Arrived(cluster)) return;
    spdlog::info("hub: every known cluster reported its discovery; updates resume");
    TriggerReconcile();  // its result is pushed to every cluster
  }

  // --- The reconcile loop ---------------------------------------------------------------------------------

  Result<ReconcileLoop::Outcome> Run(const std::string& key) {
    if (key == kReconcileKey) {
      if (Status s = Reconcile(); !s.ok()) return s.error();
    } else if (key == kRestartGateKey) {
      auto missing = gate_.Expire();
      if (!missing.empty() && !Stopped()) {
        std::string names;
        for (const auto& c : missing) names += (names.empty() ? "" : ", ") + c;
        spdlog::warn("hub: no discovery from {} within {} s of the restart; updating the other clusters", names,
                     kRestartDiscoveryGrace.count());
        loop_->Add(kReconcileKey);  // its result goes to every cluster whose discovery it saw
      }
    } else if (key.rfind(kRetryPrefix, 0) == 0) {
      registry_.RetryRejected(key.substr(std::string(kRetryPrefix).size()));
    }
    return ReconcileLoop::Outcome{};
  }

  // One reconcile over the facts so far, its result given to every cluster's sender. Sessions keep reporting
  // while it runs, so its result may be older than what they reported: it is sent only to the clusters whose
  // discovery it was computed from, and to none when the restart gate was still closed as it started (the gate is
  // read before the facts: open then, every awaited cluster's discovery is in them). A cluster whose report came
  // later gets the next result, which that report triggered.
  Status Reconcile() {
    std::lock_guard reconciling(reconciler_mu_);
    if (Stopped()) return OkStatus();
    const auto start = std::chrono::steady_clock::now();
    const bool gate_open = gate_.open();
    auto desired = reconciler_.Reconcile();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    deps_.metrics.Observe(kReconcileSeconds, {}, took.count());
    if (!desired.ok()) return desired.error().Wrap("hub reconcile");
    if (options_.before_apply) options_.before_apply();
    csr_.SetTargets(*desired);
    registry_.Apply(*desired, gate_open ? desired->discovered_clusters : std::set<std::string>{});
    return OkStatus();
  }

  // --- Identity and connections ---------------------------------------------------------------------------

  Result<std::string> CheckIdentity(const link::PeerIdentity& peer) {
    if (!peer.authenticated) return MakeError("no client certificate");
    auto cluster = ClusterFromSpiffeId(options_.hub_name, peer.spiffe_id());
    if (!cluster.ok()) return cluster.error();
    if (Status s = deps_.registration.CheckPeer(*cluster, peer.serial_hex); !s.ok()) {
      spdlog::warn("hub: refused {}: {}", peer.ToString(), s.error().message);
      return s.error();
    }
    return *cluster;
  }

  link::UpgradeDecision OnUpgrade(const link::HttpRequest& request) {
    auto cluster = CheckIdentity(request.peer);
    if (!cluster.ok()) {
      return link::UpgradeDecision::Refuse(
          403, "identity " + request.peer.ToString() + " is not allowed: " + cluster.error().message + "\n");
    }
    // The agent holds this certificate and its key: identities issued to it earlier are revoked now (see
    // RegistrationService::ConfirmIdentity for why not at renewal time).
    if (auto revoked = deps_.registration.ConfirmIdentity(*cluster, request.peer.serial_hex); !revoked.ok()) {
      spdlog::warn("hub: cluster {}: revoking identities older than serial {}: {}", *cluster, request.peer.serial_hex,
                   revoked.error().message);
    } else if (*revoked > 0) {
      spdlog::info("hub: cluster {}: connected with renewed identity serial {}; revoked {} older identities", *cluster,
                   request.peer.serial_hex, *revoked);
    }
    // The session's events are handled in order on its own strand, so that the store writes and the signing they
    // cause never hold up the connection's strand (its reads, writes and pings).
    auto session = std::make_shared<Session>(*cluster);
    auto on_strand = [weak = weak_from_this(), strand = asio::make_strand(deps_.io)](auto handle) {
      asio::post(strand, [weak, handle = std::move(handle)]() mutable {
        if (auto self = weak.lock()) handle(*self);
      });
    };
    link::ConnectionHandlers handlers;
    handlers.on_open = [on_strand, session](const link::ConnectionPtr& c) {
      on_strand([session, c](Core& self) { self.registry_.Open(session, c); });
    };
    handlers.on_message = [on_strand, session, limit = options_.max_pending_bytes_per_session](
                              const link::ConnectionPtr& c, std::string message) {
      const std::size_t size = message.size();
      if (session->pending_bytes.fetch_add(size) + size > limit) {
        session->pending_bytes.fetch_sub(size);
        spdlog::warn("hub: cluster {}: more than {} bytes of messages wait to be handled: closing the session",
                     session->cluster, limit);
        c->Close(CloseCode::kPolicyViolation, "sending faster than the hub handles messages");
        return;
      }
      on_strand([session, size, message = std::move(message)](Core& self) mutable {
        session->pending_bytes.fetch_sub(size);
        self.OnMessage(session, std::move(message));
      });
    };
    handlers.on_closed = [on_strand, session](const link::ConnectionPtr&, const link::CloseInfo& info) {
      on_strand([session, info](Core& self) { self.OnClosed(session, info); });
    };
    return link::UpgradeDecision::Accept(std::move(handlers));
  }

  void OnClosed(const SessionPtr& session, const link::CloseInfo& info) {
    if (!registry_.Closed(session, info)) return;
    MarkDisconnectedInStore(session->cluster);
    reconciler_.facts().SetConnected(session->cluster, false);
    TriggerReconcile();
  }

  // --- Messages ------------------------------------------------------------------------------------------

  void OnMessage(const SessionPtr& session, std::string message) {
    const std::string& cluster = session->cluster;
    Envelope envelope;
    if (!envelope.ParseFromString(message)) {
      registry_.CountReceived("undecodable", message.size());
      spdlog::warn("hub: cluster {}: undecodable message of {} bytes: closing the session", cluster, message.size());
      if (session->connection) {
        session->connection->Close(CloseCode::kUnsupportedData,
                                   "undecodable Envelope (" + std::to_string(message.size()) + " bytes)");
      }
      return;
    }
    const std::string type = EnvelopeTypeName(envelope);
    registry_.CountReceived(type, message.size());
    if (Stopped() || !registry_.Current(session)) return;
    if (!registry_.Greeted(session) && envelope.message_case() != Envelope::kHello) {
      spdlog::warn("hub: cluster {}: first message is {}, not hello: closing the session", cluster, type);
      session->connection->Close(CloseCode::kProtocolError, "the first message must be Hello, got " + type);
      return;
    }
    Authorization verdict = Authorize(cluster, envelope);
    if (verdict.verdict == Verdict::kClose) {
      spdlog::warn("hub: cluster {}: {}: closing the session", cluster, verdict.reason);
      session->connection->Close(CloseCode::kPolicyViolation, verdict.reason);
      return;
    }
    if (verdict.verdict == Verdict::kNack) {
      spdlog::warn("hub: cluster {}: refused {} {}: {}", cluster, type, envelope.id(), verdict.reason);
      if (envelope.message_case() == Envelope::kCertificateSigningRequest) csr_.CountRefused();
      registry_.SendNack(session, envelope.id(), verdict.reason);
      return;
    }
    switch (envelope.message_case()) {
      case Envelope::kHello:
        HandleHello(session, envelope.id(), envelope.hello());
        return;
      case Envelope::kAck:
        HandleAck(session, envelope.id(), envelope.ack());
        return;
      case Envelope::kDiscoveryReport:
        HandleDiscovery(cluster, std::move(*envelope.mutable_discovery_report()));
        return;
      case Envelope::kStatusReport:
        HandleStatus(cluster, envelope.status_report());
        return;
      case Envelope::kCertificateSigningRequest:
        registry_.Send(session, csr_.Sign(cluster, envelope.id(), envelope.certificate_signing_request()));
        return;
      case Envelope::kIdentityRenewalRequest:
        registry_.Send(session, csr_.RenewIdentity(cluster, envelope.identity_renewal_request()));
        return;
      case Envelope::kProtocolNack:
        spdlog::warn("hub: cluster {}: the agent refused envelope {}: {}", cluster,
                     envelope.protocol_nack().envelope_id(), envelope.protocol_nack().error());
        return;
      default:
        registry_.SendNack(session, envelope.id(), "unexpected message type " + type);
        return;
    }
  }

  // AuthorizeEnvelope against the mesh bindings, binding meshes seen for the first time.
  Authorization Authorize(const std::string& cluster, const Envelope& envelope) {
    std::lock_guard lock(mu_);  // the bindings: one binder at a time
    AuthorizationContext context{.mesh_owner = mesh_owner_,
                                 .hub_namespace = options_.hub_namespace,
                                 .max_meshes = options_.max_meshes_per_cluster,
                                 .max_objects = options_.max_objects_per_cluster};
    if (envelope.has_discovery_report()) {
      auto [meshes, objects] = reconciler_.facts().CountAfter(cluster, envelope.discovery_report());
      context.counts_after = {meshes, objects};
    }
    Authorization verdict = AuthorizeEnvelope(cluster, envelope, context);
    if (verdict.verdict == Verdict::kAccept && !verdict.meshes_to_bind.empty()) {
      if (Status s = BindMeshesLocked(cluster, verdict.meshes_to_bind); !s.ok()) {
        const bool drop = LinkDispositionOf(s.error().code) == LinkDisposition::kDisconnect;
        verdict = {drop ? Verdict::kClose : Verdict::kNack, s.error().message, {}};
      }
    }
    return verdict;
  }

  void HandleHello(const SessionPtr& session, std::uint64_t envelope_id, const link::v1::Hello& hello) {
    const std::string& cluster = session->cluster;
    Envelope welcome;
    welcome.mutable_welcome()->set_hub_name(options_.hub_name);
    welcome.mutable_welcome()->set_status_interval_seconds(
        static_cast<std::uint32_t>(options_.status_interval.count()));
    if (!registry_.Greet(session, hello, std::move(welcome))) {
      registry_.SendNack(session, envelope_id, "duplicate Hello: the session has started already");
      return;
    }
    if (Status s = deps_.store.MarkConnected(cluster, hello.agent_version(), deps_.clock()); !s.ok()) {
      spdlog::warn("hub: cluster {}: recording the connection: {}", cluster, s.error().message);
    }
    AgentFacts& facts = reconciler_.facts();
    facts.SetDeregistered(cluster, false);  // the identity check passed: registered (again)
    facts.SetConnected(cluster, true);
    TriggerReconcile();
  }

  void HandleAck(const SessionPtr& session, std::uint64_t envelope_id, const link::v1::Ack& ack) {
    const std::string& cluster = session->cluster;
    auto outcome = registry_.Ack(session, ack);
    if (!outcome.ok()) {
      if (LinkDispositionOf(outcome.error().code) == LinkDisposition::kDisconnect) {
        session->connection->Close(CloseCode::kInternalError, outcome.error().message);
      } else {
        registry_.SendNack(session, envelope_id, outcome.error().message);
      }
      return;
    }
    AgentFacts& facts = reconciler_.facts();
    facts.RestartsHeld(cluster, outcome->held);
    // Rejected resources are offered again later: with nothing changed they would stay rejected.
    if (outcome->nack) loop_->AddAfter(kRetryPrefix + cluster, options_.retry_rejected_after);
    if (outcome->rejected_changed) {
      facts.SetRejected(cluster, std::move(outcome->rejected));
      TriggerReconcile();
    }
  }

  void HandleDiscovery(const std::string& cluster, link::v1::DiscoveryReport report) {
    AgentFacts& facts = reconciler_.facts();
    const bool first = !facts.Knows(cluster);
    std::optional<link::v1::IstioSchemas> schemas;
    if (report.has_istio_schemas()) schemas = std::move(*report.mutable_istio_schemas());
    DiscoveryChanges changes = facts.ApplyDiscovery(cluster, std::move(report));
    DiscoveryArrived(cluster);
    if (schemas) facts.SetIstioSchemas(cluster, std::move(*schemas));
    if (first || !changes.meshes.empty() || !changes.destinations.empty() || schemas) {
      spdlog::debug("hub: cluster {}: discovery: {} meshes, {} destinations, {} workloads changed", cluster,
                    changes.meshes.size(), changes.destinations.size(), changes.workloads.size());
      TriggerReconcile();
    }
  }

  void HandleStatus(const std::string& cluster, const link::v1::StatusReport& report) {
    const TimePoint now = deps_.clock();
    if (Status s = deps_.store.MarkHeartbeat(cluster, now); !s.ok()) {
      spdlog::warn("hub: cluster {}: recording a heartbeat: {}", cluster, s.error().message);
    }
    const google::protobuf::Timestamp time = report.has_time() ? report.time() : ToTimestamp(now);
    bool changed = false;
    for (const auto& m : report.meshes()) {
      MeshReport r;
      r.certificate = m.certificate();
      r.errors.assign(m.errors().begin(), m.errors().end());
      r.applied_outputs = m.applied_outputs();
      r.installed_generation = m.installed_generation();
      r.restart_owed_for = m.restart_owed_for();
      r.pending_restarts.assign(m.pending_restarts().begin(), m.pending_restarts().end());
      for (const auto& g : m.gateway_certificates()) {
        r.gateway_certificates.push_back(g.status());
        r.gateway_installed_generations[g.status().role()] = g.installed_generation();
      }
      r.last_report_time = time;
      const bool has_errors = !r.errors.empty();
      if (reconciler_.facts().SetAgentReport(cluster, m.mesh(), std::move(r))) {
        changed = true;
        if (has_errors)
          spdlog::warn("hub: cluster {} mesh {}: agent reports errors: {}", cluster, m.mesh(), m.errors(0));
      }
      if (m.certificate().has_not_after()) {
        csr_.RecordNotAfter(cluster, m.mesh(), static_cast<double>(m.certificate().not_after().seconds()));
      }
    }
    if (changed) TriggerReconcile();
  }

  // Under mu_: binds meshes seen for the first time to `cluster` in the store (reads and a write only on first
  // sight: the bindings are cached in mesh_owner_). Fails when one is bound to another cluster after all (a binding
  // made by another hub process over the same store) or cannot be recorded.
  Status BindMeshesLocked(const std::string& cluster, const std::vector<std::string>& meshes) {
    auto clusters = deps_.store.ListClusters();
    if (!clusters.ok()) return clusters.error().Wrap("listing clusters to bind meshes");
    for (const auto& mesh : meshes) {
      // Names can collide across clusters (cluster "b" with Istio in "x-a" and cluster "a-b" with Istio in "x"
      // both derive istiod-x-a-b): such a name belongs to the known cluster with the longest matching name, so
      // a cluster cannot take a mesh name of one that is registered but has not reported yet.
      for (const auto& other : *clusters) {
        const std::string suffix = "-" + other.name;
        if (other.name.size() > cluster.size() && mesh.size() > suffix.size() &&
            mesh.compare(mesh.size() - suffix.size(), suffix.size(), suffix) == 0) {
          return MakeError("Mesh " + mesh + " is the name of a mesh of cluster \"" + other.name +
                           "\" as well; this connection is cluster \"" + cluster + "\"");
        }
      }
      auto owner = deps_.store.BindMeshIfAbsent(mesh, cluster, deps_.clock());
      if (!owner.ok()) return owner.error().Wrap("Mesh " + mesh + ": recording its owner");
      mesh_owner_[mesh] = *owner;
      if (*owner != cluster) {
        return MakeError("Mesh " + mesh + " is bound to cluster \"" + *owner +
                         "\", which reported it first; this connection is cluster \"" + cluster + "\"");
      }
      spdlog::info("hub: mesh {} is bound to cluster {}", mesh, cluster);
    }
    return OkStatus();
  }

  void MarkDisconnectedInStore(const std::string& cluster) {
    if (Status s = deps_.store.MarkDisconnected(cluster, deps_.clock()); !s.ok()) {
      spdlog::warn("hub: cluster {}: recording the disconnection: {}", cluster, s.error().message);
    }
  }

  HubCoreDeps deps_;
  const HubCoreOptions options_;

  // Lock order: reconciler_mu_, mu_, then the components' own locks (registry, facts, gate, CSR handler).
  mutable std::mutex reconciler_mu_;  // guards the reconciler (held for a whole reconcile), except its facts()
  mutable HubReconciler reconciler_;
  RestartGate gate_;
  SessionRegistry registry_;
  CsrHandler csr_;
  std::unique_ptr<ReconcileLoop> loop_;  // set by Wire()

  mutable std::mutex mu_;  // guards everything below
  bool ready_ = false;
  bool stopped_ = false;
  std::map<std::string, std::string> mesh_owner_;  // mesh name -> cluster
};

class HubCoreImpl final : public HubCore {
 public:
  HubCoreImpl(HubCoreDeps deps, HubCoreOptions options) : core_(Core::Make(deps, std::move(options))) {}
  ~HubCoreImpl() override { core_->Stop(); }

  Status Start() override { return core_->Start(); }
  void Stop() override { core_->Stop(); }
  void StepDown() override { core_->Stop(/*step_down=*/true); }
  bool Ready() const override { return core_->Ready(); }
  link::WebSocketRoute ConnectRoute() override { return core_->ConnectRoute(); }
  link::IdentityCheck IdentityCheck() override { return core_->IdentityCheck(); }
  void TriggerReconcile() override { core_->TriggerReconcile(); }
  void OnDeregistered(const std::string& cluster) override { core_->OnDeregistered(cluster); }
  Result<std::string> RequestMeshRestart(const std::string& mesh) override { return core_->RequestMeshRestart(mesh); }
  Result<std::string> StartRootRotation(const std::string& key) override { return core_->StartRootRotation(key); }
  Result<std::string> AbortRootRotation(const std::string& key) override { return core_->AbortRootRotation(key); }
  std::vector<api::v1::Mesh> Meshes() const override { return core_->Meshes(); }
  std::vector<api::v1::Destination> Destinations() const override { return core_->Destinations(); }
  std::vector<api::v1::Workload> Workloads() const override { return core_->Workloads(); }
  std::vector<SessionInfo> Sessions() const override { return core_->Sessions(); }
  Result<DesiredState> Preview(const api::v1::VirtualMesh& vm) const override { return core_->Preview(vm); }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

HubCorePtr MakeHubCore(HubCoreDeps deps, HubCoreOptions options) {
  return std::make_unique<HubCoreImpl>(deps, std::move(options));
}

}  // namespace vmesh::hub
