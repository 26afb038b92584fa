#include "agent/runtime/hub_link.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <deque>
#include <future>
#include <mutex>
#include <set>

#include "agent/runtime/state_objects.h"
#include "common/base/resource_names.h"
#include "common/link/client.h"
#include "common/sync/sync.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

using link::v1::Envelope;

class ConfigMapSyncStateStore final : public SyncStateStore {
 public:
  ConfigMapSyncStateStore(kube::KubeClient& client, std::string ns, std::string name)
      : client_(client), ns_(std::move(ns)), name_(std::move(name)) {}

  asio::awaitable<Result<SyncState>> Load() override {
    auto data = co_await ReadStateObject(client_, StateKind::kConfigMap, ns_, name_);
    if (!data.ok()) co_return data.error();
    SyncState state;
    if (!data->has_value()) co_return state;
    auto it = (*data)->find("state.json");
    if (it == (*data)->end()) co_return state;
    boost::system::error_code ec;
    json::value v = json::parse(it->second, ec);
    const std::string where = "ConfigMap " + ns_ + "/" + name_ + " state.json";
    if (ec || !v.is_object()) co_return MakeError(where + ": not a JSON object");
    const json::object& o = v.get_object();
    if (const json::value* sv = o.if_contains("systemVersion"); sv && sv->is_string()) {
      state.system_version = std::string(sv->get_string());
    }
    if (const json::value* rs = o.if_contains("resources"); rs && rs->is_object()) {
      for (const auto& [name, version] : rs->get_object()) {
        if (!version.is_string()) co_return MakeError(where + ": resources." + std::string(name) + " is not a string");
        state.held[std::string(name)] = std::string(version.get_string());
      }
    }
    co_return state;
  }

  asio::awaitable<Status> Save(const SyncState& state) override {
    json::object resources;
    for (const auto& [name, version] : state.held) resources[name] = version;
    json::object o{{"systemVersion", state.system_version}, {"resources", std::move(resources)}};
    StateData data;
    data["state.json"] = json::serialize(o);
    co_return co_await WriteStateObject(client_, StateKind::kConfigMap, ns_, name_, std::move(data));
  }

 private:
  kube::KubeClient& client_;
  std::string ns_;
  std::string name_;
};

class MemorySyncStateStore final : public SyncStateStore {
 public:
  asio::awaitable<Result<SyncState>> Load() override { co_return state_; }
  asio::awaitable<Status> Save(const SyncState& state) override {
    state_ = state;
    co_return OkStatus();
  }

 private:
  SyncState state_;
};

// "hello", "resource_update", ...: the oneof field's name, for logs and metric labels.
std::string MessageType(const Envelope& envelope) {
  const auto* field = Envelope::descriptor()->FindFieldByNumber(envelope.message_case());
  return field ? field->name() : "unknown";
}

Result<std::string> ConnectUrl(const std::string& hub_url) {
  auto url = link::Url::Parse(hub_url);
  if (!url.ok()) return url.error().Wrap("hub URL " + hub_url);
  if (url->scheme != "wss") return MakeError("hub URL " + hub_url + ": expected wss://");
  url->target = "/v1/connect";
  return url->ToString();
}

