// The agent's link to the hub (SPEC §9): one mTLS WebSocket session at a time to <hub>/v1/connect, kept up by
// common/link's ReconnectingClient (backoff with full jitter), speaking the sync protocol:
//
//   agent -> Hello (the versions it holds, persisted after every Ack, so a restart resumes without resend)
//   hub   -> Welcome                      : AgentCore::OnSessionStarted, a StatusReport now and every interval
//   hub   -> ResourceUpdate               : each upsert/removal through the AgentCore, in order, one update at a
//                                           time; the held versions are persisted; then the Ack (NACK when any
//                                           resource failed, with its message; the others are still ACKed)
//   hub   -> IssuedCertificate            : AgentCore::OnIssuedCertificate
//   agent -> IdentityRenewalRequest       : at 2/3 of the client certificate's lifetime, a new key's CSR;
//   hub   -> IdentityRenewalResponse      : the new key and certificate are stored, later dials use them (the
//                                           session is not dropped)
//
// A close with 1008 (the cluster was deregistered or its identity revoked) is logged as such and the link keeps
// retrying with backoff, since an operator may register the cluster again.
//
// Threading: the io_context must be run by exactly one thread; every handler and coroutine of the link runs
// there, as do the AgentCore calls. Start() and Stop() are called from outside that thread. The link must be
// destroyed after its io_context stopped running.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "agent/runtime/agent_core.h"
#include "agent/runtime/identity.h"
#include "common/base/result.h"
#include "common/kube/client.h"
#include "common/link/backoff.h"
#include "common/link/connection.h"
#include "common/metrics/metrics.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vmesh::agent {

// What the agent holds from the hub (what its next Hello says).
struct SyncState {
  std::map<std::string, std::string> held;  // resource name -> version
  std::string system_version;

  bool operator==(const SyncState&) const = default;
};

class SyncStateStore {
 public:
  virtual ~SyncStateStore() = default;
  // An empty state when nothing was stored yet.
  virtual boost::asio::awaitable<Result<SyncState>> Load() = 0;
  virtual boost::asio::awaitable<Status> Save(const SyncState& state) = 0;
};

using SyncStateStorePtr = std::unique_ptr<SyncStateStore>;

inline constexpr char kSyncConfigMapName[] = "vmesh-agent-sync";

// ConfigMap `name` in `state_namespace` (key "state.json"). The client must outlive it.
SyncStateStorePtr MakeConfigMapSyncStateStore(kube::KubeClient& client, std::string state_namespace,
                                              std::string name = kSyncConfigMapName);
// In memory (tests; an agent without a cluster).
SyncStateStorePtr MakeMemorySyncStateStore();

struct HubLinkOptions {
  std::string agent_version = "dev";
  // Ping interval, idle timeout, message size limit.
  link::ConnectionOptions connection;
  link::BackoffPolicy backoff;
  // How often the renewal time of the client certificate is checked.
  std::chrono::milliseconds renewal_check_interval{30000};
  // Wall clock for the renewal time (tests move it).
  std::function<pki::TimePoint()> clock;
  // Link metrics (messages/bytes per type, ACK/NACK counts, connection state); optional.
  metrics::Registry* metrics = nullptr;
};

// Declares the link's metrics in `registry`.
void DeclareHubLinkMetrics(metrics::Registry& registry);

class HubLink {
 public:
  // `identities` receives the renewed identity; it and `sync_state` must outlive the link.
  HubLink(boost::asio::io_context& io, AgentIdentity identity, IdentityStore& identities, SyncStateStore& sync_state,
          HubLinkOptions options);
  ~HubLink();
  HubLink(const HubLink&) = delete;
  HubLink& operator=(const HubLink&) = delete;

  // Sends one message to the hub on the current session; fails when none is up (for the AgentCore).
  HubSend Sender();

  // Loads the held versions, then starts connecting; every message is routed to `core`, which must outlive the
  // link. Blocks until the state is loaded; not from the io thread. Fails when the state cannot be loaded.
  Status Start(AgentCore& core);
  // Closes the session (1001) and stops reconnecting and all timers. Blocks; not from the io thread. Idempotent.
  void Stop();

  // A session is up (the hub answered the Hello).
  bool connected() const;
  // The hub welcomed the agent at least once since Start() (for /readyz).
  bool synced() const;
  // Sessions welcomed since Start().
  int sessions() const;

  // Asks for a new client certificate now (when a session is up and no renewal is in flight). Thread-safe.
  void RenewIdentityNow();
  // The identity in use (changes after a renewal). Thread-safe.
  AgentIdentity identity() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vmesh::agent
