#include "hub/session/authorize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vmesh::hub {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::map<std::string, std::string> kOwners = {{"istiod-istio-system-c1", "c1"}, {"istiod-istio-system-c2", "c2"}};
const AuthorizationContext kContext{.mesh_owner = kOwners};

Authorization Authorize(const std::string& cluster, const link::v1::Envelope& e,
                        const AuthorizationContext& context = kContext) {
  return AuthorizeEnvelope(cluster, e, context);
}

api::v1::Mesh MeshOf(const std::string& cluster, const std::string& ns = "istio-system") {
  api::v1::Mesh m;
  m.mutable_metadata()->set_name("istiod-" + ns + "-" + cluster);
  m.mutable_metadata()->set_namespace_("vmesh");
  m.mutable_spec()->set_cluster(cluster);
  m.mutable_spec()->set_installation_namespace(ns);
  m.mutable_spec()->set_trust_domain("cluster.local");
  m.mutable_spec()->set_istiod_service_account("istiod");
  auto* gw = m.mutable_spec()->add_east_west_gateways();
  gw->mutable_service()->set_name("istio-eastwestgateway");
  gw->mutable_service()->set_namespace_(ns);
  gw->mutable_service()->set_cluster_name(cluster);
  gw->set_service_type("LoadBalancer");
  gw->set_external_tls_port(15443);
  gw->add_external_addresses("172.18.0.1");
  return m;
}

api::v1::Destination ReviewsOf(const std::string& cluster, const std::string& mesh) {
  api::v1::Destination d;
  d.mutable_metadata()->set_name("reviews-bookinfo-" + cluster);
  d.mutable_metadata()->set_namespace_("vmesh");
  auto* s = d.mutable_spec();
  s->set_cluster(cluster);
  s->mutable_mesh()->set_name(mesh);
  s->mutable_mesh()->set_namespace_("vmesh");
  s->set_name("reviews");
  s->set_namespace_("bookinfo");
  s->set_service_type("ClusterIP");
  auto* p = s->add_ports();
  p->set_name("http");
  p->set_port(9080);
  p->set_protocol("TCP");
  p->set_target_port("9080");
  auto* e = s->add_endpoints();
  e->set_ip("10.1.0.5");
  e->set_service_account("bookinfo-reviews");
  return d;
}

api::v1::Workload ReviewsV1Of(const std::string& cluster, const std::string& mesh) {
  api::v1::Workload w;
  w.mutable_metadata()->set_name("reviews-v1-bookinfo-" + cluster);
  w.mutable_spec()->set_cluster(cluster);
  w.mutable_spec()->mutable_mesh()->set_name(mesh);
  w.mutable_spec()->set_namespace_("bookinfo");
  w.mutable_spec()->mutable_controller()->set_kind("Deployment");
  w.mutable_spec()->mutable_controller()->set_name("reviews-v1");
  w.mutable_spec()->set_service_account("bookinfo-reviews");
  return w;
}

link::v1::Envelope Report(std::vector<api::v1::Mesh> meshes, std::vector<api::v1::Destination> destinations = {},
                          std::vector<api::v1::Workload> workloads = {}) {
  link::v1::Envelope e;
  auto* r = e.mutable_discovery_report();
  r->set_full_state(true);
  for (auto& m : meshes) *r->add_meshes() = std::move(m);
  for (auto& d : destinations) *r->add_destinations() = std::move(d);
  for (auto& w : workloads) *r->add_workloads() = std::move(w);
  return e;
}

TEST(Authorize, HelloMustNameTheConnectionsCluster) {
  link::v1::Envelope e;
  e.mutable_hello()->set_cluster_name("c1");
  EXPECT_EQ(Authorize("c1", e).verdict, Verdict::kAccept);
  auto a = Authorize("c2", e);
  EXPECT_EQ(a.verdict, Verdict::kClose);
  EXPECT_THAT(a.reason, HasSubstr("authenticated as cluster \"c2\""));
}

