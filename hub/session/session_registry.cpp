#include "hub/session/session_registry.h"

#include <spdlog/spdlog.h>

namespace vmesh::hub {
namespace {

using link::CloseCode;
using link::v1::Envelope;

constexpr char kConnectedAgents[] = "vmesh_hub_connected_agents";
constexpr char kMessages[] = "vmesh_hub_messages_total";
constexpr char kBytes[] = "vmesh_hub_bytes_total";
constexpr char kAcks[] = "vmesh_hub_acks_total";

}  // namespace

std::string EnvelopeTypeName(const Envelope& e) {
  if (e.message_case() == Envelope::MESSAGE_NOT_SET) return "unknown";
  const auto* field = Envelope::descriptor()->FindFieldByNumber(e.message_case());
  return field ? field->name() : "unknown";
}

SessionRegistry::SessionRegistry(metrics::Registry& metrics) : metrics_(metrics) {
  metrics_.DeclareGauge(kConnectedAgents, "Agents with a live session (Hello received).");
  metrics_.DeclareCounter(kMessages, "Link messages by direction (in|out) and type.");
  metrics_.DeclareCounter(kBytes, "Link message bytes by direction (in|out) and type.");
  metrics_.DeclareCounter(kAcks, "Resource update answers by result (ack|nack).");
  metrics_.Set(kConnectedAgents, {}, 0);
}

void SessionRegistry::Open(const SessionPtr& session, const link::ConnectionPtr& connection) {
  std::lock_guard lock(mu_);
  session->connection = connection;
  if (closed_) {
    session->retired = true;
    connection->Close(close_code_, close_reason_);
    return;
  }
  ClusterEntry& entry = clusters_[session->cluster];
  if (SessionPtr old = entry.live; old && old != session) {
    old->retired = true;
    if (old->connection) old->connection->Close(CloseCode::kPolicyViolation, "replaced by a newer session");
    entry.sender.Disconnected();
    spdlog::info("hub: cluster {}: a new session from {} replaces the one from {}", session->cluster,
                 connection->remote_address(), entry.remote_address);
  }
  entry.live = session;
  entry.remote_address = connection->remote_address();
}

bool SessionRegistry::Closed(const SessionPtr& session, const link::CloseInfo& info) {
  std::lock_guard lock(mu_);
  if (session->retired) return false;
  auto it = clusters_.find(session->cluster);
  if (it == clusters_.end() || it->second.live != session) return false;
  ClusterEntry& entry = it->second;
  entry.live.reset();
  entry.sender.Disconnected();
  spdlog::info("hub: cluster {}: session from {} ended: {}", session->cluster, entry.remote_address, info.ToString());
  if (!entry.connected) return false;
  entry.connected = false;
  UpdateGaugeLocked();
  return true;
}

bool SessionRegistry::Current(const SessionPtr& session) const {
  std::lock_guard lock(mu_);
  return !closed_ && !session->retired;
}

bool SessionRegistry::Greeted(const SessionPtr& session) const {
  std::lock_guard lock(mu_);
  return session->greeted;
}

bool SessionRegistry::Greet(const SessionPtr& session, const link::v1::Hello& hello, Envelope welcome) {
  std::lock_guard lock(mu_);
  if (session->greeted) return false;
  session->greeted = true;
  ClusterEntry& entry = clusters_[session->cluster];
  entry.agent_version = hello.agent_version();
  entry.connected = true;
  SendLocked(session, welcome);
  entry.sender.Resume(hello);
  spdlog::info("hub: cluster {}: agent {} connected from {}, holding {} resources", session->cluster,
               hello.agent_version(), entry.remote_address, hello.resource_versions_size());
  PushLocked(entry);
  UpdateGaugeLocked();
  return true;
}

Result<SessionRegistry::AckOutcome> SessionRegistry::Ack(const SessionPtr& session, const link::v1::Ack& ack) {
  std::lock_guard lock(mu_);
  ClusterEntry& entry = clusters_[session->cluster];
  const auto rejected_before = entry.sender.rejected();
  if (Status s = entry.sender.HandleAck(ack); !s.ok()) return s.error();
  AckOutcome outcome;
  outcome.nack = ack.errors_size() > 0;
  metrics_.Increment(kAcks, {{"result", outcome.nack ? "nack" : "ack"}});
  for (const auto& e : ack.errors()) {
    spdlog::warn("hub: cluster {}: agent rejected {}: {}", session->cluster, e.name(), e.message());
  }
  outcome.rejected = entry.sender.rejected();
  outcome.rejected_changed = outcome.rejected != rejected_before;
  outcome.held = entry.sender.agent_versions();
  PushLocked(entry);
  return outcome;
}

bool SessionRegistry::RetryRejected(const std::string& cluster) {
  std::lock_guard lock(mu_);
  auto it = clusters_.find(cluster);
  if (it == clusters_.end() || it->second.sender.rejected().empty()) return false;
  spdlog::info("hub: cluster {}: offering {} rejected resources again", cluster, it->second.sender.rejected().size());
  it->second.sender.RetryRejected();
  PushLocked(it->second);
  return true;
}

void SessionRegistry::Apply(DesiredState& desired, const std::set<std::string>& updatable) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  ++apply_epoch_;
  for (auto& [cluster, resources] : desired.resources) clusters_[cluster];  // make sure every cluster has one
  const auto& changed = desired.changed_clusters;
  for (auto& [cluster, entry] : clusters_) {
    entry.may_update = updatable.count(cluster) > 0;
    // A cluster the previous result covered and this one did not change keeps its desired set.
    if (changed && !changed->count(cluster) && entry.applied_epoch == apply_epoch_ - 1) {
      entry.applied_epoch = apply_epoch_;
      PushLocked(entry);  // e.g. held back until a result covered its discovery
      continue;
    }
    static const std::vector<sync::SharedResource> kNone;
    auto it = desired.resources.find(cluster);
    const auto& resources = it != desired.resources.end() ? it->second : kNone;
    entry.desired_count = resources.size();
    entry.applied_epoch = apply_epoch_;
    entry.sender.SetDesiredShared(resources);  // versions set by the reconciler (or empty); only changes cost
    PushLocked(entry);
  }
}

