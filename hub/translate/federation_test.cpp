#include "hub/translate/federation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "common/crdschema/schema_set.h"
#include "hub/translate/translate_test_case.h"

namespace vmesh::hub {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Case = TranslateCase;

Case Load(const std::string& name) { return LoadTranslateCase(name); }

FederationTranslator Translator(const Case& c) {
  return FederationTranslator(c.vm.metadata().namespace_(), c.vm.metadata().name(), c.vm.spec(), c.meshes);
}

class FederationGolden : public ::testing::TestWithParam<std::string> {};

// Every output validates against Istio's CRD schemas (third_party/istio/crds.yaml).
TEST_P(FederationGolden, EveryOutputValidatesAgainstTheIstioCrds) {
  Case c = Load(GetParam());
  auto outputs = Translator(c).TranslateAll(c.destinations);
  ASSERT_FALSE(outputs.empty());
  ASSERT_NE(IstioSchemas(), nullptr) << "cannot load " << vmesh::testpaths::IstioCrdsFile();
  for (const auto& o : outputs) {
    for (const auto& v : IstioSchemas()->Validate(o.object)) ADD_FAILURE() << o.Key() << ": " << crdschema::ToString(v);
  }
}

TEST_P(FederationGolden, MatchesGoldenFile) {
  Case c = Load(GetParam());
  ExpectMatchesGolden(GetParam(), Translator(c).TranslateAll(c.destinations), "hub/translate/federation_test.cpp");
}

INSTANTIATE_TEST_SUITE_P(Cases, FederationGolden,
                         ::testing::Values("permissive", "restrictive", "flat_network", "suffix_keepalive_nodeport"));

std::map<std::string, std::string> ByKey(const std::vector<Output>& outputs) {
  std::map<std::string, std::string> out;
  for (const auto& o : outputs) out[o.Key()] = boost::json::serialize(o.object);
  return out;
}

TEST(Federation, PermissiveSendsEveryDestinationToEveryOtherMesh) {
  Case c = Load("permissive");
  auto t = Translator(c);
  EXPECT_THAT(t.Receivers(c.destinations[0]),
              ElementsAre("istiod-istio-system-cluster-2.vmesh", "istiod-istio-system-cluster-3.vmesh"));
  auto outputs = ByKey(t.TranslateAll(c.destinations));
  EXPECT_TRUE(outputs.count("cluster-2/ServiceEntry/istio-system/reviews.bookinfo.svc.cluster-1.global"));
  EXPECT_TRUE(outputs.count("cluster-3/DestinationRule/istio-system/reviews.bookinfo.svc.cluster-1.global"));
  EXPECT_TRUE(outputs.count("cluster-1/ServiceEntry/istio-system/reviews.bookinfo.svc.cluster-1.global")) << "local";
  EXPECT_TRUE(outputs.count("cluster-1/Gateway/istio-system/vmesh-vm1-eastwest"));
  EXPECT_FALSE(outputs.count("cluster-1/ServiceEntry/istio-system/ratings.bookinfo.svc.cluster-1.global"));
}

TEST(Federation, RemoteEndpointsAreTheGatewayAndLocalOnesThePods) {
  Case c = Load("permissive");
  auto outputs = Translator(c).TranslateDestination(c.destinations[0]);
  const Output* remote = nullptr;
  const Output* local = nullptr;
  for (const auto& o : outputs) {
    if (o.kind != "ServiceEntry") continue;
    (o.cluster == "cluster-1" ? local : remote) = &o;
  }
  ASSERT_TRUE(remote && local);
  const auto& rspec = remote->object.at("spec").as_object();
  // Two distinct pod label sets (v1, v2) behind one gateway address: two endpoints, so subsets work.
  ASSERT_EQ(rspec.at("endpoints").as_array().size(), 2u);
  const auto& ep = rspec.at("endpoints").as_array()[0].as_object();
  EXPECT_EQ(ep.at("address").as_string(), "172.18.0.1");
  EXPECT_EQ(ep.at("ports").as_object().at("http").to_number<std::int64_t>(), 15443);
  EXPECT_EQ(ep.at("labels").as_object().at("security.istio.io/tlsMode").as_string(), "istio");
  EXPECT_EQ(rspec.at("resolution").as_string(), "STATIC");
  const auto& lspec = local->object.at("spec").as_object();
  EXPECT_EQ(lspec.at("exportTo").as_array()[0].as_string(), ".");
  ASSERT_EQ(lspec.at("endpoints").as_array().size(), 2u) << "ready pods only";
  EXPECT_EQ(lspec.at("endpoints").as_array()[0].as_object().at("address").as_string(), "10.1.0.11");
}

TEST(Federation, EastWestIngressGatewaySelectorsChooseTheGateway) {
  Case c = Load("permissive");
  const std::string key = c.destinations[0].spec().mesh().name() + ".vmesh";
  api::v1::Mesh& source = c.meshes.at(key);
  // The mesh also has an ingress gateway that can carry east-west traffic.
  api::v1::GatewayInfo* ingress = source.mutable_spec()->add_ingress_gateways();
  ingress->mutable_service()->set_name("istio-ingressgateway");
  ingress->mutable_service()->set_namespace_("istio-ingress");
  (*ingress->mutable_workload_labels())["istio"] = "ingressgateway";
  ingress->set_tls_port_name("tls");
  ingress->set_tls_container_port(15443);
  ingress->set_external_tls_port(443);
  ingress->add_external_addresses("203.0.113.7");

  auto remote_address = [&](const Case& cs) -> std::string {
    for (const auto& o : Translator(cs).TranslateDestination(cs.destinations[0])) {
      if (o.kind == "ServiceEntry" && o.cluster != cs.destinations[0].spec().cluster()) {
        return std::string(o.object.at("spec").at("endpoints").as_array()[0].at("address").as_string()) + ":" +
               std::to_string(
                   o.object.at("spec").at("endpoints").as_array()[0].at("ports").at("http").to_number<int64_t>());
      }
    }
    return "";
  };
  EXPECT_EQ(remote_address(c), "172.18.0.1:15443") << "no selectors: the discovered east-west gateway";

  auto* selector = c.vm.mutable_spec()->mutable_federation()->add_east_west_ingress_gateway_selectors();
  (*selector->add_destination_selectors()->mutable_kube_service_matcher()->mutable_labels())["istio"] =
      "ingressgateway";
  EXPECT_EQ(remote_address(c), "203.0.113.7:443") << "selected by workload labels";
  EXPECT_EQ(SelectEastWestGateway(c.vm.spec(), "vmesh", source), ingress);

  // A selector for other meshes does not apply to this one.
  selector->add_meshes()->set_name("istiod-istio-system-elsewhere");
  EXPECT_EQ(remote_address(c), "172.18.0.1:15443");
  selector->clear_meshes();

  // The TLS port name must match (default "tls").
  selector->set_port_name("tls-east-west");
  EXPECT_TRUE(EastWestGatewayCandidates(c.vm.spec(), "vmesh", source).empty());
  EXPECT_EQ(remote_address(c), "") << "no usable gateway: nothing federated (status says INVALID)";
}

TEST(Federation, OneDestinationChangeTouchesOnlyItsOwnOutputs) {
  Case c = Load("permissive");
  auto t = Translator(c);
  auto before = ByKey(t.TranslateAll(c.destinations));
  c.destinations[1].mutable_spec()->mutable_endpoints(0)->set_ip("10.2.0.99");
  auto after = ByKey(t.TranslateAll(c.destinations));
  auto changed_only = ByKey(t.TranslateDestination(c.destinations[1]));
  ASSERT_EQ(before.size(), after.size());
  int changed = 0;
  for (const auto& [key, value] : after) {
    if (before.at(key) != value) {
      ++changed;
      EXPECT_TRUE(changed_only.count(key)) << key << " changed but is not an output of the changed destination";
    }
  }
  EXPECT_EQ(changed, 1) << "only the source cluster's local ServiceEntry lists pod IPs";
}

TEST(Federation, VipIsStableAndInsideTheClassEBlock) {
  EXPECT_EQ(FederatedVip("reviews", "bookinfo", "cluster-1"), FederatedVip("reviews", "bookinfo", "cluster-1"));
  EXPECT_NE(FederatedVip("reviews", "bookinfo", "cluster-1"), FederatedVip("reviews", "bookinfo", "cluster-2"));
  for (int i = 0; i < 1000; ++i) {
    std::string vip = FederatedVip("svc" + std::to_string(i), "ns", "c");
    int a = std::stoi(vip.substr(0, vip.find('.')));
    EXPECT_GE(a, 240);
    EXPECT_LE(a, 255);
    EXPECT_NE(vip, "255.255.255.255");
  }
  EXPECT_EQ(FederatedHost("reviews", "bookinfo", "cluster-1", "global"), "reviews.bookinfo.svc.cluster-1.global");
}

TEST(Federation, IstioProtocolFromAppProtocolOrName) {
  auto port = [](std::string name, std::string app = "", std::string proto = "TCP") {
    api::v1::ServicePort p;
    p.set_name(name);
    p.set_app_protocol(app);
    p.set_protocol(proto);
    return p;
  };
  EXPECT_EQ(IstioProtocol(port("http")), "HTTP");
  EXPECT_EQ(IstioProtocol(port("http-web")), "HTTP");
  EXPECT_EQ(IstioProtocol(port("grpc-api")), "GRPC");
  EXPECT_EQ(IstioProtocol(port("metrics", "http")), "HTTP");
  EXPECT_EQ(IstioProtocol(port("web", "kubernetes.io/h2c")), "TCP");
  EXPECT_EQ(IstioProtocol(port("tcp-postgres")), "TCP");
  EXPECT_EQ(IstioProtocol(port("dns", "", "UDP")), "UDP");
  EXPECT_EQ(IstioProtocol(port("httpx")), "TCP") << "prefix must be followed by '-'";
}

TEST(Federation, NoFederationSectionFederatesNothing) {
  Case c = Load("permissive");
  c.vm.mutable_spec()->clear_federation();
  EXPECT_TRUE(Translator(c).TranslateAll(c.destinations).empty());
  c.vm.mutable_spec()->mutable_federation();  // federation: {} — no selectors, nothing selected
  EXPECT_TRUE(Translator(c).TranslateAll(c.destinations).empty());
}

}  // namespace
}  // namespace vmesh::hub
