// The agent's cluster-side core (agent_core.h) composed of the role parts: the DiscoveryWatcher (reports to the
// hub), the KubeApplier (outputs), the CertificateManager (intermediate CAs, with the Restarter).
//
// Routing of the hub's resources:
//   "kube/<apiVersion>/<kind>/<namespace>/<name>" -> KubeApplier::Apply / Remove
//   "cert/<mesh>"                                 -> CertificateManager::OnDirective / OnDirectiveRemoved
//   "restart/<mesh>..."                           -> CertificateManager::OnRestartDirective (removal: nothing)
// Discovery: when a session starts, the full state (as soon as the cluster is synced), then every delta while
// the session is up. The certificate manager ticks every tick_interval.
//
// Threading: one io_context thread; Start()/Stop() and every AgentCore call on it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "agent/runtime/agent_core.h"
#include "common/kube/client.h"
#include "common/metrics/metrics.h"

namespace vmesh::agent {

struct AgentCoreOptions {
  std::string cluster;
  std::string state_namespace = "vmesh-system";
  std::string hub_namespace = "vmesh";
  // Certificate manager ticks (renewals, CSR resends, restart steps).
  std::chrono::milliseconds tick_interval{3000};
  // Discovery debounce.
  std::chrono::milliseconds discovery_debounce{100};
  // Optional: outputs applied/failed, certificate expiry, restarts.
  metrics::Registry* metrics = nullptr;
};

// Declares the core's metrics in `registry`.
void DeclareAgentCoreMetrics(metrics::Registry& registry);

// `client` must outlive the core. `send` is the link's sender (fails while no session is up).
AgentCorePtr MakeAgentCore(boost::asio::io_context& io, kube::KubeClient& client, AgentCoreOptions options,
                           HubSend send);

}  // namespace vmesh::agent
