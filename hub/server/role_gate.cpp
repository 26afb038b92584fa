#include "hub/server/role_gate.h"

#include "hub/server/routes.h"

namespace vmesh::hub {
namespace {

constexpr char kLeaderGauge[] = "vmesh_hub_leader";
constexpr char kTransitions[] = "vmesh_hub_leader_transitions_total";

}  // namespace

RoleGate::RoleGate(std::optional<std::string> lease, metrics::Registry& metrics)
    : lease_(std::move(lease)), metrics_(metrics) {
  metrics_.DeclareGauge(kLeaderGauge, "1 while this hub replica leads (runs the hub core), else 0.");
  metrics_.DeclareCounter(kTransitions, "Times this hub replica became the leader.");
  metrics_.Set(kLeaderGauge, {}, 0);
  metrics_.Increment(kTransitions, {}, 0);
}

void RoleGate::SetHolder(const std::string& holder) {
  std::lock_guard lock(mu_);
  holder_ = holder;
}

void RoleGate::Lead(std::shared_ptr<const LeaderTerm> term) {
  {
    std::lock_guard lock(mu_);
    term_ = std::move(term);
  }
  metrics_.Set(kLeaderGauge, {}, 1);
  metrics_.Increment(kTransitions);
}

std::shared_ptr<const LeaderTerm> RoleGate::Follow() {
  std::shared_ptr<const LeaderTerm> old;
  {
    std::lock_guard lock(mu_);
    old = std::move(term_);
    term_.reset();
  }
  metrics_.Set(kLeaderGauge, {}, 0);
  return old;
}

bool RoleGate::leading() const { return Term() != nullptr; }

std::shared_ptr<const LeaderTerm> RoleGate::Term() const {
  std::lock_guard lock(mu_);
  return term_;
}

std::string RoleGate::NotLeaderMessage() const {
  std::lock_guard lock(mu_);
  if (!lease_) return "the hub is starting (its core is not running yet)";
  return "not the leader; lease " + *lease_ + " held by " +
         (holder_.empty() ? std::string("nobody (election in progress)") : holder_);
}

link::HttpResponse RoleGate::Refusal() const { return link::HttpResponse::Text(503, NotLeaderMessage() + "\n"); }

link::HttpResponse RoleGate::Api(const link::HttpRequest& request) const {
  if (request.path == "/healthz") return link::HttpResponse::Text(200, "ok\n");
  if (request.path == "/metrics") return link::HttpResponse{200, "text/plain; version=0.0.4", metrics_.Render(), {}};
  auto term = Term();
  if (!term || !term->api) return Refusal();
  return term->api(request);
}

link::HttpResponse RoleGate::Bootstrap(const link::HttpRequest& request) const {
  auto term = Term();
  if (!term || !term->bootstrap) return Refusal();
  return term->bootstrap(request);
}

link::UpgradeDecision RoleGate::Connect(const link::HttpRequest& request) const {
  auto term = Term();
  if (!term || !term->connect) return link::UpgradeDecision::Refuse(503, NotLeaderMessage() + "\n");
  return term->connect(request);
}

bool RoleGate::CheckIdentity(const link::PeerIdentity& peer) const {
  auto term = Term();
  if (!term) return lease_.has_value();
  return term->identity_check && term->identity_check(peer);
}

void InstallGatedRoutes(link::Server& agent_server, link::Server& api_server, const RoleGate& gate) {
  InstallApiRoutes(api_server, [&gate](const link::HttpRequest& r) { return gate.Api(r); });
  agent_server.Handle("/v1/bootstrap",
                      link::HttpRoute{link::ClientCertPolicy::kOptional,
                                      [&gate](const link::HttpRequest& r) { return gate.Bootstrap(r); }});
  link::WebSocketRoute connect;
  connect.client_cert = link::ClientCertPolicy::kRequired;
  connect.on_upgrade = [&gate](const link::HttpRequest& r) { return gate.Connect(r); };
  agent_server.Handle("/v1/connect", std::move(connect));
}

}  // namespace vmesh::hub
