#include "hub/session/hub_core.h"

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <future>
#include <mutex>
#include <set>

#include "common/sync/sync.h"
#include "hub/controller/discovery_state.h"
#include "hub/controller/hub_reconciler.h"
#include "hub/session/authorize.h"

namespace vmesh::hub {
namespace {

namespace asio = boost::asio;
using link::CloseCode;
using link::v1::Envelope;

constexpr char kConnectedAgents[] = "vmesh_hub_connected_agents";
constexpr char kMessages[] = "vmesh_hub_messages_total";
constexpr char kBytes[] = "vmesh_hub_bytes_total";
constexpr char kAcks[] = "vmesh_hub_acks_total";
constexpr char kReconcileSeconds[] = "vmesh_hub_reconcile_seconds";
constexpr char kCsrs[] = "vmesh_hub_csrs_total";
constexpr char kCertNotAfter[] = "vmesh_hub_certificate_not_after_seconds";
constexpr std::size_t kMaxCertSeries = 10000;

// After a restart, how long updates wait for every known cluster's first DiscoveryReport (see
// awaiting_discovery_) before the clusters that are back get theirs without the missing ones.
constexpr std::chrono::seconds kRestartDiscoveryGrace{30};

// The oneof field name of an Envelope ("hello", "ack", ...), for metrics and logs.
std::string TypeName(const Envelope& e) {
  if (e.message_case() == Envelope::MESSAGE_NOT_SET) return "unknown";
  const auto* field = Envelope::descriptor()->FindFieldByNumber(e.message_case());
  return field ? field->name() : "unknown";
}

std::string RandomHex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

google::protobuf::Timestamp ToTimestamp(TimePoint t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

bool SameReportIgnoringTime(const MeshReport& a, const MeshReport& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a.certificate, b.certificate) && a.errors == b.errors &&
         a.federated_destinations == b.federated_destinations && a.applied_outputs == b.applied_outputs &&
         a.pending_restarts == b.pending_restarts && a.installed_generation == b.installed_generation;
}

// The mesh a resource of a cluster's set concerns: "cert/<mesh>" and "restart/<mesh>" name it; Kubernetes
// outputs concern every mesh of the cluster ("").
std::string MeshOfResource(const std::string& name) {
  for (const char* prefix : {"cert/", "restart/"}) {
    const std::string p = prefix;
    if (name.rfind(p, 0) == 0) return name.substr(p.size());
  }
  return "";
}

// One WebSocket of an agent. Small on purpose (SPEC §13): the per-cluster state lives in ClusterEntry.
struct Conn {
  std::string cluster;
  link::ConnectionPtr connection;  // set in on_open
  std::atomic<std::uint64_t> next_id{0};
  bool hello_done = false;  // guarded by Core::mu_
  bool retired = false;     // replaced, deregistered or shut down: its end changes nothing
};
using ConnPtr = std::shared_ptr<Conn>;

// What the hub keeps per cluster, across its sessions.
struct ClusterEntry {
  sync::ResourceSender sender;
  ConnPtr live;
  std::string agent_version;
  std::string remote_address;
  // Resources added outside the reconcile (restart directives), kept until the agent ACKs them.
  std::map<std::string, link::v1::Resource> extras;
  // The store and the reconciler see the cluster as connected (from its Hello until its live session ends).
  bool connected = false;
  // The ApplyDesired() call that last gave the sender its desired set, and that set's size.
  std::uint64_t applied_epoch = 0;
  std::size_t desired_count = 0;
  // CSRs the cluster may still have signed (HubCoreOptions::csr_rate); created at its first CSR.
  std::optional<TokenBucket> csr_bucket;
  // Meshes of the cluster with a certificate expiry series (at most max_series_per_cluster).
  std::set<std::string> cert_series;
  bool series_cap_logged = false;
};

// Where a mesh's intermediate comes from: the VirtualMesh whose effective spec claims it (shared trust).
struct CertTarget {
  std::string virtual_mesh;
  api::v1::CommonCertOptions options;
};

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(HubCoreDeps deps, HubCoreOptions options)
      : deps_(deps),
        options_(std::move(options)),
        strand_(asio::make_strand(deps.io)),
        reconcile_timer_(strand_),
        discovery_grace_timer_(strand_),
        reconciler_(deps.store, deps.objects, deps.ca) {
    auto& m = deps_.metrics;
    m.DeclareGauge(kConnectedAgents, "Agents with a live session (Hello received).");
    m.DeclareCounter(kMessages, "Link messages by direction (in|out) and type.");
    m.DeclareCounter(kBytes, "Link message bytes by direction (in|out) and type.");
    m.DeclareCounter(kAcks, "Resource update answers by result (ack|nack).");
    m.DeclareHistogram(kReconcileSeconds, "Duration of one hub reconcile.",
                       {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10});
    m.DeclareCounter(kCsrs, "Intermediate CA CSRs by result (signed|rejected|rate_limited).");
    m.DeclareGauge(kCertNotAfter, "notAfter (Unix seconds) of the newest intermediate of each mesh.");
    // A backstop for the per-cluster cap (SetCertNotAfter): the family as a whole stays bounded too.
    m.LimitSeries(kCertNotAfter, kMaxCertSeries);
    m.Set(kConnectedAgents, {}, 0);
  }

  Status Start() {
    {
      std::lock_guard lock(mu_);
      if (Status s = LoadClustersLocked(); !s.ok()) return s;
    }
    if (!RunReconcile()) ScheduleReconcile(Backoff());
    std::lock_guard lock(mu_);
    ready_ = true;
    return OkStatus();
  }

