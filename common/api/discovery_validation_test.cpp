#include "common/api/discovery_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vmesh::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> Paths(const std::vector<FieldError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.path);
  return out;
}

TEST(DiscoveryValidation, MeshNamesDeriveFromClusterNamespaceAndRevision) {
  EXPECT_EQ(DiscoveredMeshName("cluster-1", "istio-system", ""), "istiod-istio-system-cluster-1");
  EXPECT_EQ(DiscoveredMeshName("cluster-1", "istio-system", "default"), "istiod-istio-system-cluster-1");
  EXPECT_EQ(DiscoveredMeshName("cluster-1", "istio-system", "1-20"), "istiod-1-20-istio-system-cluster-1");
}

TEST(DiscoveryValidation, EgressGatewaysAreCheckedLikeTheOtherGateways) {
  v1::Mesh m;
  m.mutable_metadata()->set_name("istiod-istio-system-c1");
  m.mutable_metadata()->set_namespace_("vmesh");
  m.mutable_spec()->set_cluster("c1");
  m.mutable_spec()->set_installation_namespace("istio-system");
  auto* egress = m.mutable_spec()->add_egress_gateways();
  egress->mutable_service()->set_name("istio-egressgateway");
  egress->mutable_service()->set_namespace_("istio-system");
  egress->set_service_type("ClusterIP");
  egress->set_tls_port_name("https");
  EXPECT_THAT(ValidateDiscoveredMesh(m), IsEmpty());
  egress->mutable_service()->set_namespace_("../kube-system");
  EXPECT_THAT(Paths(ValidateDiscoveredMesh(m)), ElementsAre("spec.egressGateways[0].service.namespace"));
}

TEST(DiscoveryValidation, WhatAnAgentReportsPassesAndEachBadFieldIsNamed) {
  v1::Destination d;
  d.mutable_metadata()->set_name("reviews-bookinfo-c1");
  d.mutable_metadata()->set_namespace_("vmesh");
  auto* s = d.mutable_spec();
  s->set_cluster("c1");
  s->mutable_mesh()->set_name("istiod-istio-system-c1");
  s->set_name("reviews");
  s->set_namespace_("bookinfo");
  s->set_service_type("NodePort");
  auto* p = s->add_ports();
  p->set_name("http");
  p->set_port(9080);
  p->set_protocol("TCP");
  p->set_target_port("http-web");
  p->set_app_protocol("kubernetes.io/h2c");
  p->set_node_port(30080);
  auto* e = s->add_endpoints();
  e->set_ip("fd00::5");
  e->set_service_account("bookinfo-reviews");
  e->set_pod_name("reviews-v1-7d9f8-abcde");
  (*e->mutable_named_ports())["http-web"] = 9080;
  (*e->mutable_labels())["app.kubernetes.io/name"] = "reviews";
  s->add_external_addresses("node-1.example");
  EXPECT_THAT(ValidateDiscoveredDestination(d), IsEmpty());

  p->set_target_port("99999");
  p->set_protocol("HTTP");
  e->set_ip("");
  (*e->mutable_named_ports())["x/y"] = 0;
  s->set_service_type("Headless");
  const auto errors = ValidateDiscoveredDestination(d);
  EXPECT_THAT(Paths(errors), ElementsAre("spec.ports[0].protocol", "spec.ports[0].targetPort", "spec.endpoints[0].ip",
                                         "spec.endpoints[0].namedPorts[x/y]", "spec.endpoints[0].namedPorts[x/y]",
                                         "spec.serviceType"));
  EXPECT_EQ(errors[0].object, "Destination vmesh/reviews-bookinfo-c1");
}

TEST(DiscoveryValidation, AnInvalidObjectNameIsQuotedInTheObjectOfEachError) {
  v1::Workload w;
  w.mutable_metadata()->set_name("bad\nname");
  w.mutable_spec()->set_cluster("c1");
  w.mutable_spec()->mutable_mesh()->set_name("istiod-istio-system-c1");
  w.mutable_spec()->set_namespace_("bookinfo");
  const auto errors = ValidateDiscoveredWorkload(w);
  EXPECT_THAT(Paths(errors), ElementsAre("metadata.name"));
  EXPECT_EQ(errors[0].object, "Workload \"bad\\x0aname\"");
}

}  // namespace
}  // namespace vmesh::api