// Runs `task` on `io` and waits for it (from a thread that is not running `io`).
template <typename T>
T RunOn(asio::io_context& io, asio::awaitable<T> task) {
  std::promise<T> promise;
  auto future = promise.get_future();
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { promise.set_value(co_await std::move(task)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  return future.get();
}

}  // namespace

SyncStateStorePtr MakeConfigMapSyncStateStore(kube::KubeClient& client, std::string state_namespace, std::string name) {
  return std::make_unique<ConfigMapSyncStateStore>(client, std::move(state_namespace), std::move(name));
}

SyncStateStorePtr MakeMemorySyncStateStore() { return std::make_unique<MemorySyncStateStore>(); }

void DeclareHubLinkMetrics(metrics::Registry& registry) {
  registry.DeclareCounter("vmesh_agent_link_messages_total", "Messages exchanged with the hub, by direction and type");
  registry.DeclareCounter("vmesh_agent_link_bytes_total", "Bytes of messages exchanged with the hub");
  registry.DeclareCounter("vmesh_agent_acks_total", "Resource updates acknowledged without error");
  registry.DeclareCounter("vmesh_agent_nacks_total", "Resource updates acknowledged with errors (NACK)");
  registry.DeclareCounter("vmesh_agent_resources_applied_total", "Resources applied or removed, by outcome");
  registry.DeclareCounter("vmesh_agent_sessions_total", "Sessions the hub welcomed");
  registry.DeclareGauge("vmesh_agent_hub_connected", "1 while a session with the hub is up");
  registry.DeclareGauge("vmesh_agent_resources_held", "Resources from the hub the agent holds");
  registry.DeclareGauge("vmesh_agent_identity_not_after_seconds", "Expiry of the agent's client certificate");
  registry.DeclareCounter("vmesh_agent_identity_renewals_total", "Client certificate renewals, by outcome");
}

struct HubLink::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, AgentIdentity id, IdentityStore& identities, SyncStateStore& sync_store,
       HubLinkOptions options)
      : io(io),
        identities(identities),
        sync_store(sync_store),
        options(std::move(options)),
        identity(std::move(id)),
        renewal_timer(io) {
    if (!this->options.clock) this->options.clock = [] { return std::chrono::system_clock::now(); };
  }

  asio::io_context& io;
  IdentityStore& identities;
  SyncStateStore& sync_store;
  HubLinkOptions options;

  mutable std::mutex mu;
  AgentIdentity identity;  // guarded by mu

  std::atomic<bool> welcomed{false};
  std::atomic<bool> synced{false};
  std::atomic<int> sessions{0};
  std::atomic<bool> stopped{false};
  std::atomic<std::uint64_t> next_envelope_id{1};

  // Below: io thread only.
  AgentCore* core = nullptr;
  std::unique_ptr<sync::ResourceReceiver> receiver;
  std::unique_ptr<link::ReconnectingClient> client;
  link::ConnectionPtr conn;  // the current session's connection
  std::deque<std::pair<link::Connection*, link::v1::ResourceUpdate>> updates;
  bool draining = false;
  bool pruned = false;                         // the core pruned against a complete desired set
  std::optional<std::string> renewal_key_pem;  // the key of the renewal in flight
  pki::TimePoint renew_at = pki::TimePoint::max();
  asio::steady_timer renewal_timer;
  std::shared_ptr<asio::steady_timer> status_timer;

  void Count(const char* direction, const std::string& type, std::size_t bytes) {
    if (!options.metrics) return;
    options.metrics->Increment("vmesh_agent_link_messages_total", {{"direction", direction}, {"type", type}});
    options.metrics->Increment("vmesh_agent_link_bytes_total", {{"direction", direction}, {"type", type}},
                               static_cast<double>(bytes));
  }

  void Gauge(const char* name, double value) {
    if (options.metrics) options.metrics->Set(name, {}, value);
  }

  Status SendOn(const link::ConnectionPtr& c, Envelope envelope) {
    if (!c) return MakeError("no session with the hub");
    envelope.set_id(next_envelope_id++);
    std::string type = MessageType(envelope);
    std::string bytes = envelope.SerializeAsString();
    const std::size_t size = bytes.size();
    Status s = c->Send(std::move(bytes));
    if (s.ok()) Count("sent", type, size);
    return s;
  }

  // For the core: only within a welcomed session.
  Status Send(Envelope envelope) {
    if (!welcomed) return MakeError("no session with the hub");
    return SendOn(client ? client->connection() : nullptr, std::move(envelope));
  }

  void UpdateRenewalTime() {
    auto at = RenewalTime(identity_copy().certificate_pem);
    renew_at = at.ok() ? *at : pki::TimePoint::max();
    if (auto cert = pki::Certificate::FromPem(identity_copy().certificate_pem); cert.ok()) {
      Gauge("vmesh_agent_identity_not_after_seconds",
            static_cast<double>(
                std::chrono::duration_cast<std::chrono::seconds>(cert->not_after().time_since_epoch()).count()));
    }
  }

  AgentIdentity identity_copy() const {
    std::lock_guard lock(mu);
    return identity;
  }

  // --- connection events (io thread) ---

  void OnConnected(const link::ConnectionPtr& c) {
    conn = c;
    welcomed = false;
    Envelope hello;
    *hello.mutable_hello() = receiver->MakeHello(identity_copy().cluster, options.agent_version);
    spdlog::info("connected to the hub at {}; hello with {} held resources (system version \"{}\")",
                 c->remote_address(), receiver->held().size(), receiver->system_version());
    if (Status s = SendOn(c, std::move(hello)); !s.ok()) {
      spdlog::warn("sending hello failed: {}", s.error().message);
      c->Close(link::CloseCode::kInternalError, "hello failed");
    }
  }

  void OnDisconnected(const link::DisconnectInfo& info) {
    const bool had_session = welcomed.exchange(false);
    conn.reset();
    updates.clear();  // not started: the hub resends what this agent does not hold
    renewal_key_pem.reset();
    if (status_timer) status_timer->cancel();
    status_timer.reset();
    Gauge("vmesh_agent_hub_connected", 0);
    if (had_session && core) core->OnSessionEnded();
    const double retry_s = static_cast<double>(info.retry_in.count()) / 1000.0;
    if (stopped) return;
    if (info.close && info.close->code == link::CloseCode::kPolicyViolation) {
      spdlog::error(
          "the hub closed the session of cluster {} with 1008 ({}): the cluster was deregistered or its identity "
          "revoked; register it again (vmeshctl cluster register) and restart the agent with the new bundle "
          "after deleting its stored identity; retrying in {:.1f}s",
          identity_copy().cluster, info.close->reason, retry_s);
    } else if (info.was_connected) {
      spdlog::warn("lost the hub session: {}; reconnecting in {:.1f}s", info.reason, retry_s);
    } else {
      spdlog::warn("cannot connect to the hub: {}; retrying in {:.1f}s (attempt {})", info.reason, retry_s,
                   info.attempt);
    }
  }

  void OnMessage(const link::ConnectionPtr& c, const std::string& bytes) {
    if (c != conn) return;  // a late message of an ended session
    Envelope envelope;
    if (!envelope.ParseFromString(bytes)) {
      spdlog::warn("undecodable frame from the hub ({} bytes); closing the session", bytes.size());
      c->Close(link::CloseCode::kProtocolError, "undecodable frame");
      return;
    }
    const std::string type = MessageType(envelope);
    Count("received", type, bytes.size());
    switch (envelope.message_case()) {
      case Envelope::kWelcome:
        OnWelcome(envelope.welcome());
        break;
      case Envelope::kResourceUpdate:
        updates.emplace_back(c.get(), envelope.resource_update());
        if (!draining) {
          draining = true;
          asio::co_spawn(io, DrainUpdates(shared_from_this()), asio::detached);
        }
        break;
      case Envelope::kIssuedCertificate:
        if (core) {
          asio::co_spawn(
              io,
              [self = shared_from_this(), issued = envelope.issued_certificate()]() -> asio::awaitable<void> {
                co_await self->core->OnIssuedCertificate(issued);
                // The certificate phase just changed (INSTALLED or FAILED): tell the hub now rather than at the
                // next status tick, so that status follows the cluster closely.
                if (!self->stopped) self->SendStatus();
              },
              asio::detached);
        }
        break;
      case Envelope::kIdentityRenewalResponse:
        asio::co_spawn(io, OnRenewal(shared_from_this(), envelope.identity_renewal_response()), asio::detached);
        break;
      case Envelope::kProtocolNack:
        spdlog::warn("the hub refused message {}: {}", envelope.protocol_nack().envelope_id(),
                     envelope.protocol_nack().error());
        break;
      default: {
        Envelope nack;
        nack.mutable_protocol_nack()->set_envelope_id(envelope.id());
        nack.mutable_protocol_nack()->set_error("the agent does not handle " + type + " messages");
        (void)SendOn(c, std::move(nack));
        break;
      }
    }
  }

  void OnWelcome(const link::v1::Welcome& welcome) {
    if (welcomed) return;
    welcomed = true;
    synced = true;
    ++sessions;
    if (options.metrics) options.metrics->Increment("vmesh_agent_sessions_total");
    Gauge("vmesh_agent_hub_connected", 1);
    const auto interval = std::chrono::seconds(std::max<std::uint32_t>(1, welcome.status_interval_seconds()));
    spdlog::info("session with hub {} started (status every {}s)", welcome.hub_name(), interval.count());
    if (core) core->OnSessionStarted(interval);
    status_timer = std::make_shared<asio::steady_timer>(io);
    asio::co_spawn(io, StatusLoop(shared_from_this(), status_timer, interval), asio::detached);
    MaybeRenew();
  }

  void SendStatus() {
    if (!core) return;
    Envelope envelope;
    *envelope.mutable_status_report() = core->MakeStatusReport();
    // Outputs this agent holds (applied and ACKed) in its cluster, for every mesh of the cluster.
    std::uint32_t outputs = 0;
    if (receiver) {
      for (const auto& [name, version] : receiver->held())
        outputs += LinkResourceTypeOf(name) == LinkResourceType::kKube ? 1 : 0;
    }
    for (auto& mesh : *envelope.mutable_status_report()->mutable_meshes()) {
      if (mesh.applied_outputs() == 0) mesh.set_applied_outputs(outputs);
    }
    auto* time = envelope.mutable_status_report()->mutable_time();
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    time->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(now).count());
    (void)Send(std::move(envelope));
  }

  static asio::awaitable<void> StatusLoop(std::shared_ptr<Impl> self, std::shared_ptr<asio::steady_timer> timer,
                                          std::chrono::seconds interval) {
    while (!self->stopped && self->status_timer == timer) {
      self->SendStatus();
      timer->expires_after(interval);
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
  }

  static asio::awaitable<void> DrainUpdates(std::shared_ptr<Impl> self) {
    while (!self->updates.empty() && !self->stopped) {
      auto [from, update] = std::move(self->updates.front());
      self->updates.pop_front();
      if (!self->conn || self->conn.get() != from) continue;
      sync::ResourceReceiver& receiver = *self->receiver;
      link::v1::Ack ack = receiver.StartAck(update);
      for (const link::v1::Resource* r : receiver.UpsertsToApply(update)) {
        Status s = co_await self->core->ApplyResource(*r);
        if (!s.ok()) spdlog::warn("resource {} rejected: {}", r->name(), s.error().message);
        self->CountApplied(s);
        receiver.RecordUpsert(*r, s, ack);
      }
      for (const std::string& name : receiver.RemovalsToApply(update)) {
        Status s = co_await self->core->RemoveResource(name);
        if (!s.ok()) spdlog::warn("removing resource {} failed: {}", name, s.error().message);
        self->CountApplied(s);
        receiver.RecordRemoval(name, s, ack);
      }
      std::set<std::string> refused;
      for (const auto& e : ack.errors()) refused.insert(e.name());
      receiver.FinishAck(update, ack);
      self->Gauge("vmesh_agent_resources_held", static_cast<double>(receiver.held().size()));
      // Persist before answering: once the hub believes the agent holds a version, a restarted agent must too.
      SyncState state{receiver.held(), receiver.system_version()};
      if (Status s = co_await self->sync_store.Save(state); !s.ok()) {
        spdlog::warn("could not persist the held resource versions ({}); a restart will re-apply them",
                     s.error().message);
      }
      if (self->options.metrics) {
        self->options.metrics->Increment(ack.accepted() ? "vmesh_agent_acks_total" : "vmesh_agent_nacks_total");
      }
      if (self->conn && self->conn.get() == from) {  // else the session ended meanwhile: the Ack is moot
        spdlog::debug("update {} (system version {}): {} upserts, {} removals, {} errors", update.nonce(),
                      update.system_version(), update.upserts_size(), update.removals_size(), ack.errors_size());
        Envelope envelope;
        *envelope.mutable_ack() = std::move(ack);
        if (Status s = self->SendOn(self->conn, std::move(envelope)); !s.ok()) {
          spdlog::warn("sending the ack failed: {}", s.error().message);
        }
        self->SendStatus();  // applied outputs and certificate phases changed with the update
      }
      co_await self->PruneOnce(std::move(refused));
    }
    self->draining = false;
  }

  // The first update of a session carries every difference between what the Hello said the agent holds and
  // what the hub wants: once it is applied, what the agent holds (and what it just refused) is the hub's whole
  // desired set. Only then — never before any update, so never on a partial view — are outputs outside it
  // pruned; once per process (orphans come from an earlier run), retried after later updates until the core
  // did it. Runs between updates, so no apply races the prune's listing.
  asio::awaitable<void> PruneOnce(std::set<std::string> refused) {
    if (pruned || !core || stopped) co_return;
    std::set<std::string> desired = std::move(refused);
    for (const auto& [name, version] : receiver->held()) desired.insert(name);
    auto done = co_await core->PruneOutputs(desired);
    if (!done.ok()) {
      spdlog::warn("pruning outputs left by an earlier run failed ({}); trying again after the next update",
                   done.error().message);
      co_return;
    }
    pruned = *done;
  }

  void CountApplied(const Status& s) {
    if (options.metrics) {
      options.metrics->Increment("vmesh_agent_resources_applied_total", {{"outcome", s.ok() ? "ok" : "error"}});
    }
  }

  // --- identity renewal ---

  void MaybeRenew() {
    if (welcomed && !renewal_key_pem && options.clock() >= renew_at) StartRenewal();
  }

  void StartRenewal() {
    if (!welcomed || renewal_key_pem) return;
    auto fresh = NewIdentityKey(identity_copy().cluster);
    if (!fresh.ok()) {
      spdlog::error("identity renewal: {}", fresh.error().message);
      return;
    }
    Envelope envelope;
    envelope.mutable_identity_renewal_request()->set_csr_pem(fresh->csr.ToPem());
    if (Status s = SendOn(conn, std::move(envelope)); !s.ok()) {
      spdlog::warn("identity renewal: sending the request failed: {}", s.error().message);
      return;
    }
    renewal_key_pem = fresh->key.ToPem();
    spdlog::info("requested a new client certificate from the hub");
  }

  static asio::awaitable<void> OnRenewal(std::shared_ptr<Impl> self, link::v1::IdentityRenewalResponse response) {
    if (!self->renewal_key_pem) {
      spdlog::warn("ignoring an identity renewal response nobody asked for");
      co_return;
    }
    const std::string key_pem = std::move(*self->renewal_key_pem);
    self->renewal_key_pem.reset();
    auto count = [&](const char* outcome) {
      if (self->options.metrics) {
        self->options.metrics->Increment("vmesh_agent_identity_renewals_total", {{"outcome", outcome}});
      }
    };
    if (!response.error().empty()) {
      count("refused");
      spdlog::error("the hub refused to renew the client certificate: {} (retrying later)", response.error());
      co_return;
    }
    if (Status s = CheckKeyMatches(key_pem, response.certificate_pem()); !s.ok()) {
      count("invalid");
      spdlog::error("identity renewal: {}", s.error().message);
      co_return;
    }
    AgentIdentity renewed = self->identity_copy();
    renewed.key_pem = key_pem;
    renewed.certificate_pem = response.certificate_pem();
    auto tls = ClientTlsFor(renewed);
    if (!tls.ok()) {
      count("invalid");
      spdlog::error("identity renewal: {}", tls.error().message);
      co_return;
    }
    // Stored before it is used: a restart must find the certificate the hub now knows.
    if (Status s = co_await self->identities.Save(renewed); !s.ok()) {
      count("store_failed");
      spdlog::error("identity renewal: storing the new identity in {} failed: {} (keeping the current one)",
                    self->identities.Describe(), s.error().message);
      co_return;
    }
    {
      std::lock_guard lock(self->mu);
      self->identity = renewed;
    }
    self->client->SetTls(*tls);
    self->UpdateRenewalTime();
    count("ok");
    auto cert = pki::Certificate::FromPem(renewed.certificate_pem);
    spdlog::info("client certificate renewed (serial {}), stored in {}; used from the next connection",
                 cert.ok() ? cert->serial_hex() : "?", self->identities.Describe());
  }

  static asio::awaitable<void> RenewalLoop(std::shared_ptr<Impl> self) {
    while (!self->stopped) {
      self->renewal_timer.expires_after(self->options.renewal_check_interval);
      boost::system::error_code ec;
      co_await self->renewal_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (self->stopped) break;
      self->MaybeRenew();
    }
  }
};