TEST(Authorize, DiscoveryForAnotherClusterIsRefused) {
  auto e = Report({MeshOf("c2")});
  auto a = Authorize("c1", e);
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("claims cluster \"c2\""));
  EXPECT_EQ(Authorize("c2", e).verdict, Verdict::kAccept);
  link::v1::Envelope removal;
  removal.mutable_discovery_report()->add_removed_meshes("istiod-istio-system-c2");
  EXPECT_EQ(Authorize("c1", removal).verdict, Verdict::kNack);
}

TEST(Authorize, AMeshNameBoundToAnotherClusterCannotBeTakenOver) {
  // c1 claims its own cluster, with a name derivable from it, but the name is bound to c3 (e.g. c3 reported it
  // before, then was deregistered).
  const std::map<std::string, std::string> owners = {{"istiod-istio-system-c1", "c3"}};
  auto a = Authorize("c1", Report({MeshOf("c1")}), {.mesh_owner = owners});
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("is bound to cluster \"c3\""));
}

TEST(Authorize, MeshNamesMustDeriveFromTheReportingCluster) {
  const std::map<std::string, std::string> none;
  // c2's mesh name, reported by c1 as its own before c2 ever connected.
  api::v1::Mesh squat = MeshOf("c1");
  squat.mutable_metadata()->set_name("istiod-istio-system-c2");
  auto a = Authorize("c1", Report({squat}), {.mesh_owner = none});
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("metadata.name must be \"istiod-istio-system-c1\""));
  EXPECT_THAT(a.meshes_to_bind, IsEmpty());
  // Revisions are part of the name ("default" is none).
  api::v1::Mesh canary = MeshOf("c1");
  canary.mutable_spec()->set_revision("canary");
  EXPECT_EQ(Authorize("c1", Report({canary}), {.mesh_owner = none}).verdict, Verdict::kNack);
  canary.mutable_metadata()->set_name("istiod-canary-istio-system-c1");
  EXPECT_EQ(Authorize("c1", Report({canary}), {.mesh_owner = none}).verdict, Verdict::kAccept);
  canary.mutable_spec()->set_revision("default");
  canary.mutable_metadata()->set_name("istiod-istio-system-c1");
  // Accepted unbound meshes are to be bound by the caller.
  auto ok = Authorize("c1", Report({canary, MeshOf("c1", "istio-2")}), {.mesh_owner = none});
  EXPECT_EQ(ok.verdict, Verdict::kAccept) << ok.reason;
  EXPECT_THAT(ok.meshes_to_bind, ElementsAre("istiod-istio-system-c1", "istiod-istio-2-c1"));
  EXPECT_THAT(Authorize("c1", Report({MeshOf("c1")})).meshes_to_bind, IsEmpty()) << "bound already";
  // A gateway of another cluster inside one's own mesh.
  api::v1::Mesh gateway = MeshOf("c1");
  gateway.mutable_spec()->mutable_east_west_gateways(0)->mutable_service()->set_cluster_name("c2");
  EXPECT_THAT(Authorize("c1", Report({gateway})).reason,
              HasSubstr("gateway istio-system/istio-eastwestgateway claims"));
  api::v1::Mesh elsewhere = MeshOf("c1");
  elsewhere.mutable_metadata()->set_namespace_("kube-system");
  EXPECT_THAT(Authorize("c1", Report({elsewhere})).reason, HasSubstr("is not the hub namespace \"vmesh\""));
}