  Status LoadClustersLocked() {
    auto owners = deps_.store.ListMeshOwners();
    if (!owners.ok()) return owners.error().Wrap("hub core: listing mesh owners");
    mesh_owner_ = std::move(*owners);
    auto clusters = deps_.store.ListClusters();
    if (!clusters.ok()) return clusters.error().Wrap("hub core: listing clusters");
    for (const auto& c : *clusters) {
      if (c.state == ClusterState::kDeregistered) {
        Fact([name = c.name](HubReconciler& r) { r.SetDeregistered(name); });
      }
      // No session survives a restart: a cluster still marked CONNECTED lost its agent with the old process
      // (unless it is already back: the agent listener may open before Start()).
      auto entry = clusters_.find(c.name);
      const bool back = entry != clusters_.end() && entry->second.connected;
      if (c.state == ClusterState::kConnected && !back) {
        if (Status s = deps_.store.MarkDisconnected(c.name, deps_.clock()); !s.ok()) {
          spdlog::warn("hub: cluster {}: marking disconnected after restart: {}", c.name, s.error().message);
        }
      }
      // Clusters that had an agent (a cluster only registered has nothing to report yet).
      const bool had_agent = c.state == ClusterState::kConnected || c.state == ClusterState::kDisconnected;
      if (had_agent && !discovery_.Knows(c.name)) awaiting_discovery_.insert(c.name);
    }
    if (!awaiting_discovery_.empty()) {
      spdlog::info("hub: {} known clusters; updates wait until each reported its discovery (at most {} s)",
                   awaiting_discovery_.size(), kRestartDiscoveryGrace.count());
      asio::post(strand_, [weak = weak_from_this()] {
        auto self = weak.lock();
        if (!self) return;
        self->discovery_grace_timer_.expires_after(kRestartDiscoveryGrace);
        self->discovery_grace_timer_.async_wait(
            asio::bind_executor(self->strand_, [weak](boost::system::error_code ec) {
              auto self = weak.lock();
              if (ec || !self) return;
              std::lock_guard lock(self->mu_);
              if (self->stopped_ || self->awaiting_discovery_.empty()) return;
              std::string missing;
              for (const auto& c : self->awaiting_discovery_) missing += (missing.empty() ? "" : ", ") + c;
              spdlog::warn("hub: no discovery from {} within {} s of the restart; updating the other clusters", missing,
                           kRestartDiscoveryGrace.count());
              self->awaiting_discovery_.clear();
              for (auto& [cluster, entry] : self->clusters_) self->Push(entry);
            }));
      });
    }
    return OkStatus();
  }

  // Under mu_: the cluster's discovery is known now (or it is gone); the last one releases the updates.
  void DiscoveryArrived(const std::string& cluster) {
    if (awaiting_discovery_.erase(cluster) == 0 || !awaiting_discovery_.empty()) return;
    spdlog::info("hub: every known cluster reported its discovery; updates resume");
    TriggerReconcile();  // its result is pushed to every cluster
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      for (auto& [cluster, entry] : clusters_) {
        if (!entry.live) continue;
        entry.live->retired = true;
        if (entry.live->connection) entry.live->connection->Close(CloseCode::kGoingAway, "hub shutting down");
        if (entry.connected) MarkDisconnectedInStore(cluster);
        entry.connected = false;
        entry.sender.Disconnected();
        entry.live.reset();
      }
      deps_.metrics.Set(kConnectedAgents, {}, 0);
    }
    // Timers belong to the strand; cancel them there (bounded: the io_context may already be gone).
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    asio::post(strand_, [self = shared_from_this(), done] {
      self->reconcile_timer_.cancel();
      self->discovery_grace_timer_.cancel();
      for (auto& [cluster, timer] : self->retry_timers_) timer->cancel();
      self->retry_timers_.clear();
      done->set_value();
    });
    future.wait_for(std::chrono::seconds(2));
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

  void TriggerReconcile() {
    asio::post(strand_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->ScheduleOnStrand(self->options_.reconcile_delay, false);
    });
  }

  void OnDeregistered(const std::string& cluster) {
    std::lock_guard lock(mu_);
    auto it = clusters_.find(cluster);
    if (it != clusters_.end()) {
      for (const auto& mesh : it->second.cert_series) deps_.metrics.Remove(kCertNotAfter, {{"mesh", mesh}});
      if (ConnPtr live = it->second.live) {
        live->retired = true;
        if (live->connection) live->connection->Close(CloseCode::kPolicyViolation, "cluster deregistered");
        spdlog::info("hub: cluster {} deregistered: closing its session", cluster);
      }
      clusters_.erase(it);
    }
    DiscoveryArrived(cluster);
    // Its meshes stay known to the reconciler so that a VirtualMesh naming them says "deregistered" (SPEC §4);
    // its destinations go away at once, and users no longer see anything of it.
    const std::vector<api::v1::Mesh> meshes = discovery_.Meshes(cluster);
    std::vector<std::string> keys;
    for (const auto& m : meshes) {
      agent_reports_.erase(MeshKeyOf(m));
      keys.push_back(MeshKeyOf(m));
    }
    discovery_.ForgetCluster(cluster);  // its mesh names stay bound to it (mesh_owner_, the store)
    Fact([cluster, meshes, keys](HubReconciler& r) {
      for (const auto& key : keys) r.SetReport(key, MeshReport{});
      r.SetDiscovery(cluster, meshes, {});
      r.SetDeregistered(cluster);
    });
    UpdateConnectedGauge();
    TriggerReconcile();
  }

