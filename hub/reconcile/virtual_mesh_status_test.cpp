#include "hub/reconcile/virtual_mesh_status.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "common/api/manifest.h"

namespace vmesh::hub {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

api::v1::VirtualMesh Vm(const std::string& yaml) {
  api::v1::VirtualMesh vm;
  auto errors = api::DecodeInto(yaml, &vm);
  EXPECT_TRUE(errors.empty()) << api::JoinErrors(errors);
  return vm;
}

constexpr char kTwoMeshes[] = R"(
apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1, namespace: vmesh, generation: 3, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  meshes: [{name: istiod-istio-system-c1}, {name: istiod-istio-system-c2}]
  mtlsConfig: {shared: {}}
  federation: {permissive: {}}
)";

api::v1::Mesh DiscoveredMesh(const std::string& cluster, bool smart_dns = false, bool gateway = true) {
  api::v1::Mesh m;
  m.mutable_metadata()->set_name("istiod-istio-system-" + cluster);
  m.mutable_metadata()->set_namespace_("vmesh");
  m.mutable_spec()->set_cluster(cluster);
  m.mutable_spec()->set_installation_namespace("istio-system");
  m.mutable_spec()->set_smart_dns_proxying_enabled(smart_dns);
  if (gateway) {
    auto* gw = m.mutable_spec()->add_east_west_gateways();
    gw->add_external_addresses("172.18.0.1");
    gw->set_external_tls_port(15443);
    gw->set_tls_port_name("tls");
    (*gw->mutable_workload_labels())["istio"] = "eastwestgateway";
  }
  return m;
}

MeshReport Installed() {
  MeshReport r;
  r.certificate.set_phase(api::v1::INSTALLED);
  r.certificate.set_serial("abcd");
  return r;
}

// Two discovered, connected meshes with installed certificates.
StatusInput Healthy() {
  StatusInput in;
  in.virtual_meshes.push_back({Vm(kTwoMeshes)});
  for (const char* c : {"c1", "c2"}) {
    in.meshes["istiod-istio-system-" + std::string(c) + ".vmesh"] = DiscoveredMesh(c);
    in.connected_clusters.insert(c);
    in.reports["istiod-istio-system-" + std::string(c) + ".vmesh"] = Installed();
  }
  return in;
}

const api::v1::ApprovalStatus& Mesh(const VirtualMeshResult& r, const std::string& cluster) {
  return r.status.meshes().at("istiod-istio-system-" + cluster + ".vmesh");
}

TEST(VirtualMeshStatus, EverythingInPlaceIsAccepted) {
  auto r = ComputeStatuses(Healthy());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].key, "vmesh/vm1");
  EXPECT_EQ(r[0].status.state(), api::v1::ACCEPTED);
  EXPECT_EQ(r[0].status.observed_generation(), 3);
  EXPECT_THAT(r[0].status.errors(), IsEmpty());
  EXPECT_EQ(Mesh(r[0], "c1").state(), api::v1::ACCEPTED);
  EXPECT_EQ(Mesh(r[0], "c1").certificate().serial(), "abcd");
  EXPECT_TRUE(Mesh(r[0], "c1").agent_connected());
  EXPECT_THAT(r[0].active_meshes, ElementsAre("istiod-istio-system-c1.vmesh", "istiod-istio-system-c2.vmesh"));
}

TEST(VirtualMeshStatus, AnEastWestGatewayWithoutExternalAddressIsNamed) {
  StatusInput in = Healthy();
  auto* gateway = in.meshes["istiod-istio-system-c2.vmesh"].mutable_spec()->mutable_east_west_gateways(0);
  gateway->clear_external_addresses();
  gateway->mutable_service()->set_namespace_("istio-system");
  gateway->mutable_service()->set_name("istio-eastwestgateway");
  auto r = ComputeStatuses(in);
  EXPECT_EQ(Mesh(r[0], "c1").state(), api::v1::ACCEPTED);
  EXPECT_EQ(Mesh(r[0], "c2").state(), api::v1::INVALID);
  EXPECT_THAT(Mesh(r[0], "c2").errors(0), HasSubstr("istio-system/istio-eastwestgateway in cluster c2"));
  EXPECT_THAT(Mesh(r[0], "c2").errors(0), HasSubstr("no external address"));
  // A flat network needs no gateway at all.
  in.virtual_meshes[0].current.mutable_spec()->mutable_federation()->set_flat_network(true);
  EXPECT_EQ(Mesh(ComputeStatuses(in)[0], "c2").state(), api::v1::ACCEPTED);
}

