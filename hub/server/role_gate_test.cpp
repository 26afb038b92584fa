// The role gate: what a follower, a leader and a starting single replica answer, and the leader metrics.
#include "hub/server/role_gate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vmesh::hub {
namespace {

using ::testing::HasSubstr;

link::HttpRequest Get(const std::string& path) {
  link::HttpRequest r;
  r.method = "GET";
  r.path = path;
  r.target = path;
  return r;
}

std::shared_ptr<const LeaderTerm> Term(int* api_calls, bool identity_ok = true) {
  auto term = std::make_shared<LeaderTerm>();
  term->api = [api_calls](const link::HttpRequest& r) {
    ++*api_calls;
    return link::HttpResponse::Text(r.path == "/readyz" ? 200 : 201, "term " + r.path + "\n");
  };
  term->bootstrap = [](const link::HttpRequest&) { return link::HttpResponse::Text(200, "bootstrapped\n"); };
  term->connect = [](const link::HttpRequest&) { return link::UpgradeDecision::Accept({}); };
  term->identity_check = [identity_ok](const link::PeerIdentity&) { return identity_ok; };
  return term;
}

TEST(RoleGateTest, FollowerServesHealthAndMetricsAndRefusesEverythingElseNamingTheLeader) {
  metrics::Registry metrics;
  RoleGate gate("vmesh/vmesh-hub", metrics);
  EXPECT_FALSE(gate.leading());
  EXPECT_EQ(gate.Api(Get("/readyz")).body,
            "not the leader; lease vmesh/vmesh-hub held by nobody (election in progress)\n");
  gate.SetHolder("hub-7f9c-0");
  EXPECT_EQ(gate.Api(Get("/healthz")).status, 200);
  auto metrics_page = gate.Api(Get("/metrics"));
  EXPECT_EQ(metrics_page.status, 200);
  EXPECT_THAT(metrics_page.body, HasSubstr("vmesh_hub_leader 0"));
  const std::string says = "not the leader; lease vmesh/vmesh-hub held by hub-7f9c-0\n";
  for (const char* path : {"/readyz", "/v1/clusters", "/v1/apply", "/v1/objects/virtualmeshes", "/v1/admin/rotate"}) {
    auto r = gate.Api(Get(path));
    EXPECT_EQ(r.status, 503) << path;
    EXPECT_EQ(r.body, says) << path;
  }
  auto bootstrap = gate.Bootstrap(Get("/v1/bootstrap"));
  EXPECT_EQ(bootstrap.status, 503);
  EXPECT_EQ(bootstrap.body, says);
  auto connect = gate.Connect(Get("/v1/connect"));
  EXPECT_FALSE(connect.accept);
  EXPECT_EQ(connect.refusal.status, 503);
  EXPECT_EQ(connect.refusal.body, says);
  // Verified peers reach the route (which names the leader) instead of a bare 403.
  EXPECT_TRUE(gate.CheckIdentity(link::PeerIdentity{}));
}

TEST(RoleGateTest, LeaderServesItsTermUntilItFollowsAgain) {
  metrics::Registry metrics;
  RoleGate gate("vmesh/vmesh-hub", metrics);
  int api_calls = 0;
  gate.Lead(Term(&api_calls, /*identity_ok=*/false));
  EXPECT_TRUE(gate.leading());
  EXPECT_EQ(gate.Api(Get("/readyz")).status, 200);
  EXPECT_EQ(gate.Api(Get("/v1/apply")).body, "term /v1/apply\n");
  EXPECT_EQ(gate.Bootstrap(Get("/v1/bootstrap")).body, "bootstrapped\n");
  EXPECT_TRUE(gate.Connect(Get("/v1/connect")).accept);
  EXPECT_FALSE(gate.CheckIdentity(link::PeerIdentity{})) << "the term's identity check decides";
  EXPECT_EQ(gate.Api(Get("/healthz")).body, "ok\n");
  EXPECT_EQ(api_calls, 2) << "health and metrics never reach the term";
  EXPECT_THAT(gate.Api(Get("/metrics")).body, HasSubstr("vmesh_hub_leader 1"));

  auto old = gate.Follow();
  ASSERT_NE(old, nullptr);
  EXPECT_FALSE(gate.leading());
  gate.SetHolder("hub-b");
  EXPECT_EQ(gate.Api(Get("/v1/apply")).status, 503);
  EXPECT_EQ(api_calls, 2);
  EXPECT_EQ(gate.Follow(), nullptr) << "nothing left to stop";

  gate.Lead(Term(&api_calls));
  const std::string page = gate.Api(Get("/metrics")).body;
  EXPECT_THAT(page, HasSubstr("vmesh_hub_leader 1"));
  EXPECT_THAT(page, HasSubstr("vmesh_hub_leader_transitions_total 2"));
}

TEST(RoleGateTest, SingleReplicaIsStartingUntilItsTermIsInstalled) {
  metrics::Registry metrics;
  RoleGate gate(std::nullopt, metrics);
  auto r = gate.Api(Get("/readyz"));
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("starting"));
  EXPECT_FALSE(gate.CheckIdentity(link::PeerIdentity{})) << "no core, no identity check: refused";
  int api_calls = 0;
  gate.Lead(Term(&api_calls));
  EXPECT_EQ(gate.Api(Get("/readyz")).status, 200);
}

}  // namespace
}  // namespace vmesh::hub
