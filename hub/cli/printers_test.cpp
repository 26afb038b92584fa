#include "hub/cli/printers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace vmesh::cli {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

TEST(Printers, TableColumnsAlignWithoutTrailingSpaces) {
  EXPECT_EQ(FormatTable({"NAME", "STATE"}, {{"cluster-1", "CONNECTED"}, {"c2", "DISCONNECTED"}}),
            "NAME       STATE\n"
            "cluster-1  CONNECTED\n"
            "c2         DISCONNECTED\n");
}

TEST(Printers, SecretsShowKeysNeverValues) {
  api::v1::Secret s;
  s.mutable_metadata()->set_name("corp-root");
  s.mutable_metadata()->set_namespace_("vmesh");
  s.mutable_metadata()->set_creation_timestamp("2027-01-15T07:00:00Z");
  s.set_type("vmesh.dev/root-ca");
  (*s.mutable_data())["root-cert.pem"] = "-----BEGIN CERTIFICATE-----";
  (*s.mutable_data())["key.pem"] = "SECRET";
  EXPECT_EQ(SecretTable({s}, kNow),
            "NAMESPACE  NAME       TYPE               KEYS                   AGE\n"
            "vmesh      corp-root  vmesh.dev/root-ca  key.pem,root-cert.pem  60m\n");
}

TEST(Printers, Ages) {
  EXPECT_EQ(Age(kNow - 45s, kNow), "45s");
  EXPECT_EQ(Age(kNow - 5min, kNow), "5m");
  EXPECT_EQ(Age(kNow - 3h, kNow), "3h");
  EXPECT_EQ(Age(kNow - 24h * 12, kNow), "12d");
  EXPECT_EQ(Age(kNow + 5s, kNow), "0s");
}