TEST(VirtualMeshStatus, GatewaySelectorsThatMatchNothingMakeTheMeshInvalid) {
  StatusInput in = Healthy();
  auto* selector =
      in.virtual_meshes[0].current.mutable_spec()->mutable_federation()->add_east_west_ingress_gateway_selectors();
  (*selector->add_destination_selectors()->mutable_kube_service_matcher()->mutable_labels())["istio"] = "nope";
  selector->add_meshes()->set_name("istiod-istio-system-c2");
  auto r = ComputeStatuses(in);
  EXPECT_EQ(Mesh(r[0], "c1").state(), api::v1::ACCEPTED) << "the selector names c2 only";
  EXPECT_EQ(Mesh(r[0], "c2").state(), api::v1::INVALID);
  EXPECT_THAT(Mesh(r[0], "c2").errors(0), HasSubstr("eastWestIngressGatewaySelectors"));
}

TEST(VirtualMeshStatus, UndiscoveredMeshIsPendingNamingIt) {
  StatusInput in = Healthy();
  in.meshes.erase("istiod-istio-system-c2.vmesh");
  auto r = ComputeStatuses(in);
  EXPECT_EQ(r[0].status.state(), api::v1::PENDING);
  EXPECT_EQ(Mesh(r[0], "c1").state(), api::v1::ACCEPTED);
  EXPECT_EQ(Mesh(r[0], "c2").state(), api::v1::PENDING);
  EXPECT_THAT(Mesh(r[0], "c2").errors(0), HasSubstr("istiod-istio-system-c2.vmesh has not been discovered"));
  EXPECT_THAT(r[0].active_meshes, ElementsAre("istiod-istio-system-c1.vmesh"));
}

TEST(VirtualMeshStatus, FirstAcceptedWinsByCreationTimeWhateverTheInputOrder) {
  StatusInput in = Healthy();
  auto second = Vm(R"(
apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: aaa-later, namespace: vmesh, generation: 1, creationTimestamp: "2026-02-01T00:00:00Z"}
spec:
  meshes: [{name: istiod-istio-system-c2}, {name: istiod-istio-system-c3}]
  mtlsConfig: {shared: {}}
)");
  in.meshes["istiod-istio-system-c3.vmesh"] = DiscoveredMesh("c3");
  in.connected_clusters.insert("c3");
  in.reports["istiod-istio-system-c3.vmesh"] = Installed();
  // The later VirtualMesh comes first in the input and sorts first by name: creation time still decides.
  in.virtual_meshes.insert(in.virtual_meshes.begin(), VirtualMeshInput{second});
  auto r = ComputeStatuses(in);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].key, "vmesh/aaa-later");
  EXPECT_EQ(Mesh(r[0], "c2").state(), api::v1::INVALID);
  EXPECT_THAT(Mesh(r[0], "c2").errors(0), HasSubstr("already a member of VirtualMesh vmesh/vm1"));
  EXPECT_EQ(Mesh(r[0], "c3").state(), api::v1::ACCEPTED) << "other meshes proceed";
  EXPECT_EQ(r[0].status.state(), api::v1::INVALID);
  EXPECT_EQ(r[1].status.state(), api::v1::ACCEPTED) << "the first one is unaffected";
  EXPECT_THAT(r[0].claimed_meshes, ElementsAre("istiod-istio-system-c3.vmesh"));
}