TEST(Authorize, DestinationsAndWorkloadsBelongToTheClustersOwnMeshes) {
  EXPECT_EQ(Authorize("c1", Report({}, {ReviewsOf("c1", "istiod-istio-system-c1")},
                                   {ReviewsV1Of("c1", "istiod-istio-system-c1")}))
                .verdict,
            Verdict::kAccept);
  // A mesh reported in the same report counts as the cluster's own.
  const std::map<std::string, std::string> none;
  EXPECT_EQ(Authorize("c1", Report({MeshOf("c1")}, {ReviewsOf("c1", "istiod-istio-system-c1")}), {.mesh_owner = none})
                .verdict,
            Verdict::kAccept);
  // c1's services claiming to be in c2's mesh (that would federate them as c2's).
  auto a = Authorize("c1", Report({}, {ReviewsOf("c1", "istiod-istio-system-c2")}));
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("Destination reviews-bookinfo-c1: spec.mesh \"istiod-istio-system-c2\" is not a "
                                  "mesh of cluster \"c1\""));
  a = Authorize("c1", Report({}, {}, {ReviewsV1Of("c1", "istiod-istio-system-c2")}));
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("Workload reviews-v1-bookinfo-c1: spec.mesh"));
  // A mesh nobody reported.
  a = Authorize("c1", Report({}, {ReviewsOf("c1", "istiod-nowhere-c1")}));
  EXPECT_THAT(a.reason, HasSubstr("is not a mesh of cluster \"c1\""));
  // The hub object's name carries the reporting cluster.
  api::v1::Destination renamed = ReviewsOf("c1", "istiod-istio-system-c1");
  renamed.mutable_metadata()->set_name("reviews-bookinfo-c2");
  EXPECT_THAT(Authorize("c1", Report({}, {renamed})).reason, HasSubstr("metadata.name must end in \"-c1\""));
}

TEST(Authorize, EveryReportedNameIsCheckedAndTheNackNamesObjectAndField) {
  const std::string mesh = "istiod-istio-system-c1";
  auto nack_of = [](const link::v1::Envelope& e) {
    auto a = Authorize("c1", e);
    EXPECT_EQ(a.verdict, Verdict::kNack);
    return a.reason;
  };
  auto bad_sa = ReviewsOf("c1", mesh);
  bad_sa.mutable_spec()->mutable_endpoints(0)->set_service_account("x/ns/admin/sa/root");
  EXPECT_THAT(nack_of(Report({}, {bad_sa})),
              HasSubstr("Destination vmesh/reviews-bookinfo-c1: spec.endpoints[0].serviceAccount: "
                        "\"x/ns/admin/sa/root\" is not a valid service account name"));
  auto bad_ns = ReviewsOf("c1", mesh);
  bad_ns.mutable_spec()->set_namespace_("bookinfo/../kube-system");
  EXPECT_THAT(nack_of(Report({}, {bad_ns})), HasSubstr("spec.namespace: \"bookinfo/../kube-system\" is not a valid"));
  auto bad_port = ReviewsOf("c1", mesh);
  bad_port.mutable_spec()->mutable_ports(0)->set_port(70000);
  EXPECT_THAT(nack_of(Report({}, {bad_port})), HasSubstr("spec.ports[0].port: 70000 is not a port number"));
  auto bad_ip = ReviewsOf("c1", mesh);
  bad_ip.mutable_spec()->mutable_endpoints(0)->set_ip("10.1.0.5\"}],\"hosts\":[\"*");
  EXPECT_THAT(nack_of(Report({}, {bad_ip})), HasSubstr("spec.endpoints[0].ip"));
  auto bad_label = ReviewsOf("c1", mesh);
  (*bad_label.mutable_spec()->mutable_labels())["app"] = "a b";
  EXPECT_THAT(nack_of(Report({}, {bad_label})), HasSubstr("spec.labels[app]: \"a b\" is not a valid label value"));

  auto bad_trust = MeshOf("c1");
  bad_trust.mutable_spec()->set_trust_domain("evil.org/ns/istio-system/sa/istiod#");
  EXPECT_THAT(nack_of(Report({bad_trust})), HasSubstr("Mesh vmesh/istiod-istio-system-c1: spec.trustDomain"));
  auto bad_istiod_sa = MeshOf("c1");
  bad_istiod_sa.mutable_spec()->set_istiod_service_account("istiod/../x");
  EXPECT_THAT(nack_of(Report({bad_istiod_sa})), HasSubstr("spec.istiodServiceAccount"));
  auto bad_gateway = MeshOf("c1");
  bad_gateway.mutable_spec()->mutable_east_west_gateways(0)->set_external_addresses(0, "172.18.0.1:15443");
  EXPECT_THAT(nack_of(Report({bad_gateway})),
              HasSubstr("spec.eastWestGateways[0].externalAddresses[0]: \"172.18.0.1:15443\" is not a valid gateway "
                        "address"));
  auto bad_mesh_ns = MeshOf("c1");
  bad_mesh_ns.mutable_spec()->set_installation_namespace("Istio_System");
  EXPECT_THAT(nack_of(Report({bad_mesh_ns})), HasSubstr("spec.installationNamespace"));

  auto bad_workload = ReviewsV1Of("c1", mesh);
  bad_workload.mutable_spec()->set_service_account("");
  EXPECT_EQ(Authorize("c1", Report({}, {}, {bad_workload})).verdict, Verdict::kAccept) << "optional";
  bad_workload.mutable_spec()->set_service_account("Default");
  EXPECT_THAT(nack_of(Report({}, {}, {bad_workload})),
              HasSubstr("Workload reviews-v1-bookinfo-c1: spec.serviceAccount"));
}