HubLink::HubLink(asio::io_context& io, AgentIdentity identity, IdentityStore& identities, SyncStateStore& sync_state,
                 HubLinkOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(identity), identities, sync_state, std::move(options))) {}

HubLink::~HubLink() { Stop(); }

HubSend HubLink::Sender() {
  std::weak_ptr<Impl> weak = impl_;
  return [weak](link::v1::Envelope envelope) -> Status {
    auto impl = weak.lock();
    if (!impl) return MakeError("the hub link is gone");
    return impl->Send(std::move(envelope));
  };
}

Status HubLink::Start(AgentCore& core) {
  auto impl = impl_;
  if (impl->client) return MakeError("the hub link was started already");
  auto url = ConnectUrl(impl->identity_copy().hub_url);
  if (!url.ok()) return url.error();
  auto tls = ClientTlsFor(impl->identity_copy());
  if (!tls.ok()) return tls.error().Wrap("client identity");
  auto state = RunOn(impl->io, impl->sync_store.Load());
  if (!state.ok()) return state.error().Wrap("loading the held resource versions");
  impl->core = &core;
  impl->receiver = std::make_unique<sync::ResourceReceiver>(state->held, state->system_version);
  impl->UpdateRenewalTime();

  link::ReconnectOptions reconnect;
  reconnect.dial.url = *url;
  reconnect.dial.tls = *tls;
  reconnect.dial.connection = impl->options.connection;
  reconnect.backoff = impl->options.backoff;
  std::weak_ptr<Impl> weak = impl;
  link::ReconnectHandlers handlers;
  handlers.on_connected = [weak](const link::ConnectionPtr& c) {
    if (auto self = weak.lock()) self->OnConnected(c);
  };
  handlers.on_message = [weak](const link::ConnectionPtr& c, std::string message) {
    if (auto self = weak.lock()) self->OnMessage(c, message);
  };
  handlers.on_disconnected = [weak](const link::DisconnectInfo& info) {
    if (auto self = weak.lock()) self->OnDisconnected(info);
  };
  impl->client = std::make_unique<link::ReconnectingClient>(impl->io, std::move(reconnect), std::move(handlers));
  spdlog::info("connecting to the hub at {} as cluster {} ({} held resources)", *url, impl->identity_copy().cluster,
               state->held.size());
  impl->client->Start();
  asio::co_spawn(impl->io, Impl::RenewalLoop(impl), asio::detached);
  return OkStatus();
}

void HubLink::Stop() {
  auto impl = impl_;
  if (impl->stopped.exchange(true)) return;
  if (!impl->client) return;
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  asio::post(impl->io, [impl, done] {
    impl->renewal_timer.cancel();
    if (impl->status_timer) impl->status_timer->cancel();
    done->set_value();
  });
  // The io_context may have stopped already; then nothing is left to cancel.
  future.wait_for(std::chrono::seconds(2));
  impl->client->Stop();
}

bool HubLink::connected() const { return impl_->welcomed.load(); }
bool HubLink::synced() const { return impl_->synced.load(); }
int HubLink::sessions() const { return impl_->sessions.load(); }

void HubLink::RenewIdentityNow() {
  std::weak_ptr<Impl> weak = impl_;
  asio::post(impl_->io, [weak] {
    if (auto self = weak.lock()) self->StartRenewal();
  });
}

AgentIdentity HubLink::identity() const { return impl_->identity_copy(); }

}  // namespace vmesh::agent