TEST(VirtualMeshStatus, InvalidUpdateKeepsTheLastGoodSpecAndItsMeshes) {
  StatusInput in = Healthy();
  VirtualMeshInput& vm = in.virtual_meshes[0];
  vm.last_good_spec = vm.current.spec();
  vm.last_good_generation = 3;
  vm.current.mutable_metadata()->set_generation(4);
  vm.current.mutable_spec()
      ->mutable_mtls_config()
      ->mutable_shared()
      ->mutable_root_certificate_authority()
      ->mutable_generated()
      ->set_rsa_key_size_bytes(1024);
  // A later VirtualMesh wants c1: it must not get it while vm1 is INVALID.
  in.virtual_meshes.push_back({Vm(R"(
apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm2, namespace: vmesh, generation: 1, creationTimestamp: "2026-03-01T00:00:00Z"}
spec: {meshes: [{name: istiod-istio-system-c1}]}
)")});
  auto r = ComputeStatuses(in);
  EXPECT_TRUE(r[0].whole_invalid);
  EXPECT_EQ(r[0].status.state(), api::v1::INVALID);
  EXPECT_EQ(r[0].status.observed_generation(), 4);
  EXPECT_THAT(r[0].status.errors(0), HasSubstr("rsaKeySizeBytes"));
  EXPECT_THAT(r[0].status.errors(1), HasSubstr("keep the configuration of generation 3"));
  ASSERT_TRUE(r[0].effective_spec);
  EXPECT_EQ(r[0].effective_spec->mtls_config().shared().root_certificate_authority().generated().rsa_key_size_bytes(),
            0u);
  EXPECT_THAT(r[0].active_meshes, ElementsAre("istiod-istio-system-c1.vmesh", "istiod-istio-system-c2.vmesh"));
  EXPECT_EQ(Mesh(r[1], "c1").state(), api::v1::INVALID);
  EXPECT_THAT(r[1].claimed_meshes, IsEmpty());
}

TEST(VirtualMeshStatus, InvalidWithoutLastGoodClaimsNothing) {
  StatusInput in = Healthy();
  in.virtual_meshes[0].current.mutable_spec()->clear_mtls_config();  // two meshes need mtlsConfig
  auto r = ComputeStatuses(in);
  EXPECT_TRUE(r[0].whole_invalid);
  EXPECT_THAT(r[0].status.errors(0), HasSubstr("spec.mtlsConfig"));
  EXPECT_FALSE(r[0].effective_spec);
  EXPECT_THAT(r[0].claimed_meshes, IsEmpty());
  EXPECT_EQ(Mesh(r[0], "c1").state(), api::v1::INVALID);
}

TEST(VirtualMeshStatus, HostnameSuffixNeedsSmartDnsInEachReceivingMesh) {
  StatusInput in = Healthy();
  in.virtual_meshes[0].current.mutable_spec()->mutable_federation()->set_hostname_suffix("corp");
  in.meshes["istiod-istio-system-c1.vmesh"] = DiscoveredMesh("c1", /*smart_dns=*/true);
  auto r = ComputeStatuses(in);
  EXPECT_EQ(Mesh(r[0], "c1").state(), api::v1::ACCEPTED);
  EXPECT_EQ(Mesh(r[0], "c2").state(), api::v1::INVALID);
  EXPECT_THAT(Mesh(r[0], "c2").errors(0),
              HasSubstr("hostnameSuffix \"corp\" requires smart DNS proxying in mesh istiod-istio-system-c2.vmesh"));
  EXPECT_THAT(Mesh(r[0], "c2").errors(0), HasSubstr("ISTIO_META_DNS_CAPTURE"));
  EXPECT_EQ(r[0].status.state(), api::v1::INVALID);
  EXPECT_THAT(r[0].active_meshes, ElementsAre("istiod-istio-system-c1.vmesh"));
}

TEST(VirtualMeshStatus, FederationNeedsAnEastWestGatewayUnlessFlat) {
  StatusInput in = Healthy();
  in.meshes["istiod-istio-system-c2.vmesh"] = DiscoveredMesh("c2", false, /*gateway=*/false);
  auto r = ComputeStatuses(in);
  EXPECT_EQ(Mesh(r[0], "c2").state(), api::v1::INVALID);
  EXPECT_THAT(Mesh(r[0], "c2").errors(0), HasSubstr("no east-west gateway"));
  in.virtual_meshes[0].current.mutable_spec()->mutable_federation()->set_flat_network(true);
  EXPECT_EQ(ComputeStatuses(in)[0].status.state(), api::v1::ACCEPTED);
}

TEST(VirtualMeshStatus, DeregisteredClusterOrBadRootSecretInvalidatesTheWhole) {
  StatusInput in = Healthy();
  in.deregistered_clusters.insert("c2");
  auto r = ComputeStatuses(in);
  EXPECT_TRUE(r[0].whole_invalid);
  EXPECT_THAT(r[0].status.errors(0), HasSubstr("spec.meshes[1]: mesh istiod-istio-system-c2.vmesh belongs to "
                                               "cluster c2, which was deregistered"));
  in = Healthy();
  in.virtual_meshes[0].root_secret_problem = "secret vmesh/my-root not found";
  r = ComputeStatuses(in);
  EXPECT_THAT(r[0].status.errors(0), HasSubstr("rootCertificateAuthority.secret: secret vmesh/my-root not found"));
}

TEST(VirtualMeshStatus, AgentReportsDriveFailedAndPending) {
  StatusInput in = Healthy();
  in.reports["istiod-istio-system-c1.vmesh"].errors = {"apply ServiceEntry x: admission webhook denied"};
  auto r = ComputeStatuses(in);
  EXPECT_EQ(Mesh(r[0], "c1").state(), api::v1::FAILED);
  EXPECT_THAT(Mesh(r[0], "c1").errors(0), HasSubstr("admission webhook denied"));
  EXPECT_EQ(r[0].status.state(), api::v1::FAILED);

  in = Healthy();
  in.connected_clusters.erase("c2");
  google::protobuf::Timestamp seen;
  seen.set_seconds(1'800'000'000);
  in.reports["istiod-istio-system-c2.vmesh"].last_report_time = seen;
  r = ComputeStatuses(in);
  EXPECT_EQ(Mesh(r[0], "c2").state(), api::v1::PENDING);
  EXPECT_THAT(Mesh(r[0], "c2").errors(0), HasSubstr("agent of cluster c2 is disconnected (last report 2027-01-15"));
  EXPECT_FALSE(Mesh(r[0], "c2").agent_connected());

  in = Healthy();
  in.reports["istiod-istio-system-c1.vmesh"].certificate.set_phase(api::v1::REQUESTED);
  r = ComputeStatuses(in);
  EXPECT_EQ(Mesh(r[0], "c1").state(), api::v1::PENDING);
  EXPECT_THAT(Mesh(r[0], "c1").errors(0), HasSubstr("phase REQUESTED"));
}

// status.meshSummary feeds the MESHES column of `kubectl get virtualmeshes`: accepted meshes out of those listed.
// SPEC §8, the switching rule: shared -> limited is refused while the last good generation has shared trust (the
// shared configuration keeps running and renewing); limited -> shared is accepted (normal shared-trust adoption).
TEST(VirtualMeshStatus, SwitchingSharedToLimitedIsRefusedAndTheSharedConfigKept) {
  StatusInput in = Healthy();
  VirtualMeshInput& vm = in.virtual_meshes[0];
  vm.last_good_spec = vm.current.spec();
  vm.last_good_generation = 3;
  vm.current.mutable_metadata()->set_generation(4);
  vm.current.mutable_spec()->mutable_mtls_config()->mutable_limited();
  auto r = ComputeStatuses(in);
  EXPECT_EQ(r[0].status.state(), api::v1::INVALID);
  EXPECT_TRUE(r[0].whole_invalid);
  EXPECT_THAT(r[0].status.errors(),
              ::testing::Contains(HasSubstr("spec.mtlsConfig.limited: VirtualMesh vmesh/vm1 runs shared trust "
                                            "(generation 3), and switching it to limited trust is refused")));
  EXPECT_THAT(r[0].status.errors(), ::testing::Contains(HasSubstr("last good configuration kept")));
  ASSERT_TRUE(r[0].effective_spec);
  EXPECT_TRUE(r[0].effective_spec->mtls_config().has_shared()) << "intermediates keep being renewed";
  EXPECT_EQ(r[0].active_meshes.size(), 2u);

  // limited -> shared: accepted like any shared-trust VirtualMesh.
  vm.last_good_spec = vm.current.spec();  // limited
  vm.current.mutable_spec()->mutable_mtls_config()->mutable_shared();
  r = ComputeStatuses(in);
  EXPECT_EQ(r[0].status.state(), api::v1::ACCEPTED);
  // A VirtualMesh created with limited trust is accepted without any intermediate, and shows its gateway certificates.
  StatusInput fresh = Healthy();
  fresh.virtual_meshes[0].current.mutable_spec()->mutable_mtls_config()->mutable_limited();
  for (auto& [key, mesh] : fresh.meshes) {  // limited trust needs an egress gateway in every mesh
    auto* egress = mesh.mutable_spec()->add_egress_gateways();
    egress->mutable_service()->set_name("istio-egressgateway");
    egress->mutable_service()->set_namespace_("istio-system");
    egress->set_external_tls_port(443);
    (*egress->mutable_workload_labels())["istio"] = "egressgateway";
  }
  for (auto& [key, report] : fresh.reports) {
    report.certificate.Clear();
    api::v1::GatewayCertificateStatus g;
    g.set_role("ingress");
    g.set_serial("0abc");
    g.set_phase(api::v1::INSTALLED);
    g.add_secrets("istio-system/vmesh-gateway-ingress");
    report.gateway_certificates.push_back(g);
  }
  r = ComputeStatuses(fresh);
  EXPECT_EQ(r[0].status.state(), api::v1::ACCEPTED);
  ASSERT_EQ(Mesh(r[0], "c1").gateway_certificates_size(), 1);
  EXPECT_EQ(Mesh(r[0], "c1").gateway_certificates(0).serial(), "0abc");
  EXPECT_EQ(Mesh(r[0], "c1").gateway_certificates(0).secrets(0), "istio-system/vmesh-gateway-ingress");
}

TEST(VirtualMeshStatus, MeshSummaryCountsAcceptedMeshes) {
  EXPECT_EQ(ComputeStatuses(Healthy())[0].status.mesh_summary(), "2/2 accepted");

  StatusInput in = Healthy();
  in.meshes.erase("istiod-istio-system-c2.vmesh");
  EXPECT_EQ(ComputeStatuses(in)[0].status.mesh_summary(), "1/2 accepted");

  in = Healthy();
  in.virtual_meshes[0].current.mutable_spec()->add_meshes()->set_name("istiod-istio-system-c3");
  auto r = ComputeStatuses(in);
  EXPECT_EQ(r[0].status.state(), api::v1::PENDING);
  EXPECT_EQ(r[0].status.mesh_summary(), "2/3 accepted");

  in = Healthy();
  in.virtual_meshes[0].current.mutable_spec()->clear_mtls_config();  // INVALID as a whole: every mesh is INVALID
  EXPECT_EQ(ComputeStatuses(in)[0].status.mesh_summary(), "0/2 accepted");
}

// Later stages (agent certificates, rejected outputs) change per-mesh states; Summarize keeps state and summary in
// step with them.
TEST(VirtualMeshStatus, SummarizeFollowsChangedMeshStates) {
  auto r = ComputeStatuses(Healthy());
  (*r[0].status.mutable_meshes())["istiod-istio-system-c1.vmesh"].set_state(api::v1::FAILED);
  Summarize(r[0].status);
  EXPECT_EQ(r[0].status.state(), api::v1::FAILED);
  EXPECT_EQ(r[0].status.mesh_summary(), "1/2 accepted");
}

TEST(VirtualMeshStatus, SameInputSameOutput) {
  StatusInput in = Healthy();
  in.meshes.erase("istiod-istio-system-c2.vmesh");
  auto a = ComputeStatuses(in);
  auto b = ComputeStatuses(in);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a[0].status, b[0].status));
}

}  // namespace
}  // namespace vmesh::hub
