#include "agent/discovery/istio_discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace vmesh::agent {
namespace {

using ::testing::ElementsAre;

boost::json::object J(std::string_view text) { return boost::json::parse(text).as_object(); }

ClusterSnapshot Cluster1(bool smart_dns, const std::string& image = "docker.io/istio/pilot:1.20.3") {
  ClusterSnapshot s;
  s.cluster = "cluster-1";
  s.deployments.push_back(J(R"({"metadata":{"name":"istiod","namespace":"istio-system",
      "labels":{"app":"istiod","istio":"pilot"}},
    "spec":{"template":{"metadata":{"labels":{"app":"istiod","istio":"pilot"}},
      "spec":{"serviceAccountName":"istiod","containers":[{"name":"discovery","image":")" +
                            image + R"("}]}}}})"));
  s.deployments.push_back(J(R"({"metadata":{"name":"reviews","namespace":"bookinfo","labels":{"app":"reviews"}}})"));
  s.config_maps.push_back(J(std::string(R"({"metadata":{"name":"istio","namespace":"istio-system"},
    "data":{"mesh":"trustDomain: cluster-1.example\ndefaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: \")") +
                            (smart_dns ? "true" : "false") + "\\\"\\n\"}}"));
  s.namespaces.push_back(J(R"({"metadata":{"name":"istio-system","labels":{"topology.istio.io/network":"net1"}}})"));
  s.services.push_back(J(R"({"metadata":{"name":"istio-eastwestgateway","namespace":"istio-system"},
    "spec":{"type":"LoadBalancer","selector":{"istio":"eastwestgateway","app":"istio-eastwestgateway"},
      "ports":[{"name":"status-port","port":15021},{"name":"tls","port":15443,"targetPort":15443,"nodePort":31443}]},
    "status":{"loadBalancer":{"ingress":[{"ip":"172.18.0.1"}]}}})"));
  s.services.push_back(J(R"({"metadata":{"name":"istio-ingressgateway","namespace":"istio-system"},
    "spec":{"type":"NodePort","selector":{"istio":"ingressgateway"},
      "ports":[{"name":"tls","port":443,"targetPort":8443,"nodePort":30443}]}})"));
  s.nodes.push_back(
      J(R"({"metadata":{"name":"n1"},"status":{"addresses":[{"type":"InternalIP","address":"10.1.0.5"}]}})"));
  return s;
}

TEST(IstioDiscovery, FindsTheMeshWithEveryField) {
  auto meshes = DiscoverMeshes(Cluster1(true));
  ASSERT_EQ(meshes.size(), 1u);
  const auto& m = meshes[0];
  EXPECT_EQ(m.metadata().name(), "istiod-istio-system-cluster-1");
  EXPECT_EQ(m.metadata().namespace_(), "vmesh");
  EXPECT_EQ(m.spec().cluster(), "cluster-1");
  EXPECT_EQ(m.spec().installation_namespace(), "istio-system");
  EXPECT_EQ(m.spec().istio_version(), "1.20.3");
  EXPECT_TRUE(m.spec().ca_hot_reload());
  EXPECT_EQ(m.spec().trust_domain(), "cluster-1.example");
  EXPECT_TRUE(m.spec().smart_dns_proxying_enabled());
  EXPECT_EQ(m.spec().istiod_service_account(), "istiod");
  EXPECT_EQ(m.spec().network(), "net1");
  EXPECT_EQ(m.spec().istiod_labels().at("app"), "istiod");
  ASSERT_EQ(m.spec().east_west_gateways_size(), 1);
  const auto& ew = m.spec().east_west_gateways(0);
  EXPECT_EQ(ew.service().name(), "istio-eastwestgateway");
  EXPECT_EQ(ew.external_tls_port(), 15443u);
  EXPECT_EQ(ew.tls_container_port(), 15443u);
  EXPECT_THAT(ew.external_addresses(), ElementsAre("172.18.0.1"));
  EXPECT_EQ(ew.workload_labels().at("istio"), "eastwestgateway");
  ASSERT_EQ(m.spec().ingress_gateways_size(), 1);
  EXPECT_EQ(m.spec().ingress_gateways(0).external_tls_port(), 30443u) << "NodePort";
  EXPECT_THAT(m.spec().ingress_gateways(0).external_addresses(), ElementsAre("10.1.0.5"));
}

TEST(IstioDiscovery, FindsEgressGatewaysOnTheirTlsOrHttpsPort) {
  auto s = Cluster1(true);
  EXPECT_EQ(DiscoverMeshes(s)[0].spec().egress_gateways_size(), 0) << "none installed";
  // Istio's standard egress gateway: http2 80 and https 443, ClusterIP.
  s.services.push_back(J(R"({"metadata":{"name":"istio-egressgateway","namespace":"istio-system"},
    "spec":{"type":"ClusterIP","selector":{"istio":"egressgateway","app":"istio-egressgateway"},
      "ports":[{"name":"http2","port":80,"targetPort":8080},{"name":"https","port":443,"targetPort":8443}]}})"));
  // One with a dedicated mTLS port wins that port; one without any TLS port is no gateway.
  s.services.push_back(J(R"({"metadata":{"name":"egress-tls","namespace":"gateways"},
    "spec":{"selector":{"istio":"egressgateway"},
      "ports":[{"name":"https","port":443,"targetPort":8443},{"name":"tls","port":15443,"targetPort":15443}]}})"));
  s.services.push_back(J(R"({"metadata":{"name":"egress-http","namespace":"istio-system"},
    "spec":{"selector":{"istio":"egressgateway"},"ports":[{"name":"http2","port":80}]}})"));
  auto meshes = DiscoverMeshes(s);
  ASSERT_EQ(meshes.size(), 1u);
  const auto& spec = meshes[0].spec();
  ASSERT_EQ(spec.egress_gateways_size(), 2);
  EXPECT_EQ(spec.east_west_gateways_size(), 1) << "egress gateways are not east-west gateways";
  EXPECT_EQ(spec.ingress_gateways_size(), 1);
  const auto& standard = spec.egress_gateways(0);
  EXPECT_EQ(standard.service().name(), "istio-egressgateway");
  EXPECT_EQ(standard.service().namespace_(), "istio-system");
  EXPECT_EQ(standard.service().cluster_name(), "cluster-1");
  EXPECT_EQ(standard.service_type(), "ClusterIP");
  EXPECT_EQ(standard.tls_port_name(), "https");
  EXPECT_EQ(standard.tls_container_port(), 8443u);
  EXPECT_EQ(standard.external_tls_port(), 443u);
  EXPECT_EQ(standard.workload_labels().at("istio"), "egressgateway");
  const auto& dedicated = spec.egress_gateways(1);
  EXPECT_EQ(dedicated.service().namespace_(), "gateways");
  EXPECT_EQ(dedicated.tls_port_name(), "tls");
  EXPECT_EQ(dedicated.tls_container_port(), 15443u);
}

TEST(IstioDiscovery, NodePortWithoutNodesUsesTheGatewayPodsHostIps) {
  auto s = Cluster1(true);
  s.nodes.clear();
  for (const char* pod : {
           R"({"metadata":{"name":"ig-1","namespace":"istio-system","labels":{"istio":"ingressgateway"}},
               "status":{"hostIP":"192.168.0.9"}})",
           R"({"metadata":{"name":"ig-2","namespace":"istio-system","labels":{"istio":"ingressgateway"}},
               "status":{"hostIP":"192.168.0.7"}})",
           R"({"metadata":{"name":"ig-3","namespace":"istio-system","labels":{"istio":"ingressgateway"}},
               "status":{"hostIP":"192.168.0.9"}})",
           R"({"metadata":{"name":"pending","namespace":"istio-system","labels":{"istio":"ingressgateway"}}})",
           R"({"metadata":{"name":"other","namespace":"istio-system","labels":{"istio":"eastwestgateway"}},
               "status":{"hostIP":"192.168.0.1"}})",
           R"({"metadata":{"name":"elsewhere","namespace":"bookinfo","labels":{"istio":"ingressgateway"}},
               "status":{"hostIP":"192.168.0.2"}})"}) {
    s.pods.push_back(J(pod));
  }
  auto meshes = DiscoverMeshes(s);
  ASSERT_EQ(meshes.size(), 1u);
  ASSERT_EQ(meshes[0].spec().ingress_gateways_size(), 1);
  EXPECT_EQ(meshes[0].spec().ingress_gateways(0).external_tls_port(), 30443u);
  EXPECT_THAT(meshes[0].spec().ingress_gateways(0).external_addresses(), ElementsAre("192.168.0.7", "192.168.0.9"));
  // Nodes, when readable, win.
  s.nodes = Cluster1(true).nodes;
  EXPECT_THAT(DiscoverMeshes(s)[0].spec().ingress_gateways(0).external_addresses(), ElementsAre("10.1.0.5"));
}