  Result<std::string> RequestMeshRestart(const std::string& mesh) {
    std::lock_guard lock(mu_);
    // The owner's agent must have reported it (a deregistered cluster's meshes stay bound but are forgotten).
    auto owner = mesh_owner_.find(mesh);
    std::optional<api::v1::Mesh> reported;
    if (owner != mesh_owner_.end()) {
      for (auto& m : discovery_.Meshes(owner->second)) {
        if (m.metadata().name() == mesh) reported = std::move(m);
      }
    }
    if (!reported) return MakeError("mesh " + mesh + " is not known to the hub: no agent has reported it");
    const std::string& cluster = owner->second;
    link::v1::Resource r;
    r.set_name("restart/" + mesh);
    auto* d = r.mutable_restart();
    d->set_mesh(mesh);
    d->set_request_id(RandomHex(8));
    auto report = agent_reports_.find(MeshKeyOf(*reported));
    if (report != agent_reports_.end()) d->set_certificate_serial(report->second.certificate.serial());
    ClusterEntry& entry = clusters_[cluster];
    entry.extras[r.name()] = r;
    entry.sender.Upsert(r);
    Push(entry);
    spdlog::info("hub: cluster {} mesh {}: restart requested (request {})", cluster, mesh, d->request_id());
    return d->request_id();
  }

