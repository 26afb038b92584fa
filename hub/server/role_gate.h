// Who answers on a hub replica (docs/hub-on-kubernetes.md "Leader election"). Only the leader runs a hub core;
// its "term" (the core's routes) is installed here while it leads. Every replica answers /healthz 200 and
// /metrics; a follower answers 503 "not the leader; lease vmesh/vmesh-hub held by X" on /readyz, /v1/connect,
// /v1/bootstrap and every admin API route, so a readiness-checking Service sends agents and vmeshctl to the
// leader. Without leader election (the SQLite store: one replica) the replica leads as soon as its term is
// installed; before that it answers 503 "starting".
//
// Metrics: vmesh_hub_leader (1 while a term is installed), vmesh_hub_leader_transitions_total (terms begun).
//
// Pure routing over what it is given, no I/O. Thread-safe: handlers may run on any thread while Lead()/Follow()
// swap the term; a request holds the term it started with until it is answered.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/link/http.h"
#include "common/link/server.h"
#include "common/metrics/metrics.h"

namespace vmesh::hub {

// What a leading replica serves: the API endpoint's routes (HubRoutes::Api), the bootstrap exchange, the core's
// /v1/connect upgrade and the agent listener's identity check.
struct LeaderTerm {
  std::function<link::HttpResponse(const link::HttpRequest&)> api;
  std::function<link::HttpResponse(const link::HttpRequest&)> bootstrap;
  std::function<link::UpgradeDecision(const link::HttpRequest&)> connect;
  link::IdentityCheck identity_check;
};

class RoleGate {
 public:
  // `lease`: "namespace/name" of the Lease when leader election is on; nullopt for a single replica.
  RoleGate(std::optional<std::string> lease, metrics::Registry& metrics);

  // The holder the elector last saw ("" for none); named in the follower's 503s.
  void SetHolder(const std::string& holder);
  // From now on requests reach `term`.
  void Lead(std::shared_ptr<const LeaderTerm> term);
  // From now on requests are refused as a follower's; returns the term that was installed (nullptr if none),
  // for the caller to stop.
  std::shared_ptr<const LeaderTerm> Follow();
  bool leading() const;
  // "not the leader; lease vmesh/vmesh-hub held by X" (or "... held by nobody (election in progress)").
  std::string NotLeaderMessage() const;

  // The API endpoint: every path (admin checks are the term's).
  link::HttpResponse Api(const link::HttpRequest& request) const;
  // POST /v1/bootstrap on the agent endpoint.
  link::HttpResponse Bootstrap(const link::HttpRequest& request) const;
  // /v1/connect on the agent endpoint.
  link::UpgradeDecision Connect(const link::HttpRequest& request) const;
  // The agent listener's identity check: the term's; a follower lets verified peers through so that /v1/connect
  // answers them 503 naming the leader (the TLS layer has verified the chain already).
  bool CheckIdentity(const link::PeerIdentity& peer) const;

 private:
  std::shared_ptr<const LeaderTerm> Term() const;
  link::HttpResponse Refusal() const;

  const std::optional<std::string> lease_;
  metrics::Registry& metrics_;
  mutable std::mutex mu_;
  std::shared_ptr<const LeaderTerm> term_;
  std::string holder_;
};

// Registers the API endpoint's routes (the paths InstallApiRoutes registers) and the agent endpoint's
// /v1/bootstrap and /v1/connect, all answered through `gate` (which must outlive the servers' use of them).
void InstallGatedRoutes(link::Server& agent_server, link::Server& api_server, const RoleGate& gate);

}  // namespace vmesh::hub
