// The agents' live sessions (SPEC §9), one per cluster: its connection, what its agent holds and is sent
// (a sync::ResourceSender per cluster, kept across sessions), and `cluster list` rows.
//
// A cluster has at most one live session: a newer one replaces (closes with 1008) the older, whose end then
// changes nothing. A session is greeted by its Hello; from then on its cluster's sender sends resource updates,
// one in flight at a time, while the last Apply() said the cluster may be updated (its `updatable`: e.g. not
// before a reconcile that saw the cluster's discovery).
// Every message goes through Send(), which only enqueues on the connection (its single writer drains it).
//
// Thread safety: every method may be called from any thread (one mutex, held briefly).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/link/connection.h"
#include "common/metrics/metrics.h"
#include "common/sync/sync.h"
#include "hub/controller/desired_state.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::hub {

// One row per cluster with a live or past session, for `cluster list`, `describe` and metrics.
struct SessionInfo {
  std::string cluster;
  bool connected = false;
  std::string remote_address;
  std::string agent_version;
  std::size_t resources_desired = 0;
  std::size_t resources_held = 0;  // what the agent ACKed
  bool in_sync = false;
  std::map<std::string, std::string> rejected;  // resource -> agent's error
};

// One WebSocket of an agent. Small on purpose (SPEC §13): the per-cluster state lives in the registry.
struct Session {
  explicit Session(std::string cluster) : cluster(std::move(cluster)) {}
  const std::string cluster;       // from the client certificate
  link::ConnectionPtr connection;  // set by SessionRegistry::Open
  std::atomic<std::uint64_t> next_id{0};
  std::atomic<std::size_t> pending_bytes{0};  // received, not yet handled (HubCoreOptions::max_pending_bytes...)
  bool greeted = false;                       // guarded by the registry
  bool retired = false;                       // replaced, forgotten or shut down: guarded by the registry
};
using SessionPtr = std::shared_ptr<Session>;

// The oneof field name of an Envelope ("hello", "ack", ...), for metrics and logs.
std::string EnvelopeTypeName(const link::v1::Envelope& envelope);

class SessionRegistry {
 public:
  explicit SessionRegistry(metrics::Registry& metrics);

  // The session's connection is open: it becomes its cluster's live session. After CloseAll() it is closed
  // with 1001 instead.
  void Open(const SessionPtr& session, const link::ConnectionPtr& connection);
  // The session's connection ended. True when it was its cluster's live, greeted session: the cluster is
  // disconnected now.
  bool Closed(const SessionPtr& session, const link::CloseInfo& info);
  // False once the session was replaced, its cluster forgotten, or everything closed: its messages are ignored.
  bool Current(const SessionPtr& session) const;
  bool Greeted(const SessionPtr& session) const;

  // The agent's Hello: sends `welcome`, then resumes the cluster's sender from what the agent holds. False (and
  // nothing done) for a second Hello.
  bool Greet(const SessionPtr& session, const link::v1::Hello& hello, link::v1::Envelope welcome);

  struct AckOutcome {
    bool nack = false;                            // the agent rejected something
    bool rejected_changed = false;                // the cluster's rejected resources changed
    std::map<std::string, std::string> rejected;  // now: resource -> the agent's message
    std::map<std::string, std::string> held;      // what the agent holds now: resource -> version
  };
  // The agent's answer to the update in flight; an error for one that answers nothing in flight.
  Result<AckOutcome> Ack(const SessionPtr& session, const link::v1::Ack& ack);
  // Offers the cluster's rejected resources again; false when there are none.
  bool RetryRejected(const std::string& cluster);

  // A reconcile's result: each cluster's sender gets its desired set (only the clusters in
  // desired.changed_clusters when set, and those it did not hear of last time), and updates go out to the
  // clusters in `updatable`. Until the next Apply(), only those are sent anything (on Hello, ACK, retry);
  // the others hold their desired set back.
  void Apply(DesiredState& desired, const std::set<std::string>& updatable);

  void Send(const SessionPtr& session, link::v1::Envelope envelope);
  void SendNack(const SessionPtr& session, std::uint64_t envelope_id, const std::string& error);
  // Counts a received message (metrics by type); `type` "undecodable" for a frame that is no Envelope.
  void CountReceived(const std::string& type, std::size_t bytes);

  // The cluster is deregistered: its live session is closed with 1008 and everything of it forgotten.
  void Forget(const std::string& cluster);
  // Shutdown: every session is closed with `code` (1001 by default) and `reason`, later ones too. Returns the
  // clusters that were connected.
  std::vector<std::string> CloseAll(std::uint16_t code = link::CloseCode::kGoingAway,
                                    const std::string& reason = "hub shutting down");

  bool Connected(const std::string& cluster) const;
  std::vector<SessionInfo> Sessions() const;

 private:
  struct ClusterEntry {
    sync::ResourceSender sender;
    SessionPtr live;
    std::string agent_version;
    std::string remote_address;
    bool connected = false;  // from its Hello until its live session ends
    // The Apply() call that last gave the sender its desired set, and that set's size.
    std::uint64_t applied_epoch = 0;
    std::size_t desired_count = 0;
    // The last Apply() allowed sending it updates.
    bool may_update = false;
  };

  void PushLocked(ClusterEntry& entry);
  void SendLocked(const SessionPtr& session, link::v1::Envelope& envelope);
  void UpdateGaugeLocked();

  metrics::Registry& metrics_;
  mutable std::mutex mu_;
  bool closed_ = false;
  std::uint16_t close_code_ = link::CloseCode::kGoingAway;
  std::string close_reason_ = "hub shutting down";
  std::map<std::string, ClusterEntry> clusters_;
  std::uint64_t apply_epoch_ = 0;
};

}  // namespace vmesh::hub
