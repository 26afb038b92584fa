#include "hub/controller/agent_facts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vmesh::hub {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

api::v1::Mesh Mesh(const std::string& cluster) {
  api::v1::Mesh m;
  m.mutable_metadata()->set_name("istiod-istio-system-" + cluster);  // no namespace: the hub's
  m.mutable_spec()->set_cluster(cluster);
  return m;
}

link::v1::DiscoveryReport Full(const std::string& cluster) {
  link::v1::DiscoveryReport report;
  report.set_full_state(true);
  *report.add_meshes() = Mesh(cluster);
  return report;
}

TEST(AgentFacts, ReportsFillTheHubNamespaceAndAreListedAndSnapshotted) {
  AgentFacts facts("hubns");
  EXPECT_FALSE(facts.Knows("c1"));
  auto changes = facts.ApplyDiscovery("c1", Full("c1"));
  EXPECT_THAT(changes.meshes, ElementsAre("istiod-istio-system-c1"));
  EXPECT_TRUE(facts.Knows("c1"));
  ASSERT_EQ(facts.Meshes().size(), 1u);
  EXPECT_EQ(facts.Meshes()[0].metadata().namespace_(), "hubns");
  EXPECT_TRUE(facts.FindMesh("c1", "istiod-istio-system-c1"));
  EXPECT_FALSE(facts.FindMesh("c2", "istiod-istio-system-c1")) << "only in its own cluster";
  EXPECT_EQ(facts.Take().meshes.count("istiod-istio-system-c1.hubns"), 1u);
  EXPECT_TRUE(facts.ApplyDiscovery("c1", Full("c1")).empty()) << "the same again changes nothing";
}

TEST(AgentFacts, ADeregisteredClustersMeshesStayKnownToStatusesOnly) {
  AgentFacts facts;
  facts.ApplyDiscovery("c1", Full("c1"));
  facts.SetConnected("c1", true);
  facts.SetAgentReport("c1", "istiod-istio-system-c1", MeshReport{.errors = {"boom"}});
  facts.ForgetCluster("c1");
  EXPECT_THAT(facts.Meshes(), IsEmpty()) << "users no longer see it";
  EXPECT_FALSE(facts.Knows("c1"));
  auto s = facts.Take();
  EXPECT_EQ(s.meshes.count("istiod-istio-system-c1.vmesh"), 1u) << "a VirtualMesh naming it says deregistered";
  EXPECT_THAT(s.deregistered, ElementsAre("c1"));
  EXPECT_THAT(s.connected, IsEmpty());
  EXPECT_THAT(s.reports, IsEmpty());
  facts.ApplyDiscovery("c1", link::v1::DiscoveryReport{});  // back, reporting nothing
  EXPECT_THAT(facts.Take().meshes, IsEmpty());
}

TEST(AgentFacts, RejectedResourcesAreErrorsOfTheMeshesTheyConcern) {
  AgentFacts facts;
  link::v1::DiscoveryReport report = Full("c1");
  *report.add_meshes() = Mesh("other");
  report.mutable_meshes(1)->mutable_spec()->set_cluster("c1");
  facts.ApplyDiscovery("c1", report);
  facts.SetRejected("c1", {{"cert/istiod-istio-system-c1", "no room for keys"}});
  auto s = facts.Take();
  ASSERT_EQ(s.reports.at("istiod-istio-system-c1.vmesh").errors.size(), 1u);
  EXPECT_THAT(s.reports.at("istiod-istio-system-c1.vmesh").errors[0],
              HasSubstr("cluster c1 rejected cert/istiod-istio-system-c1: no room for keys"));
  EXPECT_THAT(s.reports["istiod-istio-system-other.vmesh"].errors, IsEmpty());
  facts.SetRejected("c1", {});
  EXPECT_THAT(facts.Take().reports["istiod-istio-system-c1.vmesh"].errors, IsEmpty());
}

TEST(AgentFacts, AgentReportsChangeOnlyWhenMoreThanTheirTimeChanged) {
  AgentFacts facts;
  facts.ApplyDiscovery("c1", Full("c1"));
  MeshReport r;
  r.applied_outputs = 3;
  r.last_report_time = google::protobuf::Timestamp();
  EXPECT_TRUE(facts.SetAgentReport("c1", "istiod-istio-system-c1", r));
  r.last_report_time->set_seconds(10);
  EXPECT_FALSE(facts.SetAgentReport("c1", "istiod-istio-system-c1", r));
  r.applied_outputs = 4;
  EXPECT_TRUE(facts.SetAgentReport("c1", "istiod-istio-system-c1", r));
}

TEST(AgentFacts, RestartDirectivesStayUntilTheAgentHoldsThem) {
  AgentFacts facts;
  EXPECT_FALSE(facts.RequestRestart("c1", "istiod-istio-system-c1", "r1").ok()) << "not reported";
  facts.ApplyDiscovery("c1", Full("c1"));
  MeshReport r;
  r.certificate.set_serial("0a");
  facts.SetAgentReport("c1", "istiod-istio-system-c1", r);
  auto directive = facts.RequestRestart("c1", "istiod-istio-system-c1", "r1");
  ASSERT_TRUE(directive.ok());
  EXPECT_EQ(directive->restart().certificate_serial(), "0a");
  ASSERT_EQ(facts.Take().restarts.at("c1").size(), 1u);
  facts.RestartsHeld("c1", {{directive->name(), "another version"}});
  EXPECT_EQ(facts.Take().restarts.count("c1"), 1u) << "an older directive held is not this one";
  facts.RestartsHeld("c1", {{directive->name(), directive->version()}});
  EXPECT_THAT(facts.Take().restarts, IsEmpty());
}

TEST(AgentFacts, SchemaChangesAreTakenInOrderOnce) {
  AgentFacts facts;
  link::v1::IstioSchemas schemas;
  schemas.set_digest("d1");
  facts.SetIstioSchemas("c1", schemas);
  facts.SetDeregistered("c1");
  auto changes = facts.TakeSchemaChanges();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].second->digest(), "d1");
  EXPECT_FALSE(changes[1].second) << "deregistered: its schemas are forgotten";
  EXPECT_THAT(facts.TakeSchemaChanges(), IsEmpty());
}

}  // namespace
}  // namespace vmesh::hub
