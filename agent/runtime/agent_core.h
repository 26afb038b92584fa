// The seam between the agent's link to the hub and its cluster-side logic (SPEC §2 vmesh-agent, §9).
//
// The link (agent/runtime/hub_link.h) owns the session: bootstrap, identity, reconnects, Hello with the
// versions the agent holds, ResourceUpdate -> ACK/NACK. What a resource *means* in the cluster is the core's:
// Kubernetes outputs go to the applier, certificate directives to the certificate manager, restart directives
// to the restarter. IssuedCertificates are routed to the core too.
//
// Threading: everything runs on the agent's one io_context thread; the coroutines may co_await the Kubernetes
// client. The link calls ApplyResource/RemoveResource/PruneOutputs for one update at a time, in order.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "common/base/result.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::agent {

// Sends one message to the hub. Fails (without blocking) when no session is up; the caller retries when the
// next session starts (AgentCore::OnSessionStarted).
using HubSend = std::function<Status(link::v1::Envelope)>;

class AgentCore {
 public:
  virtual ~AgentCore() = default;

  // Begins watching the cluster and the periodic work; Stop() cancels them. On the io thread.
  virtual void Start() {}
  virtual void Stop() {}

  // One resource of a ResourceUpdate: an error rejects it (NACK with the message) and the others proceed.
  virtual boost::asio::awaitable<Status> ApplyResource(const link::v1::Resource& resource) = 0;
  // A resource the hub no longer wants the agent to hold (by resource name: "kube/...", "cert/<mesh>", ...).
  virtual boost::asio::awaitable<Status> RemoveResource(const std::string& name) = 0;
  // The hub's complete desired set is known: `desired` names every resource the agent holds after an update
  // that brought it to the hub's version, plus those it just refused. Deletes the agent's outputs that are not
  // in it — orphans of an earlier run whose sync state was lost, so that the hub never asked to remove them.
  // Returns whether it pruned: false when `desired` holds no output, which cannot be told from a view that is
  // not there yet, so nothing is deleted. The link calls it after every update until it returned true (once per
  // process); an error makes it try again after the next update too.
  virtual boost::asio::awaitable<Result<bool>> PruneOutputs(const std::set<std::string>& desired) = 0;
  // The hub's answer to a CSR.
  virtual boost::asio::awaitable<void> OnIssuedCertificate(const link::v1::IssuedCertificate& issued) = 0;
  // A session began (after the Welcome): send the full discovery state and anything that waited for the hub.
  virtual void OnSessionStarted(std::chrono::seconds status_interval) = 0;
  virtual void OnSessionEnded() = 0;
  // True once the first discovery of the cluster completed (for /readyz with the first sync).
  virtual bool ClusterSynced() const = 0;
  // The per-mesh status the link sends every status interval (and right after the Welcome).
  virtual link::v1::StatusReport MakeStatusReport() { return {}; }
};

using AgentCorePtr = std::unique_ptr<AgentCore>;

}  // namespace vmesh::agent
