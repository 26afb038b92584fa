// HubReconciler with a VirtualMesh under limited trust (SPEC §8): the gateway path's outputs, no intermediate CA,
// warnings in the status, pruning, and the incremental computation agreeing with the full one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "hub/controller/hub_reconciler.h"

namespace vmesh::hub {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kVm[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1}
spec:
  meshes: [{name: istiod-istio-system-c1}, {name: istiod-istio-system-c2}]
  mtlsConfig: {limited: {}}
  federation: {permissive: {}}
  globalAccessPolicy: ENABLED
)";

constexpr char kPolicy[] = R"(apiVersion: networking.vmesh.dev/v1
kind: AccessPolicy
metadata: {name: productpage-to-reviews}
spec:
  sourceSelector:
  - kubeServiceAccountRefs: {serviceAccounts: [{name: productpage, namespace: bookinfo, clusterName: c1}]}
  destinationSelector:
  - kubeServiceRefs: {services: [{name: reviews, namespace: bookinfo, clusterName: c2}]}
  allowedPorts: [9080]
)";

constexpr char kReviews[] = "reviews.bookinfo.svc.c2.global";

api::v1::Mesh MeshOf(const std::string& cluster, int n, bool egress = true) {
  api::v1::Mesh m;
  m.mutable_metadata()->set_name("istiod-istio-system-" + cluster);
  m.mutable_metadata()->set_namespace_("vmesh");
  m.mutable_spec()->set_cluster(cluster);
  m.mutable_spec()->set_installation_namespace("istio-system");
  m.mutable_spec()->set_istio_version("1.20.3");
  auto* gw = m.mutable_spec()->add_east_west_gateways();
  gw->mutable_service()->set_name("istio-eastwestgateway");
  gw->mutable_service()->set_namespace_("istio-system");
  gw->set_tls_container_port(15443);
  gw->set_external_tls_port(15443);
  gw->add_external_addresses("172.18.0." + std::to_string(n));
  (*gw->mutable_workload_labels())["istio"] = "eastwestgateway";
  if (egress) {
    auto* eg = m.mutable_spec()->add_egress_gateways();
    eg->mutable_service()->set_name("istio-egressgateway");
    eg->mutable_service()->set_namespace_("istio-system");
    eg->set_external_tls_port(443);
    eg->set_tls_container_port(8443);
    eg->set_service_type("ClusterIP");
    (*eg->mutable_workload_labels())["istio"] = "egressgateway";
  }
  return m;
}

api::v1::Destination Service(const std::string& name, const std::string& cluster) {
  api::v1::Destination d;
  d.mutable_metadata()->set_name(name + "-bookinfo-" + cluster);
  d.mutable_metadata()->set_namespace_("vmesh");
  auto* s = d.mutable_spec();
  s->set_cluster(cluster);
  s->mutable_mesh()->set_name("istiod-istio-system-" + cluster);
  s->mutable_mesh()->set_namespace_("vmesh");
  s->set_name(name);
  s->set_namespace_("bookinfo");
  (*s->mutable_selector())["app"] = name;
  auto* p = s->add_ports();
  p->set_name("http");
  p->set_port(9080);
  auto* e = s->add_endpoints();
  e->set_ip("10.0.0.1");
  e->set_ready(true);
  e->set_service_account(name);
  return d;
}

std::set<std::string> Names(const DesiredState& desired, const std::string& cluster) {
  std::set<std::string> out;
  auto it = desired.resources.find(cluster);
  if (it == desired.resources.end()) return out;
  for (const auto& r : it->second) out.insert(r->name());
  return out;
}

std::string Kube(const std::string& api_version, const std::string& kind, const std::string& ns,
                 const std::string& name) {
  return "kube/" + api_version + "/" + kind + "/" + ns + "/" + name;
}

class LimitedReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-limited-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*OpenSqliteStore(dir_ + "/hub.db"));
    objects_ = std::make_unique<ObjectService>(*store_, "vmesh", [this] { return now_; });
    ca_ = std::make_unique<CaService>(*store_, std::nullopt, [this] { return now_; });
    reconciler_ = std::make_unique<HubReconciler>(*store_, *objects_, *ca_);
    reconciler_->SetDiscovery("c1", {MeshOf("c1", 1)}, {Service("productpage", "c1")});
    reconciler_->SetDiscovery("c2", {MeshOf("c2", 2)}, {Service("reviews", "c2")});
    for (const char* c : {"c1", "c2"}) reconciler_->SetConnected(c, true);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  api::v1::VirtualMesh Vm() { return **objects_->GetVirtualMesh("vmesh", "vm1"); }

  std::string dir_;
  StorePtr store_;
  std::unique_ptr<ObjectService> objects_;
  std::unique_ptr<CaService> ca_;
  std::unique_ptr<HubReconciler> reconciler_;
  TimePoint now_ = std::chrono::system_clock::now();
};