TEST(Authorize, ReportsOverTheCapsAreRefused) {
  auto e = Report({}, {ReviewsOf("c1", "istiod-istio-system-c1")});
  AuthorizationContext context{.mesh_owner = kOwners, .counts_after = {1, 3}, .max_meshes = 1, .max_objects = 3};
  EXPECT_EQ(Authorize("c1", e, context).verdict, Verdict::kAccept);
  context.counts_after.objects = 4;
  auto a = Authorize("c1", e, context);
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("would hold 4 destinations and workloads, over the hub's cap of 3 per cluster"));
  context.counts_after = {2, 0};
  EXPECT_THAT(Authorize("c1", e, context).reason, HasSubstr("2 meshes, over the hub's cap of 1"));
}

TEST(Authorize, CsrOnlyForMeshesBoundToTheOwnCluster) {
  link::v1::Envelope e;
  e.mutable_certificate_signing_request()->set_mesh("istiod-istio-system-c2");
  auto a = Authorize("c1", e);
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("of cluster \"c2\" refused"));
  EXPECT_EQ(Authorize("c2", e).verdict, Verdict::kAccept);
  e.mutable_certificate_signing_request()->set_mesh("istiod-istio-system-c3");
  EXPECT_THAT(Authorize("c3", e).reason, HasSubstr("unknown mesh"));
}

TEST(Authorize, HubMessagesAndUnknownMessagesAreNackedNotFatal) {
  link::v1::Envelope update;
  update.mutable_resource_update();
  EXPECT_EQ(Authorize("c1", update).verdict, Verdict::kNack);
  // A message from a newer protocol version: a field number this build does not know.
  link::v1::Envelope future;
  std::string bytes = "\x08\x07";             // id = 7
  bytes += std::string("\xfa\x06\x02hi", 5);  // field 111, length-delimited "hi"
  ASSERT_TRUE(future.ParseFromString(bytes));
  EXPECT_EQ(future.message_case(), link::v1::Envelope::MESSAGE_NOT_SET);
  auto a = Authorize("c1", future);
  EXPECT_EQ(a.verdict, Verdict::kNack);
  EXPECT_THAT(a.reason, HasSubstr("unknown message type"));
}

TEST(Authorize, StatusOnlyForMeshesBoundToTheOwnCluster) {
  link::v1::Envelope e;
  e.mutable_status_report()->add_meshes()->set_mesh("istiod-istio-system-c1");
  EXPECT_EQ(Authorize("c1", e).verdict, Verdict::kAccept);
  EXPECT_EQ(Authorize("c2", e).verdict, Verdict::kNack);
  // A mesh bound to no cluster yet (e.g. its cluster never connected) is nobody's to report on.
  e.mutable_status_report()->mutable_meshes(0)->set_mesh("istiod-istio-system-c3");
  EXPECT_THAT(Authorize("c1", e).reason, HasSubstr("status for unknown mesh \"istiod-istio-system-c3\" refused"));
}

}  // namespace
}  // namespace vmesh::hub