TEST(Printers, ClusterList) {
  api::v1::Cluster c;
  c.mutable_metadata()->set_name("cluster-1");
  c.mutable_status()->set_state(api::v1::CONNECTED);
  c.mutable_status()->set_agent_version("0.1.0");
  c.mutable_status()->mutable_connected_since()->set_seconds(1'800'000'000 - 600);
  c.mutable_status()->mutable_last_heartbeat()->set_seconds(1'800'000'000 - 5);
  std::string table = ClusterTable({c}, kNow);
  EXPECT_THAT(table, HasSubstr("cluster-1  CONNECTED  0.1.0  10m"));
  EXPECT_THAT(table, HasSubstr("5s ago"));
}

TEST(Printers, DescribeShowsStatePerMeshCertificatesAndWhatToDo) {
  api::v1::VirtualMesh vm;
  vm.mutable_metadata()->set_name("vm1");
  vm.mutable_metadata()->set_namespace_("vmesh");
  vm.mutable_metadata()->set_generation(3);
  vm.mutable_spec()->add_meshes()->set_name("istiod-istio-system-c1");
  vm.mutable_status()->set_observed_generation(3);
  vm.mutable_status()->set_state(api::v1::PENDING);
  auto& m = (*vm.mutable_status()->mutable_meshes())["istiod-istio-system-c1.vmesh"];
  m.set_state(api::v1::ACCEPTED);
  m.mutable_certificate()->set_serial("0123456789abcdef0123");
  m.mutable_certificate()->mutable_not_after()->set_seconds(1'802'000'000);
  m.set_federated_destinations(4);
  m.set_applied_outputs(9);
  m.set_agent_connected(true);
  m.add_pending_restarts("Deployment/bookinfo/reviews");
  vm.mutable_status()->add_warnings("spec.federation.flatNetwork is ignored under limited trust");
  std::string text = DescribeVirtualMesh(vm, kNow);
  EXPECT_THAT(text, HasSubstr("State:        PENDING\n  Warning:    spec.federation.flatNetwork is ignored"));
  EXPECT_THAT(text, HasSubstr("Generation:   3 (status describes 3)"));
  EXPECT_THAT(text, HasSubstr("istiod-istio-system-c1.vmesh  ACCEPTED  0123456789abcdef"));
  EXPECT_THAT(text, HasSubstr("name: istiod-istio-system-c1"));
  EXPECT_THAT(text, HasSubstr("vmeshctl mesh restart istiod-istio-system-c1): Deployment/bookinfo/reviews"));
}

TEST(Printers, DescribeShowsGatewayCertificatesUnderLimitedTrust) {
  api::v1::VirtualMesh vm;
  vm.mutable_metadata()->set_name("vm1");
  vm.mutable_metadata()->set_namespace_("vmesh");
  vm.mutable_spec()->mutable_mtls_config()->mutable_limited();
  auto& m = (*vm.mutable_status()->mutable_meshes())["istiod-istio-system-c1.vmesh"];
  m.set_state(api::v1::ACCEPTED);
  EXPECT_THAT(DescribeVirtualMesh(vm, kNow), ::testing::Not(HasSubstr("Gateway certificates:")));
  auto* g = m.add_gateway_certificates();
  g->set_role("egress");
  g->set_phase(api::v1::INSTALLED);
  g->set_serial("fedcba9876543210ffff");
  g->mutable_not_after()->set_seconds(1'802'000'000);
  g->add_secrets("istio-system/vmesh-gateway-egress");
  std::string text = DescribeVirtualMesh(vm, kNow);
  EXPECT_THAT(text, HasSubstr("Gateway certificates:"));
  EXPECT_THAT(text, HasSubstr("istiod-istio-system-c1.vmesh  egress   INSTALLED  fedcba9876543210"));
  EXPECT_THAT(text, HasSubstr("istio-system/vmesh-gateway-egress"));
}

TEST(Printers, DescribeShowsTheRootRotationAndWhatItWaitsFor) {
  api::v1::VirtualMesh vm;
  vm.mutable_metadata()->set_name("vm1");
  vm.mutable_metadata()->set_namespace_("vmesh");
  EXPECT_EQ(DescribeRootRotation(vm), "") << "no rotation, no section";
  auto* r = vm.mutable_status()->mutable_root_rotation();
  r->set_phase(api::v1::TRUST_BOTH);
  r->set_progress("2/3");
  r->set_from_root_serial("aa01");
  r->set_to_root_serial("bb02");
  r->set_reason("vmeshctl rotate root");
  r->set_abortable(true);
  r->add_waiting_for("mesh istiod-istio-system-c3.vmesh (cluster c3): has not installed the intermediate");
  auto& m = (*vm.mutable_status()->mutable_meshes())["istiod-istio-system-c1.vmesh"];
  m.mutable_root_rotation()->set_phase(api::v1::TRUST_BOTH);
  m.mutable_root_rotation()->set_acknowledged(true);
  std::string text = DescribeVirtualMesh(vm, kNow);
  EXPECT_THAT(text, HasSubstr("Root rotation:\n  Phase:      TRUST_BOTH (2/3 meshes acknowledged"));
  EXPECT_THAT(text, HasSubstr("From root:  aa01"));
  EXPECT_THAT(text, HasSubstr("To root:    bb02"));
  EXPECT_THAT(text, HasSubstr("possible (vmeshctl rotate root vm1 -n vmesh --abort)"));
  EXPECT_THAT(text, HasSubstr("Mesh istiod-istio-system-c1.vmesh: TRUST_BOTH acknowledged"));
  EXPECT_THAT(text, HasSubstr("Waiting for mesh istiod-istio-system-c3.vmesh (cluster c3)"));
  r->set_phase(api::v1::TRUST_NEW);
  r->set_abortable(false);
  EXPECT_THAT(DescribeRootRotation(vm), HasSubstr("Abort:      not possible in this phase"));
}

TEST(Printers, DiscoveryTables) {
  api::v1::Mesh m;
  m.mutable_metadata()->set_name("istiod-istio-system-c1");
  m.mutable_spec()->set_cluster("c1");
  m.mutable_spec()->set_installation_namespace("istio-system");
  m.mutable_spec()->set_istio_version("1.20.3");
  m.mutable_spec()->set_trust_domain("cluster.local");
  auto* gw = m.mutable_spec()->add_east_west_gateways();
  gw->add_external_addresses("172.18.0.1");
  gw->set_external_tls_port(15443);
  EXPECT_THAT(MeshTable({m}, kNow), HasSubstr("istiod-istio-system-c1  c1       istio-system  1.20.3   cluster.local  "
                                              "no         172.18.0.1:15443   -"));

  api::v1::Destination d;
  d.mutable_metadata()->set_name("reviews-bookinfo-c1");
  d.mutable_spec()->set_cluster("c1");
  d.mutable_spec()->set_namespace_("bookinfo");
  d.mutable_spec()->set_name("reviews");
  auto* port = d.mutable_spec()->add_ports();
  port->set_port(9080);
  d.mutable_spec()->add_endpoints()->set_ready(true);
  d.mutable_spec()->add_endpoints();
  d.mutable_spec()->mutable_mesh()->set_name("istiod-istio-system-c1");
  EXPECT_THAT(DestinationTable({d}, kNow),
              HasSubstr("reviews-bookinfo-c1  c1       bookinfo   reviews  9080/TCP  1/2"));

  api::v1::Workload w;
  w.mutable_metadata()->set_name("reviews-v1");
  w.mutable_spec()->set_cluster("c1");
  w.mutable_spec()->mutable_controller()->set_kind("Deployment");
  w.mutable_spec()->mutable_controller()->set_name("reviews-v1");
  EXPECT_THAT(WorkloadTable({w}, kNow), HasSubstr("Deployment/reviews-v1"));
}

TEST(Printers, CertificatesParseAndLatestPerMesh) {
  auto parsed = ParseIssuedCertificate(boost::json::parse(
      R"({"serial":"0a1b2c3d4e5f60718293","virtualMesh":"vmesh/vm1","mesh":"istiod-istio-system-c1","cluster":"c1",
          "notBefore":"2027-01-15T08:00:00Z","notAfter":"2027-02-14T08:00:00Z","publicKeyFingerprint":"ab",
          "issuedAt":"2027-01-15T08:00:00Z"})"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->cluster, "c1");
  ASSERT_TRUE(parsed->not_after.has_value());
  EXPECT_EQ(*parsed->not_after, kNow + 24h * 30);
  EXPECT_TRUE(BelongsTo(*parsed, "vmesh", "vm1"));
  EXPECT_FALSE(BelongsTo(*parsed, "vmesh", "vm2"));
  EXPECT_THAT(
      CertificateTable({*parsed}, kNow),
      HasSubstr("0a1b2c3d4e5f6071  vmesh/vm1    istiod-istio-system-c1  c1       2027-02-14T08:00:00Z  in 30d"));

  auto bad = ParseIssuedCertificate(boost::json::parse(R"({"serial":"aa","mesh":"m","notAfter":"soon"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("notAfter"));

  IssuedCertificate older = *parsed;
  older.serial = "older";
  older.issued_at = kNow - 24h * 60;
  auto latest = LatestPerMesh({*parsed, older});
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].serial, parsed->serial);
}

TEST(Printers, DescribeAddsCertificatesAndAgents) {
  api::v1::VirtualMesh vm;
  vm.mutable_metadata()->set_name("vm1");
  vm.mutable_metadata()->set_namespace_("vmesh");
  vm.mutable_spec()->add_meshes()->set_name("istiod-istio-system-c1");
  vm.mutable_spec()->add_meshes()->set_name("istiod-istio-system-c2");
  DescribeExtras extras;
  extras.certificates.push_back(IssuedCertificate{.serial = "serial-c1",
                                                  .virtual_mesh = "vmesh/vm1",
                                                  .mesh = "istiod-istio-system-c1",
                                                  .cluster = "c1",
                                                  .not_after = kNow + 24h * 10,
                                                  .issued_at = kNow - 1h});
  extras.certificates.push_back(IssuedCertificate{
      .serial = "other-vm", .virtual_mesh = "vmesh/vm9", .mesh = "istiod-istio-system-c1", .cluster = "c1"});
  api::v1::Mesh m2;
  m2.mutable_metadata()->set_name("istiod-istio-system-c2");
  m2.mutable_spec()->set_cluster("c2");
  extras.meshes.push_back(m2);
  api::v1::Cluster c1;
  c1.mutable_metadata()->set_name("c1");
  c1.mutable_status()->set_state(api::v1::CONNECTED);
  c1.mutable_status()->mutable_last_heartbeat()->set_seconds(1'800'000'000 - 7);
  extras.clusters.push_back(c1);
  extras.notes.push_back("meshes unavailable: boom");
  std::string text = DescribeVirtualMesh(vm, kNow, extras);
  EXPECT_THAT(text, HasSubstr("istiod-istio-system-c1  c1       serial-c1  2027-01-25T08:00:00Z  in 10d   60m ago"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("other-vm")));
  EXPECT_THAT(text, HasSubstr("c1       CONNECTED       7s ago"));
  EXPECT_THAT(text, HasSubstr("c2       NOT REGISTERED"));
  EXPECT_THAT(text, HasSubstr("Note: meshes unavailable: boom"));
}

TEST(Printers, PreviewIsYamlDocumentsPerCluster) {
  auto response = boost::json::parse(R"({
    "status": {"state": "PENDING", "errors": [], "meshes": {"m1.vmesh": {"state": "PENDING",
               "errors": ["certificate requested"]}}},
    "clusters": {
      "c2": [{"name": "vmesh-global-deny", "object": {"apiVersion": "security.istio.io/v1beta1",
              "kind": "AuthorizationPolicy", "metadata": {"name": "vmesh-global-deny"}}}],
      "c1": [{"name": "cert/m1", "certificate": {"mesh": "m1", "ttlDays": 30}}]
    }})");
  auto text = PreviewYaml(response);
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(*text,
            "# state: PENDING\n"
            "# mesh m1.vmesh: PENDING\n"
            "#   certificate requested\n"
            "# cluster: c1\n"
            "---\n"
            "# certificate directive cert/m1 (the agent generates the key and sends a CSR)\n"
            "mesh: m1\n"
            "ttlDays: 30\n"
            "# cluster: c2\n"
            "---\n"
            "apiVersion: security.istio.io/v1beta1\n"
            "kind: AuthorizationPolicy\n"
            "metadata:\n"
            "  name: vmesh-global-deny\n");
  EXPECT_FALSE(PreviewYaml(boost::json::parse(R"({"clusters": {"c1": [{"name": "x"}]}})")).ok());
}

}  // namespace
}  // namespace vmesh::cli
