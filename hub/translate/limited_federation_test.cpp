#include "hub/translate/limited_federation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>

#include "common/api/limited_trust.h"
#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "common/crdschema/schema_set.h"
#include "hub/translate/translate_test_case.h"

namespace vmesh::hub {
namespace {

namespace json = boost::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kReviews[] = "reviews.bookinfo.svc.cluster-2.global";
constexpr char kProductpage[] = "productpage.bookinfo.svc.cluster-1.global";

using Case = TranslateCase;

Case Load() { return LoadTranslateCase("limited"); }

LimitedFederationTranslator Translator(const Case& c) {
  return LimitedFederationTranslator(c.vm.metadata().namespace_(), c.vm.metadata().name(), c.vm.spec(), c.meshes);
}

std::map<std::string, json::object> ByKey(const std::vector<Output>& outputs) {
  std::map<std::string, json::object> out;
  for (const auto& o : outputs) {
    EXPECT_TRUE(out.emplace(o.Key(), o.object).second) << "two outputs named " << o.Key();
  }
  return out;
}

const json::object& Spec(const std::map<std::string, json::object>& outputs, const std::string& key) {
  static const json::object kEmpty;
  auto it = outputs.find(key);
  EXPECT_NE(it, outputs.end()) << "no output " << key;
  return it == outputs.end() ? kEmpty : it->second.at("spec").as_object();
}

std::string S(const json::value& v) { return std::string(v.as_string()); }

TEST(LimitedFederation, MatchesGoldenFile) {
  Case c = Load();
  ExpectMatchesGolden("limited", Translator(c).TranslateAll(c.destinations, c.policies),
                      "hub/translate/limited_federation_test.cpp");
}

// Every output — traffic and policies, every optional field the translation sets — validates against Istio's CRD
// schemas, under both API versions (cluster-1 is Istio 1.20: v1beta1; cluster-2 is 1.22: v1).
TEST(LimitedFederation, EveryOutputValidatesAgainstTheIstioCrds) {
  Case c = Load();
  auto outputs = Translator(c).TranslateAll(c.destinations, c.policies);
  ASSERT_NE(IstioSchemas(), nullptr) << "cannot load " << vmesh::testpaths::IstioCrdsFile();
  std::set<std::string> kinds;
  for (const auto& o : outputs) {
    kinds.insert(o.api_version + " " + o.kind);
    for (const auto& v : IstioSchemas()->Validate(o.object)) ADD_FAILURE() << o.Key() << ": " << crdschema::ToString(v);
  }
  EXPECT_THAT(kinds,
              ElementsAre("networking.istio.io/v1 DestinationRule", "networking.istio.io/v1 Gateway",
                          "networking.istio.io/v1 ServiceEntry", "networking.istio.io/v1 VirtualService",
                          "networking.istio.io/v1beta1 DestinationRule", "networking.istio.io/v1beta1 Gateway",
                          "networking.istio.io/v1beta1 ServiceEntry", "networking.istio.io/v1beta1 VirtualService",
                          "security.istio.io/v1 AuthorizationPolicy", "security.istio.io/v1beta1 AuthorizationPolicy"));
  // A field the schema does not know is reported (the check above is not vacuous).
  json::object bad = outputs.front().object;
  bad["spec"].as_object()["notAField"] = true;
  EXPECT_THAT(IstioSchemas()->Validate(bad), Not(IsEmpty()));
}

// Client cluster: sidecar -> egress gateway (ISTIO_MUTUAL) -> cluster-2's east-west gateway (MUTUAL).
TEST(LimitedFederation, ClientSideRoutesThroughTheEgressGateway) {
  Case c = Load();
  auto out = ByKey(Translator(c).TranslateAll(c.destinations, c.policies));
  const std::string egress_host = "istio-egressgateway.istio-system.svc.cluster.local";
  const std::string ingress_id =
      api::GatewaySpiffeId("vmesh", "vm1", "cluster-2", "istiod-istio-system-cluster-2", api::GatewayRole::kIngress);

  // ServiceEntry: the shared-trust host and VIP; endpoints the remote east-west gateway on its external port,
  // without the Istio mTLS label (that hop is the gateways' own mutual TLS); a hostname address makes it DNS.
  const auto& se = Spec(out, std::string("cluster-1/ServiceEntry/istio-system/") + kReviews);
  EXPECT_EQ(S(se.at("hosts").at(0)), kReviews);
  EXPECT_EQ(S(se.at("addresses").at(0)), FederatedVip("reviews", "bookinfo", "cluster-2"));
  EXPECT_EQ(S(se.at("resolution")), "DNS");
  ASSERT_THAT(se.at("endpoints").as_array(), SizeIs(2));
  EXPECT_EQ(S(se.at("endpoints").at(0).at("address")), "172.18.0.2");
  EXPECT_EQ(se.at("endpoints").at(0).at("ports").at("tcp-db").to_number<int>(), 31443);
  EXPECT_FALSE(se.at("endpoints").at(0).as_object().contains("labels"));

  // Mesh traffic for the host goes to the egress gateway, one subset per port, by the port's protocol.
  const auto& vs = Spec(out, std::string("cluster-1/VirtualService/istio-system/") + kReviews);
  EXPECT_EQ(S(vs.at("gateways").at(0)), "mesh");
  const auto& http = vs.at("http").at(0).as_object();
  EXPECT_EQ(http.at("match").at(0).at("port").to_number<int>(), 9080);
  const auto& to_egress = http.at("route").at(0).at("destination").as_object();
  EXPECT_EQ(S(to_egress.at("host")), egress_host);
  EXPECT_EQ(to_egress.at("port").at("number").to_number<int>(), 443);
  EXPECT_EQ(vs.at("tcp").at(0).at("match").at(0).at("port").to_number<int>(), 5432);
  EXPECT_EQ(S(vs.at("tls").at(0).at("match").at(0).at("sniHosts").at(0)), kReviews);

  // The subset carries ISTIO_MUTUAL with the port's SNI; the egress Gateway terminates it per SNI.
  const auto& subsets = Spec(out, std::string("cluster-1/DestinationRule/istio-system/vmesh-egress-") + kReviews);
  EXPECT_EQ(S(subsets.at("host")), egress_host);
  const auto& subset = subsets.at("subsets").at(0).as_object();
  EXPECT_EQ(S(subset.at("name")), S(to_egress.at("subset")));
  EXPECT_EQ(S(subset.at("trafficPolicy").at("tls").at("mode")), "ISTIO_MUTUAL");
  EXPECT_EQ(S(subset.at("trafficPolicy").at("tls").at("sni")), LimitedLegHost(kReviews, 9080));
  const auto& gw = Spec(out, std::string("cluster-1/Gateway/istio-system/vmesh-egress-") + kReviews);
  EXPECT_EQ(S(gw.at("selector").at("istio")), "egressgateway");
  ASSERT_THAT(gw.at("servers").as_array(), SizeIs(3));
  EXPECT_EQ(S(gw.at("servers").at(0).at("tls").at("mode")), "ISTIO_MUTUAL");
  EXPECT_EQ(S(gw.at("servers").at(0).at("hosts").at(0)), "p9080.reviews.bookinfo.svc.cluster-2.global");

  // From the egress gateway: each port's SNI to the host's port, then MUTUAL with the gateway certificate.
  const auto& leg = Spec(out, std::string("cluster-1/VirtualService/istio-system/vmesh-egress-5432-") + kReviews);
  EXPECT_EQ(S(leg.at("gateways").at(0)), std::string("istio-system/vmesh-egress-") + kReviews);
  EXPECT_EQ(S(leg.at("tcp").at(0).at("route").at(0).at("destination").at("host")), kReviews);
  EXPECT_EQ(leg.at("tcp").at(0).at("route").at(0).at("destination").at("port").at("number").to_number<int>(), 5432);
  const auto& mutual = Spec(out, std::string("cluster-1/DestinationRule/istio-system/") + kReviews);
  EXPECT_EQ(S(mutual.at("exportTo").at(0)), ".");
  const auto& tls = mutual.at("trafficPolicy").at("tls").as_object();
  EXPECT_EQ(S(tls.at("mode")), "MUTUAL");
  EXPECT_EQ(S(tls.at("credentialName")), "vmesh-gateway-egress");
  EXPECT_EQ(S(tls.at("subjectAltNames").at(0)), ingress_id);
  const auto& port_tls = mutual.at("trafficPolicy").at("portLevelSettings").at(1).as_object();
  EXPECT_EQ(port_tls.at("port").at("number").to_number<int>(), 5432);
  EXPECT_EQ(S(port_tls.at("tls").at("sni")), LimitedLegHost(kReviews, 5432));
  EXPECT_EQ(S(port_tls.at("tls").at("credentialName")), "vmesh-gateway-egress");
  EXPECT_TRUE(mutual.at("trafficPolicy").as_object().contains("connectionPool")) << "tcpKeepalive";
}

// Server cluster: the east-west gateway terminates MUTUAL for the VirtualMesh's egress gateways only, then
// ISTIO_MUTUAL to the Service.
TEST(LimitedFederation, ServerSideTerminatesTheGatewaysMutualTls) {
  Case c = Load();
  auto out = ByKey(Translator(c).TranslateAll(c.destinations, c.policies));
  const auto& gw = Spec(out, std::string("cluster-2/Gateway/istio-gateways/vmesh-ingress-") + kReviews);
  EXPECT_EQ(S(gw.at("selector").at("istio")), "eastwestgateway");
  const auto& server = gw.at("servers").at(0).as_object();
  EXPECT_EQ(server.at("port").at("number").to_number<int>(), 15443);
  EXPECT_EQ(S(server.at("hosts").at(0)), LimitedLegHost(kReviews, 9080));
  EXPECT_EQ(S(server.at("tls").at("mode")), "MUTUAL");
  EXPECT_EQ(S(server.at("tls").at("credentialName")), "vmesh-gateway-ingress");
  // cluster-3 has no egress gateway, so only cluster-1's egress identity may connect.
  EXPECT_THAT(server.at("tls").at("subjectAltNames").as_array(),
              ElementsAre(json::value(api::GatewaySpiffeId("vmesh", "vm1", "cluster-1", "istiod-istio-system-cluster-1",
                                                           api::GatewayRole::kEgress))));
  const auto& vs = Spec(out, std::string("cluster-2/VirtualService/istio-gateways/vmesh-ingress-8443-") + kReviews);
  EXPECT_EQ(S(vs.at("hosts").at(0)), LimitedLegHost(kReviews, 8443));
  const auto& to = vs.at("tcp").at(0).at("route").at(0).at("destination").as_object();
  EXPECT_EQ(S(to.at("host")), "reviews.bookinfo.svc.cluster.local");
  EXPECT_EQ(to.at("port").at("number").to_number<int>(), 8443);
  const auto& dr = Spec(out, std::string("cluster-2/DestinationRule/istio-gateways/vmesh-ingress-") + kReviews);
  EXPECT_EQ(S(dr.at("host")), "reviews.bookinfo.svc.cluster.local");
  EXPECT_EQ(S(dr.at("trafficPolicy").at("tls").at("mode")), "ISTIO_MUTUAL");
  EXPECT_EQ(S(dr.at("exportTo").at(0)), ".");
}

// Nothing of shared trust: no AUTO_PASSTHROUGH Gateway, no local ServiceEntry of exported hosts; a mesh without an
// egress gateway receives nothing.
TEST(LimitedFederation, NoSharedTrustObjectsAndNothingForAMeshWithoutEgressGateway) {
  Case c = Load();
  for (const auto& o : Translator(c).TranslateAll(c.destinations, c.policies)) {
    EXPECT_NE(o.name, "vmesh-vm1-eastwest") << o.Key();
    EXPECT_THAT(json::serialize(o.object), Not(HasSubstr("AUTO_PASSTHROUGH"))) << o.Key();
    if (o.kind == "ServiceEntry") {
      EXPECT_THAT(o.name, Not(HasSubstr(".svc." + o.cluster + "."))) << "a local host";
    }
    if (o.cluster == "cluster-3") {
      EXPECT_EQ(o.kind, "AuthorizationPolicy") << o.Key() << ": only mesh policies";
    }
  }
  auto out = ByKey(Translator(c).TranslateAll(c.destinations, c.policies));
  EXPECT_FALSE(out.count(std::string("cluster-2/ServiceEntry/istio-egress/") + kReviews)) << "its own host";
  EXPECT_TRUE(out.count(std::string("cluster-2/ServiceEntry/istio-egress/") + kProductpage));
  EXPECT_TRUE(out.count(std::string("cluster-1/Gateway/istio-system/vmesh-ingress-") + kProductpage));
}

// A mesh that leaves the VirtualMesh takes its outputs with it, and the others stop admitting its egress gateway.
TEST(LimitedFederation, AClusterThatLeavesIsPruned) {
  Case c = Load();
  // Give cluster-3 an egress gateway so that reviews still has a receiver once cluster-1 leaves.
  api::v1::GatewayInfo* egress =
      c.meshes.at("istiod-istio-system-cluster-3.vmesh").mutable_spec()->add_egress_gateways();
  egress->mutable_service()->set_name("istio-egressgateway");
  egress->mutable_service()->set_namespace_("istio-system");
  (*egress->mutable_workload_labels())["istio"] = "egressgateway";
  egress->set_external_tls_port(443);
  auto before = ByKey(Translator(c).TranslateAll(c.destinations, c.policies));
  EXPECT_TRUE(before.count(std::string("cluster-3/ServiceEntry/istio-system/") + kReviews));
  EXPECT_THAT(json::serialize(before.at(std::string("cluster-2/Gateway/istio-gateways/vmesh-ingress-") + kReviews)),
              HasSubstr("/cluster/cluster-1/"));

  c.meshes.erase("istiod-istio-system-cluster-1.vmesh");
  std::erase_if(c.destinations, [](const auto& d) { return d.spec().cluster() == "cluster-1"; });
  auto after = ByKey(Translator(c).TranslateAll(c.destinations, c.policies));
  for (const auto& [key, object] : after) {
    EXPECT_NE(key.rfind("cluster-1/", 0), 0u) << key;
    EXPECT_THAT(json::serialize(object), Not(HasSubstr(kProductpage))) << key;
    EXPECT_THAT(json::serialize(object), Not(HasSubstr("/cluster/cluster-1/"))) << key;
  }
  EXPECT_TRUE(after.count(std::string("cluster-3/ServiceEntry/istio-system/") + kReviews));
  EXPECT_THAT(json::serialize(after.at(std::string("cluster-2/Gateway/istio-gateways/vmesh-ingress-") + kReviews)),
              HasSubstr("/cluster/cluster-3/"));
}

TEST(LimitedFederation, OneDestinationChangeTouchesOnlyItsOwnOutputs) {
  Case c = Load();
  auto t = Translator(c);
  auto before = ByKey(t.TranslateAll(c.destinations, c.policies));
  c.destinations[1].mutable_spec()->mutable_ports(0)->set_port(9090);  // productpage
  auto after = ByKey(t.TranslateAll(c.destinations, c.policies));
  auto own = ByKey(t.TranslateDestination(c.destinations[1]));
  for (const auto& o : t.DestinationPolicies(c.policies, c.destinations[1])) own[o.Key()] = o.object;
  for (const auto& [key, value] : after) {
    if (!before.count(key) || before.at(key) != value) {
      EXPECT_TRUE(own.count(key)) << key << " changed but is not an output of the changed destination";
    }
  }
  EXPECT_TRUE(after.count(std::string("cluster-2/VirtualService/istio-egress/vmesh-egress-9090-") + kProductpage));
  EXPECT_FALSE(after.count(std::string("cluster-2/VirtualService/istio-egress/vmesh-egress-9080-") + kProductpage));
}

// Policies: the destination admits its own ingress gateway for remote sources; the source's egress gateway admits
// the source itself, for the ports the policy allows.
TEST(LimitedFederation, AccessPoliciesMoveRemoteSourcesToTheGateways) {
  Case c = Load();
  auto out = ByKey(Translator(c).TranslateAll(c.destinations, c.policies));
  // At reviews (cluster-2): cluster-1's productpage arrives as cluster-2's east-west gateway.
  const auto& at_dest = Spec(out, "cluster-2/AuthorizationPolicy/bookinfo/vmesh-productpage-to-reviews-reviews");
  const auto& rule = at_dest.at("rules").at(0).as_object();
  EXPECT_THAT(rule.at("from").at(0).at("source").at("principals").as_array(),
              ElementsAre("cluster-2.local/ns/istio-gateways/sa/istio-eastwestgateway",
                          "cluster-2.local/ns/istio-gateways/sa/istio-eastwestgateway-service-account"));
  EXPECT_EQ(S(rule.at("to").at(0).at("operation").at("methods").at(0)), "GET") << "still enforced here";
  EXPECT_EQ(S(at_dest.at("selector").at("matchLabels").at("app")), "reviews");

  // At cluster-1's egress gateway: productpage's own identity, only towards reviews' port 9080.
  const auto& at_egress = Spec(
      out, std::string("cluster-1/AuthorizationPolicy/istio-system/vmesh-egress-productpage-to-reviews-") + kReviews);
  EXPECT_EQ(S(at_egress.at("selector").at("matchLabels").at("istio")), "egressgateway");
  EXPECT_EQ(S(at_egress.at("action")), "ALLOW");
  const auto& egress_rule = at_egress.at("rules").at(0).as_object();
  EXPECT_THAT(egress_rule.at("from").at(0).at("source").at("principals").as_array(),
              ElementsAre("cluster-1.local/ns/bookinfo/sa/bookinfo-productpage"));
  EXPECT_EQ(S(egress_rule.at("when").at(0).at("key")), "connection.sni");
  EXPECT_THAT(egress_rule.at("when").at(0).at("values").as_array(),
              ElementsAre(json::value(LimitedLegHost(kReviews, 9080))));

  // bookinfo-internal names sources in cluster-2 only: reviews admits them as themselves, no gateway, and no
  // egress gateway admits anything for it.
  const auto& internal = Spec(out, "cluster-2/AuthorizationPolicy/bookinfo/vmesh-bookinfo-internal-reviews");
  EXPECT_THAT(internal.at("rules").at(0).at("from").at(0).at("source").at("principals").as_array(),
              ElementsAre("cluster-2.local/ns/bookinfo/sa/*"));
  for (const auto& [key, o] : out) EXPECT_THAT(key, Not(HasSubstr("vmesh-egress-bookinfo-internal")));

  // The global deny stays; the egress gateway gets no ALLOW-all (it enforces the policies of its sources).
  EXPECT_TRUE(out.count("cluster-1/AuthorizationPolicy/istio-system/vmesh-global-deny"));
  EXPECT_FALSE(out.count("cluster-1/AuthorizationPolicy/istio-system/vmesh-allow-istio-egressgateway"));
  EXPECT_TRUE(out.count("cluster-1/AuthorizationPolicy/istio-system/vmesh-allow-istio-eastwestgateway"));
}

TEST(LimitedFederation, PolicyOutputsOnlyWhenGlobalAccessPolicyIsEnabled) {
  Case c = Load();
  c.vm.mutable_spec()->set_global_access_policy(api::v1::VirtualMeshSpec::DISABLED);
  for (const auto& o : Translator(c).TranslateAll(c.destinations, c.policies)) {
    EXPECT_NE(o.kind, "AuthorizationPolicy") << o.Key();
  }
  EXPECT_THAT(Translator(c).Warnings(c.policies), IsEmpty()) << "no policy is enforced, so none loses anything";
}

TEST(LimitedFederation, WarningsNameThePolicyAndTheIdentityTheDestinationSees) {
  Case c = Load();
  auto warnings = Translator(c).Warnings(c.policies);
  EXPECT_THAT(warnings, Contains(AllOf(HasSubstr("AccessPolicy vmesh/productpage-to-reviews"),
                                       HasSubstr("cluster-2.local/ns/istio-gateways/sa/istio-eastwestgateway"),
                                       HasSubstr("egress gateway of the source's cluster"))));
  // A policy whose sources and destinations are all in one cluster loses nothing.
  api::v1::AccessPolicy local = c.policies[0];
  local.mutable_metadata()->set_name("local-only");
  local.mutable_spec()
      ->mutable_source_selector(0)
      ->mutable_kube_service_account_refs()
      ->mutable_service_accounts(0)
      ->set_cluster_name("cluster-2");
  // Any source: nothing to tell apart either.
  api::v1::AccessPolicy anyone = c.policies[0];
  anyone.mutable_metadata()->set_name("anyone");
  anyone.mutable_spec()->clear_source_selector();
  for (const auto& w : Translator(c).Warnings({local, anyone})) {
    ADD_FAILURE() << "unexpected warning: " << w;
  }

  c.vm.mutable_spec()->mutable_federation()->set_flat_network(true);
  EXPECT_THAT(Translator(c).Warnings({}), ElementsAre(HasSubstr("flatNetwork is ignored under limited trust")));
  // ... and it changes nothing: the traffic still takes the gateways.
  auto out = ByKey(Translator(c).TranslateAll(c.destinations, c.policies));
  EXPECT_TRUE(out.count(std::string("cluster-1/Gateway/istio-system/vmesh-egress-") + kReviews));
}

TEST(LimitedFederation, AServiceWithoutPortsGetsNoTrafficOutputs) {
  Case c = Load();
  c.destinations[0].mutable_spec()->clear_ports();
  EXPECT_THAT(Translator(c).TranslateDestination(c.destinations[0]), IsEmpty());
}

TEST(LimitedFederation, LegHostAndEgressGatewaySelection) {
  EXPECT_EQ(LimitedLegHost("a.b.svc.c.global", 80), "p80.a.b.svc.c.global");
  api::v1::Mesh mesh;
  EXPECT_EQ(SelectEgressGateway(mesh), nullptr);
  auto* unlabeled = mesh.mutable_spec()->add_egress_gateways();
  unlabeled->mutable_service()->set_name("no-selector");
  EXPECT_EQ(SelectEgressGateway(mesh), nullptr) << "a gateway without workload labels cannot be selected";
  auto* egress = mesh.mutable_spec()->add_egress_gateways();
  egress->mutable_service()->set_name("istio-egressgateway");
  (*egress->mutable_workload_labels())["istio"] = "egressgateway";
  EXPECT_EQ(SelectEgressGateway(mesh), egress);
}

}  // namespace
}  // namespace vmesh::hub