void SessionRegistry::PushLocked(ClusterEntry& entry) {
  if (!entry.live || !entry.live->greeted || !entry.may_update) return;
  auto update = entry.sender.NextUpdate();
  if (!update) return;
  Envelope envelope;
  *envelope.mutable_resource_update() = std::move(*update);
  SendLocked(entry.live, envelope);
}

void SessionRegistry::Send(const SessionPtr& session, Envelope envelope) {
  std::lock_guard lock(mu_);
  SendLocked(session, envelope);
}

void SessionRegistry::SendLocked(const SessionPtr& session, Envelope& envelope) {
  if (!session->connection) return;
  envelope.set_id(++session->next_id);
  std::string bytes = envelope.SerializeAsString();
  const std::string type = EnvelopeTypeName(envelope);
  metrics_.Increment(kMessages, {{"direction", "out"}, {"type", type}});
  metrics_.Increment(kBytes, {{"direction", "out"}, {"type", type}}, static_cast<double>(bytes.size()));
  if (Status s = session->connection->Send(std::move(bytes)); !s.ok()) {
    spdlog::warn("hub: cluster {}: sending {}: {}", session->cluster, type, s.error().message);
  }
}

void SessionRegistry::SendNack(const SessionPtr& session, std::uint64_t envelope_id, const std::string& error) {
  Envelope nack;
  nack.mutable_protocol_nack()->set_envelope_id(envelope_id);
  nack.mutable_protocol_nack()->set_error(error);
  Send(session, std::move(nack));
}

void SessionRegistry::CountReceived(const std::string& type, std::size_t bytes) {
  metrics_.Increment(kMessages, {{"direction", "in"}, {"type", type}});
  metrics_.Increment(kBytes, {{"direction", "in"}, {"type", type}}, static_cast<double>(bytes));
}

void SessionRegistry::Forget(const std::string& cluster) {
  std::lock_guard lock(mu_);
  auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return;
  if (SessionPtr live = it->second.live) {
    live->retired = true;
    if (live->connection) live->connection->Close(CloseCode::kPolicyViolation, "cluster deregistered");
    spdlog::info("hub: cluster {} deregistered: closing its session", cluster);
  }
  clusters_.erase(it);
  UpdateGaugeLocked();
}

std::vector<std::string> SessionRegistry::CloseAll(std::uint16_t code, const std::string& reason) {
  std::lock_guard lock(mu_);
  closed_ = true;
  close_code_ = code;
  close_reason_ = reason;
  std::vector<std::string> connected;
  for (auto& [cluster, entry] : clusters_) {
    if (!entry.live) continue;
    entry.live->retired = true;
    if (entry.live->connection) entry.live->connection->Close(code, reason);
    if (entry.connected) connected.push_back(cluster);
    entry.connected = false;
    entry.sender.Disconnected();
    entry.live.reset();
  }
  metrics_.Set(kConnectedAgents, {}, 0);
  return connected;
}

bool SessionRegistry::Connected(const std::string& cluster) const {
  std::lock_guard lock(mu_);
  auto it = clusters_.find(cluster);
  return it != clusters_.end() && it->second.connected;
}

std::vector<SessionInfo> SessionRegistry::Sessions() const {
  std::lock_guard lock(mu_);
  std::vector<SessionInfo> out;
  for (const auto& [cluster, entry] : clusters_) {
    if (!entry.live && entry.remote_address.empty()) continue;  // never had a session
    SessionInfo info;
    info.cluster = cluster;
    info.connected = entry.live && entry.live->greeted;
    info.remote_address = entry.remote_address;
    info.agent_version = entry.agent_version;
    info.resources_held = entry.sender.agent_versions().size();
    info.in_sync = entry.sender.InSync();
    info.rejected = entry.sender.rejected();
    info.resources_desired = entry.desired_count;
    out.push_back(std::move(info));
  }
  return out;
}

void SessionRegistry::UpdateGaugeLocked() {
  std::size_t n = 0;
  for (const auto& [cluster, entry] : clusters_) n += entry.live && entry.live->greeted ? 1 : 0;
  metrics_.Set(kConnectedAgents, {}, static_cast<double>(n));
}

}  // namespace vmesh::hub