  std::vector<api::v1::Mesh> Meshes() const {
    std::lock_guard lock(mu_);
    std::vector<api::v1::Mesh> out;
    for (const auto& c : discovery_.Clusters()) {
      auto ms = discovery_.Meshes(c);
      out.insert(out.end(), ms.begin(), ms.end());
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.metadata().namespace_(), a.metadata().name()) <
             std::tie(b.metadata().namespace_(), b.metadata().name());
    });
    return out;
  }

  std::vector<api::v1::Destination> Destinations() const {
    std::lock_guard lock(mu_);
    std::vector<api::v1::Destination> out;
    for (const auto& c : discovery_.Clusters()) {
      auto ds = discovery_.Destinations(c);
      out.insert(out.end(), ds.begin(), ds.end());
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.metadata().name(), a.spec().cluster(), a.spec().namespace_()) <
             std::tie(b.metadata().name(), b.spec().cluster(), b.spec().namespace_());
    });
    return out;
  }

  std::vector<api::v1::Workload> Workloads() const {
    std::lock_guard lock(mu_);
    std::vector<api::v1::Workload> out;
    for (const auto& c : discovery_.Clusters()) {
      auto ws = discovery_.Workloads(c);
      out.insert(out.end(), ws.begin(), ws.end());
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.metadata().name(), a.spec().cluster(), a.spec().namespace_()) <
             std::tie(b.metadata().name(), b.spec().cluster(), b.spec().namespace_());
    });
    return out;
  }

  std::vector<SessionInfo> Sessions() const {
    std::lock_guard lock(mu_);
    std::vector<SessionInfo> out;
    for (const auto& [cluster, entry] : clusters_) {
      if (!entry.live && entry.remote_address.empty()) continue;  // never had a session
      SessionInfo info;
      info.cluster = cluster;
      info.connected = entry.live && entry.live->hello_done;
      info.remote_address = entry.remote_address;
      info.agent_version = entry.agent_version;
      info.resources_held = entry.sender.agent_versions().size();
      info.in_sync = entry.sender.InSync();
      info.rejected = entry.sender.rejected();
      info.resources_desired = desired_counts_.count(cluster) ? desired_counts_.at(cluster) : 0;
      out.push_back(std::move(info));
    }
    return out;
  }

  Result<DesiredState> Preview(const api::v1::VirtualMesh& vm) const {
    std::lock_guard lock(reconciler_mu_);
    if (!FeedFacts()) return MakeError("the hub is shutting down");
    return reconciler_.Preview(vm, options_.hub_namespace, Rfc3339(deps_.clock()));
  }

 private:
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
    auto conn = std::make_shared<Conn>();
    conn->cluster = *cluster;
    std::weak_ptr<Core> weak = weak_from_this();
    link::ConnectionHandlers handlers;
    handlers.on_open = [weak, conn](const link::ConnectionPtr& c) {
      if (auto self = weak.lock()) self->OnOpen(conn, c);
    };
    handlers.on_message = [weak, conn](const link::ConnectionPtr&, std::string message) {
      if (auto self = weak.lock()) self->OnMessage(conn, std::move(message));
    };
    handlers.on_closed = [weak, conn](const link::ConnectionPtr&, const link::CloseInfo& info) {
      if (auto self = weak.lock()) self->OnClosed(conn, info);
    };
    return link::UpgradeDecision::Accept(std::move(handlers));
  }

  void OnOpen(const ConnPtr& conn, const link::ConnectionPtr& connection) {
    std::lock_guard lock(mu_);
    conn->connection = connection;
    if (stopped_) {
      conn->retired = true;
      connection->Close(CloseCode::kGoingAway, "hub shutting down");
      return;
    }
    ClusterEntry& entry = clusters_[conn->cluster];
    if (ConnPtr old = entry.live; old && old != conn) {
      old->retired = true;
      if (old->connection) old->connection->Close(CloseCode::kPolicyViolation, "replaced by a newer session");
      entry.sender.Disconnected();
      spdlog::info("hub: cluster {}: a new session from {} replaces the one from {}", conn->cluster,
                   connection->remote_address(), entry.remote_address);
    }
    entry.live = conn;
    entry.remote_address = connection->remote_address();
  }

  void OnClosed(const ConnPtr& conn, const link::CloseInfo& info) {
    std::lock_guard lock(mu_);
    if (conn->retired) return;
    auto it = clusters_.find(conn->cluster);
    if (it == clusters_.end() || it->second.live != conn) return;
    ClusterEntry& entry = it->second;
    entry.live.reset();
    entry.sender.Disconnected();
    spdlog::info("hub: cluster {}: session from {} ended: {}", conn->cluster, entry.remote_address, info.ToString());
    if (!entry.connected) return;
    entry.connected = false;
    MarkDisconnectedInStore(conn->cluster);
    Fact([cluster = conn->cluster](HubReconciler& r) { r.SetConnected(cluster, false); });
    UpdateConnectedGauge();
    TriggerReconcile();
  }

  // --- Messages ------------------------------------------------------------------------------------------

  void OnMessage(const ConnPtr& conn, std::string message) {
    Envelope envelope;
    if (!envelope.ParseFromString(message)) {
      deps_.metrics.Increment(kMessages, {{"direction", "in"}, {"type", "undecodable"}});
      deps_.metrics.Increment(kBytes, {{"direction", "in"}, {"type", "undecodable"}},
                              static_cast<double>(message.size()));
      spdlog::warn("hub: cluster {}: undecodable message of {} bytes: closing the session", conn->cluster,
                   message.size());
      if (conn->connection) {
        conn->connection->Close(CloseCode::kUnsupportedData,
                                "undecodable Envelope (" + std::to_string(message.size()) + " bytes)");
      }
      return;
    }
    const std::string type = TypeName(envelope);
    deps_.metrics.Increment(kMessages, {{"direction", "in"}, {"type", type}});
    deps_.metrics.Increment(kBytes, {{"direction", "in"}, {"type", type}}, static_cast<double>(message.size()));

    std::unique_lock lock(mu_);
    if (stopped_ || conn->retired) return;
    if (!conn->hello_done && envelope.message_case() != Envelope::kHello) {
      spdlog::warn("hub: cluster {}: first message is {}, not hello: closing the session", conn->cluster, type);
      conn->connection->Close(CloseCode::kProtocolError, "the first message must be Hello, got " + type);
      return;
    }
    AuthorizationContext context{.mesh_owner = mesh_owner_,
                                 .hub_namespace = options_.hub_namespace,
                                 .max_meshes = options_.max_meshes_per_cluster,
                                 .max_objects = options_.max_objects_per_cluster};
    if (envelope.has_discovery_report()) {
      auto [meshes, objects] = discovery_.CountAfter(conn->cluster, envelope.discovery_report());
      context.counts_after = {meshes, objects};
    }
    Authorization verdict = AuthorizeEnvelope(conn->cluster, envelope, context);
    if (verdict.verdict == Verdict::kAccept && !verdict.meshes_to_bind.empty()) {
      if (Status s = BindMeshes(conn->cluster, verdict.meshes_to_bind); !s.ok()) {
        verdict = {Verdict::kNack, s.error().message, {}};
      }
    }
    if (verdict.verdict == Verdict::kClose) {
      spdlog::warn("hub: cluster {}: {}: closing the session", conn->cluster, verdict.reason);
      conn->connection->Close(CloseCode::kPolicyViolation, verdict.reason);
      return;
    }
    if (verdict.verdict == Verdict::kNack) {
      spdlog::warn("hub: cluster {}: refused {} {}: {}", conn->cluster, type, envelope.id(), verdict.reason);
      if (envelope.message_case() == Envelope::kCertificateSigningRequest) {
        deps_.metrics.Increment(kCsrs, {{"result", "rejected"}});
      }
      SendNack(conn, envelope.id(), verdict.reason);
      return;
    }
    switch (envelope.message_case()) {
      case Envelope::kHello:
        if (conn->hello_done) {
          SendNack(conn, envelope.id(), "duplicate Hello: the session has started already");
        } else {
          HandleHello(conn, envelope.hello());
        }
        return;
      case Envelope::kAck:
        HandleAck(conn, envelope.id(), envelope.ack());
        return;
      case Envelope::kDiscoveryReport:
        HandleDiscovery(conn, envelope.discovery_report());
        return;
      case Envelope::kStatusReport:
        HandleStatus(conn, envelope.status_report());
        return;
      case Envelope::kCertificateSigningRequest: {
        if (auto limited = TakeCsrToken(conn->cluster)) {
          deps_.metrics.Increment(kCsrs, {{"result", "rate_limited"}});
          spdlog::warn("hub: cluster {} mesh {}: CSR {} refused: {}", conn->cluster,
                       envelope.certificate_signing_request().mesh(),
                       envelope.certificate_signing_request().request_id(), *limited);
          SendNack(conn, envelope.id(), *limited);
          return;
        }
        auto request = PrepareCsr(conn, envelope.certificate_signing_request());
        lock.unlock();  // signing (and the store write) does not need the session state
        SignCsr(conn, envelope.certificate_signing_request(), request);
        return;
      }
      case Envelope::kIdentityRenewalRequest: {
        if (auto limited = TakeCsrToken(conn->cluster)) {
          spdlog::warn("hub: cluster {}: identity renewal refused: {}", conn->cluster, *limited);
          Envelope reply;
          reply.mutable_identity_renewal_response()->set_error(*limited);
          Send(conn, reply);
          return;
        }
        lock.unlock();
        link::v1::Envelope reply;
        auto* response = reply.mutable_identity_renewal_response();
        auto cert = deps_.registration.RenewIdentity(conn->cluster, envelope.identity_renewal_request().csr_pem());
        if (cert.ok()) {
          response->set_certificate_pem(*cert);
          spdlog::info("hub: cluster {}: identity renewed", conn->cluster);
        } else {
          response->set_error(cert.error().message);
          spdlog::warn("hub: cluster {}: identity renewal refused: {}", conn->cluster, cert.error().message);
        }
        Send(conn, reply);
        return;
      }
      case Envelope::kProtocolNack:
        spdlog::warn("hub: cluster {}: the agent refused envelope {}: {}", conn->cluster,
                     envelope.protocol_nack().envelope_id(), envelope.protocol_nack().error());
        return;
      default:
        SendNack(conn, envelope.id(), "unexpected message type " + type);
        return;
    }
  }

  void HandleHello(const ConnPtr& conn, const link::v1::Hello& hello) {
    conn->hello_done = true;
    const std::string& cluster = conn->cluster;
    ClusterEntry& entry = clusters_[cluster];
    entry.agent_version = hello.agent_version();
    entry.connected = true;
    if (Status s = deps_.store.MarkConnected(cluster, hello.agent_version(), deps_.clock()); !s.ok()) {
      spdlog::warn("hub: cluster {}: recording the connection: {}", cluster, s.error().message);
    }
    Fact([cluster](HubReconciler& r) {
      r.SetDeregistered(cluster, false);  // the identity check passed: registered (again)
      r.SetConnected(cluster, true);
    });
    Envelope welcome;
    welcome.mutable_welcome()->set_hub_name(options_.hub_name);
    welcome.mutable_welcome()->set_status_interval_seconds(
        static_cast<std::uint32_t>(options_.status_interval.count()));
    Send(conn, welcome);
    entry.sender.Resume(hello);
    spdlog::info("hub: cluster {}: agent {} connected from {}, holding {} resources", cluster, hello.agent_version(),
                 entry.remote_address, hello.resource_versions_size());
    Push(entry);
    UpdateConnectedGauge();
    TriggerReconcile();
  }

  void HandleAck(const ConnPtr& conn, std::uint64_t envelope_id, const link::v1::Ack& ack) {
    const std::string& cluster = conn->cluster;
    ClusterEntry& entry = clusters_[cluster];
    const auto rejected_before = entry.sender.rejected();
    if (Status s = entry.sender.HandleAck(ack); !s.ok()) {
      SendNack(conn, envelope_id, s.error().message);
      return;
    }
    const bool nack = ack.errors_size() > 0;
    deps_.metrics.Increment(kAcks, {{"result", nack ? "nack" : "ack"}});
    for (const auto& e : ack.errors()) {
      spdlog::warn("hub: cluster {}: agent rejected {}: {}", cluster, e.name(), e.message());
    }
    for (auto it = entry.extras.begin(); it != entry.extras.end();) {
      auto held = entry.sender.agent_versions().find(it->first);
      if (held != entry.sender.agent_versions().end() && held->second == sync::ContentVersion(it->second)) {
        it = entry.extras.erase(it);
      } else {
        ++it;
      }
    }
    if (nack) ScheduleRetry(cluster);
    if (entry.sender.rejected() != rejected_before) {
      RefreshReports(cluster);
      TriggerReconcile();
    }
    Push(entry);
  }

  void HandleDiscovery(const ConnPtr& conn, const link::v1::DiscoveryReport& report) {
    const std::string& cluster = conn->cluster;
    const bool first = !discovery_.Knows(cluster);
    link::v1::DiscoveryReport normalized = report;
    auto fill_namespace = [&](auto* list) {
      for (auto& o : *list) {
        if (o.metadata().namespace_().empty()) o.mutable_metadata()->set_namespace_(options_.hub_namespace);
      }
    };
    fill_namespace(normalized.mutable_meshes());
    fill_namespace(normalized.mutable_destinations());
    fill_namespace(normalized.mutable_workloads());
    DiscoveryChanges changes = discovery_.Apply(cluster, normalized);
    DiscoveryArrived(cluster);
    if (!changes.meshes.empty() || !changes.destinations.empty()) {
      Fact([cluster, meshes = discovery_.Meshes(cluster), destinations = discovery_.Destinations(cluster)](
               HubReconciler& r) mutable { r.SetDiscovery(cluster, std::move(meshes), std::move(destinations)); });
    }
    if (report.has_istio_schemas()) {
      Fact([cluster, schemas = report.istio_schemas()](HubReconciler& r) { r.SetIstioSchemas(cluster, schemas); });
    }
    if (first || !changes.meshes.empty() || !changes.destinations.empty() || report.has_istio_schemas()) {
      spdlog::debug("hub: cluster {}: discovery: {} meshes, {} destinations, {} workloads changed", cluster,
                    changes.meshes.size(), changes.destinations.size(), changes.workloads.size());
      TriggerReconcile();
    }
  }

  void HandleStatus(const ConnPtr& conn, const link::v1::StatusReport& report) {
    const std::string& cluster = conn->cluster;
    const TimePoint now = deps_.clock();
    if (Status s = deps_.store.MarkHeartbeat(cluster, now); !s.ok()) {
      spdlog::warn("hub: cluster {}: recording a heartbeat: {}", cluster, s.error().message);
    }
    const google::protobuf::Timestamp time = report.has_time() ? report.time() : ToTimestamp(now);
    bool changed = false;
    for (const auto& m : report.meshes()) {
      const std::string key = MeshKeyOf(cluster, m.mesh());
      MeshReport r;
      r.certificate = m.certificate();
      r.errors.assign(m.errors().begin(), m.errors().end());
      r.applied_outputs = m.applied_outputs();
      r.installed_generation = m.installed_generation();
      r.pending_restarts.assign(m.pending_restarts().begin(), m.pending_restarts().end());
      r.last_report_time = time;
      auto old = agent_reports_.find(key);
      if (old == agent_reports_.end() || !SameReportIgnoringTime(old->second, r)) {
        changed = true;
        if (!r.errors.empty()) {
          spdlog::warn("hub: cluster {} mesh {}: agent reports errors: {}", cluster, m.mesh(), r.errors.front());
        }
      }
      if (m.certificate().has_not_after()) {
        SetCertNotAfter(cluster, m.mesh(), static_cast<double>(m.certificate().not_after().seconds()));
      }
      agent_reports_[key] = std::move(r);
    }
    RefreshReports(cluster);
    if (changed) TriggerReconcile();
  }

  // Under mu_: binds meshes seen for the first time to `cluster` in the store (reads and a write only on first
  // sight: the bindings are cached in mesh_owner_). Fails when one is bound to another cluster after all (a binding
  // made by another hub process over the same store) or cannot be recorded.
  Status BindMeshes(const std::string& cluster, const std::vector<std::string>& meshes) {
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

  // Under mu_: takes one of the cluster's CSR tokens; the refusal naming the limit when there is none.
  std::optional<std::string> TakeCsrToken(const std::string& cluster) {
    ClusterEntry& entry = clusters_[cluster];
    const TimePoint now = deps_.clock();
    if (!entry.csr_bucket) entry.csr_bucket.emplace(options_.csr_rate, now);
    if (entry.csr_bucket->TryTake(now)) return std::nullopt;
    return "CSR rate limit of cluster " + cluster + " exceeded: at most " + options_.csr_rate.ToString() +
           " (vmesh-hub serve --csr-rate-per-minute, --csr-burst); nothing was signed, retry later";
  }

  // Under mu_: the certificate expiry gauge of a mesh of `cluster`. Only meshes the cluster reported get a
  // series, at most max_series_per_cluster of them: label values come from the agent.
  void SetCertNotAfter(const std::string& cluster, const std::string& mesh, double value) {
    bool reported = false;
    for (const auto& m : discovery_.Meshes(cluster)) reported = reported || m.metadata().name() == mesh;
    if (!reported) return;
    ClusterEntry& entry = clusters_[cluster];
    if (!entry.cert_series.count(mesh)) {
      if (entry.cert_series.size() >= options_.max_series_per_cluster) {
        if (!entry.series_cap_logged) {
          spdlog::warn(
              "hub: cluster {}: more than {} meshes with a certificate; {} and later ones are not exported "
              "as {}",
              cluster, options_.max_series_per_cluster, mesh, kCertNotAfter);
        }
        entry.series_cap_logged = true;
        return;
      }
      entry.cert_series.insert(mesh);
    }
    deps_.metrics.Set(kCertNotAfter, {{"mesh", mesh}}, value);
  }

  // Under mu_: what signing a CSR needs, or why it cannot be signed.
  Result<IntermediateRequest> PrepareCsr(const ConnPtr& conn, const link::v1::CertificateSigningRequest& csr) {
    std::optional<api::v1::Mesh> mesh;
    for (auto& m : discovery_.Meshes(conn->cluster)) {
      if (m.metadata().name() == csr.mesh()) mesh = std::move(m);
    }
    if (!mesh) return MakeError("mesh " + csr.mesh() + " has not been reported by cluster " + conn->cluster);
    auto target = cert_targets_.find(csr.mesh());
    if (target == cert_targets_.end()) {
      return MakeError("mesh " + csr.mesh() + " is not an active member of a VirtualMesh with shared trust");
    }
    IntermediateRequest request;
    request.virtual_mesh = target->second.virtual_mesh;
    request.requesting_cluster = conn->cluster;
    request.mesh = std::move(*mesh);
    request.csr_pem = csr.csr_pem();
    request.options = target->second.options;
    return request;
  }

  void SignCsr(const ConnPtr& conn, const link::v1::CertificateSigningRequest& csr,
               const Result<IntermediateRequest>& request) {
    Envelope reply;
    auto* issued = reply.mutable_issued_certificate();
    issued->set_mesh(csr.mesh());
    issued->set_request_id(csr.request_id());
    std::string error;
    if (!request.ok()) {
      error = request.error().message;
    } else {
      auto root = deps_.ca.LoadRoot(request->virtual_mesh);
      auto cert = root.ok() ? deps_.ca.IssueIntermediate(*root, *request) : Result<IssuedIntermediate>(root.error());
      if (cert.ok()) {
        issued->set_certificate_chain_pem(cert->certificate_chain_pem);
        issued->set_root_pem(cert->root_pem);
        deps_.metrics.Increment(kCsrs, {{"result", "signed"}});
        {
          std::lock_guard lock(mu_);
          SetCertNotAfter(
              conn->cluster, csr.mesh(),
              static_cast<double>(
                  std::chrono::duration_cast<std::chrono::seconds>(cert->not_after.time_since_epoch()).count()));
        }
        spdlog::info("hub: cluster {} mesh {}: signed intermediate {} for VirtualMesh {}", conn->cluster, csr.mesh(),
                     cert->serial, request->virtual_mesh);
      } else {
        error = cert.error().message;
      }
    }
    if (!error.empty()) {
      issued->set_error(error);
      deps_.metrics.Increment(kCsrs, {{"result", "rejected"}});
      spdlog::warn("hub: cluster {} mesh {}: CSR {} refused: {}", conn->cluster, csr.mesh(), csr.request_id(), error);
    }
    Send(conn, reply);
  }

  // --- Sending --------------------------------------------------------------------------------------------

  void Send(const ConnPtr& conn, Envelope& envelope) {
    if (!conn->connection) return;
    envelope.set_id(++conn->next_id);
    std::string bytes = envelope.SerializeAsString();
    const std::string type = TypeName(envelope);
    deps_.metrics.Increment(kMessages, {{"direction", "out"}, {"type", type}});
    deps_.metrics.Increment(kBytes, {{"direction", "out"}, {"type", type}}, static_cast<double>(bytes.size()));
    if (Status s = conn->connection->Send(std::move(bytes)); !s.ok()) {
      spdlog::warn("hub: cluster {}: sending {}: {}", conn->cluster, type, s.error().message);
    }
  }

  void SendNack(const ConnPtr& conn, std::uint64_t envelope_id, const std::string& error) {
    Envelope nack;
    nack.mutable_protocol_nack()->set_envelope_id(envelope_id);
    nack.mutable_protocol_nack()->set_error(error);
    Send(conn, nack);
  }

  // Under mu_: sends the cluster's next update if its agent is in session, has reported its discovery (so that
  // after a hub restart nothing is removed only because the hub does not know the cluster yet), every known
  // cluster has (awaiting_discovery_: nor because it does not know the others yet), and nothing is in flight.
  void Push(ClusterEntry& entry) {
    if (!entry.live || !entry.live->hello_done || !discovery_.Knows(entry.live->cluster)) return;
    if (!awaiting_discovery_.empty()) return;
    auto update = entry.sender.NextUpdate();
    if (!update) return;
    Envelope envelope;
    *envelope.mutable_resource_update() = std::move(*update);
    Send(entry.live, envelope);
  }

  // --- Reports --------------------------------------------------------------------------------------------

  std::string MeshKeyOf(const api::v1::Mesh& m) const {
    return m.metadata().name() + "." +
           (m.metadata().namespace_().empty() ? options_.hub_namespace : m.metadata().namespace_());
  }
  std::string MeshKeyOf(const std::string& cluster, const std::string& mesh) const {
    for (const auto& m : discovery_.Meshes(cluster)) {
      if (m.metadata().name() == mesh) return MeshKeyOf(m);
    }
    return mesh + "." + options_.hub_namespace;
  }

  // Under mu_: the reconciler's report of each mesh of `cluster` = what its agent last reported, plus the
  // resources the agent rejected (SPEC §4 FAILED: the agent's message).
  void RefreshReports(const std::string& cluster) {
    auto entry = clusters_.find(cluster);
    for (const auto& m : discovery_.Meshes(cluster)) {
      const std::string key = MeshKeyOf(m);
      auto agent = agent_reports_.find(key);
      // An empty report means the same to the status as none.
      MeshReport report = agent == agent_reports_.end() ? MeshReport{} : agent->second;
      if (entry != clusters_.end()) {
        for (const auto& [name, message] : entry->second.sender.rejected()) {
          const std::string mesh = MeshOfResource(name);
          if (!mesh.empty() && mesh != m.metadata().name()) continue;
          report.errors.push_back("cluster " + cluster + " rejected " + name + ": " + message);
        }
      }
      Fact([key, report = std::move(report)](HubReconciler& r) mutable { r.SetReport(key, std::move(report)); });
    }
  }

  void MarkDisconnectedInStore(const std::string& cluster) {
    if (Status s = deps_.store.MarkDisconnected(cluster, deps_.clock()); !s.ok()) {
      spdlog::warn("hub: cluster {}: recording the disconnection: {}", cluster, s.error().message);
    }
  }

  void UpdateConnectedGauge() {
    std::size_t n = 0;
    for (const auto& [cluster, entry] : clusters_) n += entry.live && entry.live->hello_done ? 1 : 0;
    deps_.metrics.Set(kConnectedAgents, {}, static_cast<double>(n));
  }

  // --- Reconcile ------------------------------------------------------------------------------------------

  std::chrono::milliseconds Backoff() const {
    const int shift = std::min(failures_.load(), 9);
    return std::min(std::chrono::milliseconds(100) * (1 << shift), std::chrono::milliseconds(30000));
  }

  // Any thread: a reconcile after `delay` (coalesced with one already scheduled).
  void ScheduleReconcile(std::chrono::milliseconds delay) {
    asio::post(strand_, [weak = weak_from_this(), delay] {
      if (auto self = weak.lock()) self->ScheduleOnStrand(delay, true);
    });
  }

  // On the strand. `force`: replaces a scheduled reconcile's time (backoff after a failure).
  void ScheduleOnStrand(std::chrono::milliseconds delay, bool force) {
    if (reconcile_scheduled_ && !force) return;
    reconcile_scheduled_ = true;
    reconcile_timer_.expires_after(delay);
    reconcile_timer_.async_wait(asio::bind_executor(strand_, [weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self) return;
      self->reconcile_scheduled_ = false;
      if (!self->RunReconcile()) self->ScheduleOnStrand(self->Backoff(), true);
    }));
  }

  // Under mu_: a fact for the reconciler, fed to it at the start of the next reconcile. The reconciler is not
  // touched by sessions directly, so that a long reconcile (e.g. generating an RSA root) never stalls them.
  void Fact(std::function<void(HubReconciler&)> fact) { facts_.push_back(std::move(fact)); }

  // Under reconciler_mu_ (not mu_): gives the reconciler the facts so far. False when stopped.
  bool FeedFacts() const {
    std::vector<std::function<void(HubReconciler&)>> facts;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return false;
      facts.swap(facts_);
    }
    for (auto& fact : facts) fact(reconciler_);
    return true;
  }

  // Not under mu_: one reconcile over the facts so far, its result pushed to every cluster. False on failure
  // (logged), true also when stopped.
  bool RunReconcile() {
    std::lock_guard reconciling(reconciler_mu_);
    if (!FeedFacts()) return true;
    const auto start = std::chrono::steady_clock::now();
    auto desired = reconciler_.Reconcile();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    deps_.metrics.Observe(kReconcileSeconds, {}, took.count());
    if (!desired.ok()) {
      ++failures_;
      spdlog::error("hub: reconcile failed (attempt {}, retrying in {} ms): {}", failures_, Backoff().count(),
                    desired.error().message);
      return false;
    }
    failures_ = 0;
    // When exactly one incremental computation happened since the last applied result, only the clusters it
    // changed need their senders updated (the others' desired sets are what they already have).
    const IncrementalDesiredState& incremental = reconciler_.incremental();
    const std::uint64_t computes = incremental.full_computes() + incremental.incremental_computes();
    const bool only_changed = !incremental.last_was_full() && computes == applied_computes_ + 1;
    applied_computes_ = computes;
    std::optional<std::set<std::string>> changed;
    if (only_changed) {
      changed = incremental.changed_clusters();
      changed->insert(desired->revalidated_clusters.begin(), desired->revalidated_clusters.end());
    }
    std::lock_guard lock(mu_);
    if (!stopped_) ApplyDesired(std::move(*desired), changed ? &*changed : nullptr);
    return true;
  }

  // `changed`: when set, clusters absent from it keep the desired set they were given by the previous call.
  void ApplyDesired(DesiredState desired, const std::set<std::string>* changed) {
    ++apply_epoch_;
    cert_targets_.clear();
    for (const auto& result : desired.statuses) {
      if (!result.effective_spec || !result.effective_spec->mtls_config().has_shared()) continue;
      const auto& options = result.effective_spec->mtls_config().shared().intermediate_cert_options();
      for (const auto& key : result.active_meshes) {
        // Keys are "<name>.<namespace>"; mesh names are unique within the hub namespace.
        const std::string name = key.substr(0, key.rfind('.'));
        cert_targets_[name] = CertTarget{result.key, options};
      }
    }
    desired_counts_.clear();
    for (auto& [cluster, resources] : desired.resources) clusters_[cluster];  // make sure every cluster has one
    for (auto& [cluster, entry] : clusters_) {
      if (changed && !changed->count(cluster) && entry.applied_epoch == apply_epoch_ - 1) {
        entry.applied_epoch = apply_epoch_;
        desired_counts_[cluster] = entry.desired_count;
        Push(entry);  // e.g. held back until every cluster re-reported after a hub restart
        continue;
      }
      std::vector<link::v1::Resource> resources;
      if (auto it = desired.resources.find(cluster); it != desired.resources.end()) resources = std::move(it->second);
      for (const auto& [name, r] : entry.extras) resources.push_back(r);
      desired_counts_[cluster] = resources.size();
      entry.desired_count = resources.size();
      entry.applied_epoch = apply_epoch_;
      entry.sender.SetDesiredVersioned(std::move(resources));  // versions set by the reconciler (or empty)
      Push(entry);
    }
  }

  // --- Rejected resources ---------------------------------------------------------------------------------

  // Under mu_: offer the cluster's rejected resources again after retry_rejected_after.
  void ScheduleRetry(const std::string& cluster) {
    asio::post(strand_, [weak = weak_from_this(), cluster] {
      auto self = weak.lock();
      if (!self || self->retry_timers_.count(cluster)) return;
      auto& timer = self->retry_timers_[cluster];
      timer = std::make_unique<asio::steady_timer>(self->strand_, self->options_.retry_rejected_after);
      timer->async_wait(asio::bind_executor(self->strand_, [weak, cluster](boost::system::error_code ec) {
        if (ec) return;
        auto self = weak.lock();
        if (!self) return;
        self->retry_timers_.erase(cluster);
        std::lock_guard lock(self->mu_);
        if (self->stopped_) return;
        auto it = self->clusters_.find(cluster);
        if (it == self->clusters_.end() || it->second.sender.rejected().empty()) return;
        spdlog::info("hub: cluster {}: offering {} rejected resources again", cluster,
                     it->second.sender.rejected().size());
        it->second.sender.RetryRejected();
        self->Push(it->second);
      }));
    });
  }

  HubCoreDeps deps_;
  const HubCoreOptions options_;
  asio::strand<asio::io_context::executor_type> strand_;

  // Strand-confined.
  asio::steady_timer reconcile_timer_;
  asio::steady_timer discovery_grace_timer_;
  bool reconcile_scheduled_ = false;
  std::map<std::string, std::unique_ptr<asio::steady_timer>> retry_timers_;

  // Lock order: reconciler_mu_, then mu_.
  mutable std::mutex reconciler_mu_;  // guards the reconciler (held for a whole reconcile)
  mutable HubReconciler reconciler_;
  std::atomic<int> failures_{0};

  mutable std::mutex mu_;  // guards everything below
  bool ready_ = false;
  bool stopped_ = false;
  mutable std::vector<std::function<void(HubReconciler&)>> facts_;
  DiscoveryState discovery_;
  std::map<std::string, std::string> mesh_owner_;  // mesh name -> cluster
  // After a restart: the clusters known from the store whose first DiscoveryReport has not arrived yet. Until
  // it is empty (or kRestartDiscoveryGrace passed) no cluster gets updates: a cluster's outputs depend on the
  // other clusters' destinations, and a hub that does not know them yet would remove them from the clusters
  // that come back first and add them again later (SPEC §5.4: a hub outage has no effect on clusters).
  std::set<std::string> awaiting_discovery_;
  std::map<std::string, ClusterEntry> clusters_;
  std::map<std::string, MeshReport> agent_reports_;  // mesh key -> what its agent last reported
  std::map<std::string, CertTarget> cert_targets_;   // mesh name -> its VirtualMesh (shared trust)
  std::map<std::string, std::size_t> desired_counts_;
  std::uint64_t apply_epoch_ = 0;       // ApplyDesired() calls (under mu_)
  std::uint64_t applied_computes_ = 0;  // the reconciler's computations when its last result was applied
};

class HubCoreImpl final : public HubCore {
 public:
  HubCoreImpl(HubCoreDeps deps, HubCoreOptions options) : core_(std::make_shared<Core>(deps, std::move(options))) {}
  ~HubCoreImpl() override { core_->Stop(); }

  Status Start() override { return core_->Start(); }
  void Stop() override { core_->Stop(); }
  bool Ready() const override { return core_->Ready(); }
  link::WebSocketRoute ConnectRoute() override { return core_->ConnectRoute(); }
  link::IdentityCheck IdentityCheck() override { return core_->IdentityCheck(); }
  void TriggerReconcile() override { core_->TriggerReconcile(); }
  void OnDeregistered(const std::string& cluster) override { core_->OnDeregistered(cluster); }
  Result<std::string> RequestMeshRestart(const std::string& mesh) override { return core_->RequestMeshRestart(mesh); }
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
