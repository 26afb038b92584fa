#include "common/base/resource_names.h"

#include <gtest/gtest.h>

namespace vmesh {
namespace {

TEST(KubeResourceName, RoundTripsGroupedCoreAndClusterScopedObjects) {
  for (const KubeObjectRef& ref :
       {KubeObjectRef{"networking.istio.io/v1beta1", "ServiceEntry", "istio-system", "a"},
        KubeObjectRef{"v1", "ConfigMap", "default", "cm"}, KubeObjectRef{"v1", "Namespace", "", "ns1"}}) {
    const std::string name = KubeResourceName(ref);
    auto parsed = ParseKubeResourceName(name);
    ASSERT_TRUE(parsed.ok()) << name << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, ref) << name;
    EXPECT_EQ(LinkResourceTypeOf(name), LinkResourceType::kKube);
    EXPECT_EQ(MeshOfResourceName(name), "");
  }
  EXPECT_EQ(KubeResourceName("networking.istio.io/v1", "Gateway", "ns", "gw"),
            "kube/networking.istio.io/v1/Gateway/ns/gw");
}

TEST(KubeResourceName, RefusesWhatIsNotOne) {
  for (const char* bad :
       {"cert/m", "kube/", "kube/v1/ConfigMap/x", "kube//ConfigMap/ns/x", "kube/v1//ns/x", "kube/v1/ConfigMap/ns/"}) {
    auto parsed = ParseKubeResourceName(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.error().message.find(std::string("\"") + bad + "\""), std::string::npos);
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(LinkResourceNames, CertAndRestartNameTheirMesh) {
  EXPECT_EQ(CertResourceName("istiod-istio-system-c1"), "cert/istiod-istio-system-c1");
  EXPECT_EQ(RestartResourceName("m"), "restart/m");
  EXPECT_EQ(MeshOfResourceName(CertResourceName("m1")), "m1");
  EXPECT_EQ(MeshOfResourceName(RestartResourceName("m2")), "m2");
  EXPECT_EQ(LinkResourceTypeOf(CertResourceName("m1")), LinkResourceType::kCert);
  EXPECT_EQ(LinkResourceTypeOf(RestartResourceName("m1")), LinkResourceType::kRestart);
  EXPECT_EQ(LinkResourceTypeOf("future/x"), LinkResourceType::kUnknown);
}

TEST(LinkResourceNames, GatewayCertNamesItsMeshAndRole) {
  EXPECT_EQ(GatewayCertResourceName("istiod-istio-system-c1", "egress"), "gwcert/istiod-istio-system-c1/egress");
  EXPECT_EQ(MeshOfResourceName(GatewayCertResourceName("m1", "ingress")), "m1");
  EXPECT_EQ(LinkResourceTypeOf(GatewayCertResourceName("m1", "ingress")), LinkResourceType::kGatewayCert);
  EXPECT_EQ(MeshOfResourceName("gwcert/nosuffix"), "");
}

TEST(ObjectKey, RoundTripsNamespacedAndClusterScoped) {
  EXPECT_EQ(ObjectKey("ns", "a"), "ns/a");
  EXPECT_EQ(ObjectKey("", "a"), "a");
  EXPECT_EQ(ParseObjectKey(ObjectKey("ns", "a")), (ObjectKeyParts{"ns", "a"}));
  EXPECT_EQ(ParseObjectKey(ObjectKey("", "a")), (ObjectKeyParts{"", "a"}));
}

TEST(OutputKey, IsTheSameForEveryVersion) {
  EXPECT_EQ(OutputKey("networking.istio.io/v1beta1", "Gateway", "ns", "g"), "networking.istio.io/Gateway/ns/g");
  EXPECT_EQ(OutputKey("networking.istio.io/v1", "Gateway", "ns", "g"),
            OutputKey("networking.istio.io/v1beta1", "Gateway", "ns", "g"));
  EXPECT_EQ(OutputKey("v1", "ConfigMap", "ns", "c"), "/ConfigMap/ns/c");
}

TEST(DiscoveredMeshName, BuildsAndParsesTheRevision) {
  EXPECT_EQ(DiscoveredMeshName("c1", "istio-system", ""), "istiod-istio-system-c1");
  EXPECT_EQ(DiscoveredMeshName("c1", "istio-system", "default"), "istiod-istio-system-c1");
  EXPECT_EQ(DiscoveredMeshName("c1", "istio-system", "canary"), "istiod-canary-istio-system-c1");
  for (const char* rev : {"", "canary", "1-20-3"}) {
    auto parsed =
        RevisionOfDiscoveredMeshName(DiscoveredMeshName("cluster-2", "istio-system", rev), "cluster-2", "istio-system");
    ASSERT_TRUE(parsed.has_value()) << rev;
    EXPECT_EQ(*parsed, rev);
  }
  EXPECT_FALSE(RevisionOfDiscoveredMeshName("istiod-istio-system-c1", "c2", "istio-system"));
  EXPECT_FALSE(RevisionOfDiscoveredMeshName("istiod-istio-system-c1", "c1", "other"));
  EXPECT_FALSE(RevisionOfDiscoveredMeshName("mesh-istio-system-c1", "c1", "istio-system"));
  EXPECT_FALSE(RevisionOfDiscoveredMeshName("istiod-xistio-system-c1", "c1", "istio-system"));
}

TEST(MeshKey, RoundTrips) {
  EXPECT_EQ(MeshKey("istiod-istio-system-c1", "vmesh"), "istiod-istio-system-c1.vmesh");
  EXPECT_EQ(ParseMeshKey(MeshKey("m", "ns")), (ObjectKeyParts{"ns", "m"}));
  EXPECT_FALSE(ParseMeshKey("no-dot"));
}

TEST(SpiffeIds, AgentAdminAndIstiod) {
  EXPECT_EQ(AgentSpiffeId("hub", "c1"), "spiffe://hub/cluster/c1");
  EXPECT_EQ(ClusterOfAgentSpiffeId("hub", AgentSpiffeId("hub", "c1")), "c1");
  EXPECT_FALSE(ClusterOfAgentSpiffeId("hub2", AgentSpiffeId("hub", "c1")));
  EXPECT_FALSE(ClusterOfAgentSpiffeId("hub", AdminSpiffeId("hub")));
  EXPECT_EQ(AdminSpiffeId("hub"), "spiffe://hub/admin");
  EXPECT_EQ(IstiodSpiffeId("cluster.local", "istio-system", "istiod"),
            "spiffe://cluster.local/ns/istio-system/sa/istiod");
}

TEST(CertStateSecretName, RoundTrips) {
  EXPECT_EQ(CertStateSecretName("istiod-istio-system-c1"), "vmesh-ca-istiod-istio-system-c1");
  EXPECT_EQ(MeshOfCertStateSecretName(CertStateSecretName("m")), "m");
  EXPECT_FALSE(MeshOfCertStateSecretName("vmesh-ca-"));
  EXPECT_FALSE(MeshOfCertStateSecretName("cacerts"));
}

}  // namespace
}  // namespace vmesh