TEST(IstioDiscovery, ExternalIpsAnswerOnTheServicePort) {
  auto s = Cluster1(true);
  s.nodes.clear();
  s.services[1]["spec"].as_object()["externalIPs"] = boost::json::array{"203.0.113.4"};
  auto meshes = DiscoverMeshes(s);
  ASSERT_EQ(meshes[0].spec().ingress_gateways_size(), 1);
  EXPECT_EQ(meshes[0].spec().ingress_gateways(0).external_tls_port(), 443u) << "not the node port";
  EXPECT_THAT(meshes[0].spec().ingress_gateways(0).external_addresses(), ElementsAre("203.0.113.4"));
  // With nodes, the node port on the nodes (one port fits every address).
  s.nodes = Cluster1(true).nodes;
  meshes = DiscoverMeshes(s);
  EXPECT_EQ(meshes[0].spec().ingress_gateways(0).external_tls_port(), 30443u);
  EXPECT_THAT(meshes[0].spec().ingress_gateways(0).external_addresses(), ElementsAre("10.1.0.5"));
  // A LoadBalancer's external IPs come after its ingress addresses, on the same Service port.
  s.services[0]["spec"].as_object()["externalIPs"] = boost::json::array{"203.0.113.5"};
  meshes = DiscoverMeshes(s);
  EXPECT_EQ(meshes[0].spec().east_west_gateways(0).external_tls_port(), 15443u);
  EXPECT_THAT(meshes[0].spec().east_west_gateways(0).external_addresses(), ElementsAre("172.18.0.1", "203.0.113.5"));
}