TEST_F(LimitedReconcilerTest, ProducesTheGatewayPathAndNoIntermediateCa) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  ASSERT_TRUE(objects_->Apply(kPolicy).ok());
  auto desired = reconciler_->Reconcile();
  ASSERT_TRUE(desired.ok()) << desired.error().message;

  const std::string v = "networking.istio.io/v1beta1";
  const auto c1 = Names(*desired, "c1");
  EXPECT_THAT(c1, Contains(Kube(v, "ServiceEntry", "istio-system", kReviews)));
  EXPECT_THAT(c1, Contains(Kube(v, "VirtualService", "istio-system", kReviews)));
  EXPECT_THAT(c1, Contains(Kube(v, "Gateway", "istio-system", std::string("vmesh-egress-") + kReviews)));
  EXPECT_THAT(c1, Contains(Kube(v, "DestinationRule", "istio-system", kReviews)));
  EXPECT_THAT(c1, Contains(Kube("security.istio.io/v1beta1", "AuthorizationPolicy", "istio-system",
                                std::string("vmesh-egress-productpage-to-reviews-") + kReviews)));
  const auto c2 = Names(*desired, "c2");
  EXPECT_THAT(c2, Contains(Kube(v, "Gateway", "istio-system", std::string("vmesh-ingress-") + kReviews)));
  EXPECT_THAT(c2, Contains(Kube(v, "VirtualService", "istio-system", std::string("vmesh-ingress-9080-") + kReviews)));
  EXPECT_THAT(c2, Not(Contains(Kube(v, "Gateway", "istio-system", "vmesh-vm1-eastwest"))));

  // No intermediate CA: no certificate directive, no root, and no mesh waits for one.
  for (const auto& [cluster, resources] : desired->resources) {
    for (const auto& r : resources) EXPECT_FALSE(r->has_certificate()) << cluster << " " << r->name();
  }
  EXPECT_FALSE(*store_->GetRootCa("vmesh/vm1")) << "limited trust creates no root of the shared kind";
  const auto vm = Vm();
  for (const auto& [key, mesh] : vm.status().meshes()) {
    EXPECT_NE(mesh.state(), api::v1::INVALID) << key;
    EXPECT_NE(mesh.state(), api::v1::FAILED) << key << ": every output validates against the Istio CRDs";
    for (const auto& e : mesh.errors()) EXPECT_THAT(e, Not(HasSubstr("intermediate"))) << key;
  }
  EXPECT_THAT(vm.status().warnings(), Contains(AllOf(HasSubstr("AccessPolicy vmesh/productpage-to-reviews"),
                                                     HasSubstr("istio-system/sa/istio-eastwestgateway"))));

  const int writes = reconciler_->status_writes();
  auto again = reconciler_->Reconcile();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(reconciler_->status_writes(), writes) << "nothing changed: nothing written";
  EXPECT_EQ(Names(*again, "c1"), c1);
}

TEST_F(LimitedReconcilerTest, AMeshThatLeavesIsPrunedFromEveryCluster) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  auto before = reconciler_->Reconcile();
  ASSERT_TRUE(before.ok());
  ASSERT_THAT(Names(*before, "c1"), Not(IsEmpty()));
  ASSERT_TRUE(objects_
                  ->Apply("apiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: {name: vm1}\nspec:\n"
                          "  meshes: [{name: istiod-istio-system-c2}]\n  mtlsConfig: {limited: {}}\n"
                          "  federation: {permissive: {}}\n")
                  .ok());
  auto after = reconciler_->Reconcile();
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(Names(*after, "c1"), IsEmpty()) << "its outputs are no longer desired: the agent prunes them";
  for (const auto& name : Names(*after, "c2")) EXPECT_THAT(name, Not(HasSubstr("vmesh-ingress-"))) << name;
}

TEST_F(LimitedReconcilerTest, MissingEgressGatewayMakesTheMeshInvalidAndFlatNetworkIsIgnored) {
  reconciler_->SetDiscovery("c1", {MeshOf("c1", 1, /*egress=*/false)}, {Service("productpage", "c1")});
  std::string vm = kVm;
  vm.replace(vm.find("federation: {permissive: {}}"), 28, "federation: {permissive: {}, flatNetwork: true}");
  ASSERT_TRUE(objects_->Apply(vm).ok());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  const auto status = Vm().status();
  const auto& c1 = status.meshes().at("istiod-istio-system-c1.vmesh");
  EXPECT_EQ(c1.state(), api::v1::INVALID);
  EXPECT_THAT(c1.errors(0), HasSubstr("has no egress gateway, which limited trust needs"));
  EXPECT_THAT(status.warnings(), Contains(HasSubstr("flatNetwork is ignored under limited trust")));
}

// The incremental computation (per destination) gives exactly what the full one gives, as a destination changes.
TEST_F(LimitedReconcilerTest, IncrementalAndFullComputationsAgree) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  ASSERT_TRUE(objects_->Apply(kPolicy).ok());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  auto reviews = Service("reviews", "c2");
  reviews.mutable_spec()->mutable_ports(0)->set_port(9090);
  reconciler_->SetDiscovery("c2", {MeshOf("c2", 2)}, {reviews});
  auto incremental = reconciler_->Reconcile();
  ASSERT_TRUE(incremental.ok());
  EXPECT_TRUE(reconciler_->incremental().incremental_computes() > 0) << "a destination change is patched in";
  reconciler_->SetIncremental(false);
  auto full = reconciler_->Reconcile();
  ASSERT_TRUE(full.ok());
  for (const char* c : {"c1", "c2"}) {
    EXPECT_EQ(Names(*incremental, c), Names(*full, c)) << c;
    EXPECT_THAT(Names(*full, c), Not(Contains(HasSubstr(std::string("-9080-") + kReviews)))) << c;
  }
  EXPECT_THAT(Names(*full, "c2"), Contains(Kube("networking.istio.io/v1beta1", "VirtualService", "istio-system",
                                                std::string("vmesh-ingress-9090-") + kReviews)));
}

}  // namespace
}  // namespace vmesh::hub