TEST(IstioDiscovery, SmartDnsOffAndOldIstio) {
  auto meshes = DiscoverMeshes(Cluster1(false, "gcr.io/istio-release/pilot:1.18.2-distroless"));
  ASSERT_EQ(meshes.size(), 1u);
  EXPECT_FALSE(meshes[0].spec().smart_dns_proxying_enabled());
  EXPECT_EQ(meshes[0].spec().istio_version(), "1.18.2");
  EXPECT_FALSE(meshes[0].spec().ca_hot_reload());
}

TEST(IstioDiscovery, DefaultsWhenTheMeshConfigIsMissingOrBroken) {
  auto s = Cluster1(true);
  s.config_maps.clear();
  auto meshes = DiscoverMeshes(s);
  EXPECT_EQ(meshes[0].spec().trust_domain(), "cluster.local");
  EXPECT_FALSE(meshes[0].spec().smart_dns_proxying_enabled());
  s.config_maps.push_back(
      J(R"({"metadata":{"name":"istio","namespace":"istio-system"},"data":{"mesh":"[: not yaml"}})"));
  meshes = DiscoverMeshes(s);
  EXPECT_EQ(meshes[0].spec().trust_domain(), "cluster.local");
}

TEST(IstioDiscovery, RevisionsAreSeparateMeshesWithTheirOwnGateways) {
  auto s = Cluster1(true);
  s.deployments.push_back(J(R"({"metadata":{"name":"istiod-canary","namespace":"istio-system",
      "labels":{"app":"istiod","istio.io/rev":"canary"}},
    "spec":{"template":{"spec":{"serviceAccountName":"istiod-canary",
      "containers":[{"name":"discovery","image":"istio/pilot:1.21.0"}]}}}})"));
  s.services.push_back(
      J(R"({"metadata":{"name":"ew-canary","namespace":"istio-system","labels":{"istio.io/rev":"canary"}},
    "spec":{"type":"LoadBalancer","selector":{"istio":"eastwestgateway"},"ports":[{"name":"tls","port":15443}]},
    "status":{"loadBalancer":{"ingress":[{"hostname":"ew.example.com"}]}}})"));
  auto meshes = DiscoverMeshes(s);
  ASSERT_EQ(meshes.size(), 2u);
  EXPECT_EQ(meshes[0].metadata().name(), "istiod-canary-istio-system-cluster-1");
  EXPECT_EQ(meshes[0].spec().revision(), "canary");
  EXPECT_EQ(meshes[0].spec().istiod_service_account(), "istiod-canary");
  ASSERT_EQ(meshes[0].spec().east_west_gateways_size(), 1);
  EXPECT_THAT(meshes[0].spec().east_west_gateways(0).external_addresses(), ElementsAre("ew.example.com"));
  EXPECT_EQ(meshes[1].spec().east_west_gateways(0).service().name(), "istio-eastwestgateway");
}

TEST(IstioDiscovery, MalformedObjectsAreIgnoredNotFatal) {
  ClusterSnapshot s;
  s.cluster = "c";
  s.deployments.push_back(J(R"({"metadata":{"labels":{"app":"istiod"},"namespace":"x"},"spec":"oops"})"));
  s.deployments.push_back(J(R"({"metadata":7})"));
  s.services.push_back(J(R"({"spec":{"selector":{"istio":"eastwestgateway"},"ports":"no"}})"));
  auto meshes = DiscoverMeshes(s);
  ASSERT_EQ(meshes.size(), 1u);
  EXPECT_EQ(meshes[0].spec().istiod_service_account(), "istiod");
  EXPECT_EQ(meshes[0].spec().istio_version(), "");
  EXPECT_EQ(meshes[0].spec().east_west_gateways_size(), 0);
}

TEST(IstioDiscovery, VersionParsing) {
  EXPECT_EQ(IstioVersionFromImage("docker.io/istio/pilot:1.22.1"), "1.22.1");
  EXPECT_EQ(IstioVersionFromImage("localhost:5000/istio/pilot:1.19.0-distroless"), "1.19.0");
  EXPECT_EQ(IstioVersionFromImage("istio/pilot:1.20.0@sha256:abc"), "1.20.0");
  EXPECT_EQ(IstioVersionFromImage("istio/pilot:latest"), "");
  EXPECT_EQ(IstioVersionFromImage("istio/pilot"), "");
  EXPECT_TRUE(VersionAtLeast("1.19.0", 1, 19));
  EXPECT_TRUE(VersionAtLeast("2.0", 1, 19));
  EXPECT_FALSE(VersionAtLeast("1.18.9", 1, 19));
  EXPECT_FALSE(VersionAtLeast("", 1, 19));
}

}  // namespace
}  // namespace vmesh::agent
