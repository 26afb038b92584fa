#include "agent/apply/apply_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/apply/applier.h"

namespace vmesh::agent {
namespace {

using ::testing::HasSubstr;

LiveObject Se(const std::string& name, bool ours, const std::string& version = "networking.istio.io/v1beta1") {
  LiveObject o{version, "ServiceEntry", "istio-system", name, {}};
  if (ours) o.labels = {{kManagedBy, "vmesh"}, {kVirtualMeshLabel, "vmesh.vm1"}};
  return o;
}

TEST(ApplyPlan, PrunesOnlyVmeshObjectsNoLongerDesired) {
  std::vector<LiveObject> live = {Se("a.global", true), Se("b.global", true), Se("handmade", false),
                                  Se("c.global", false)};
  std::set<std::string> desired = {
      OutputKey("networking.istio.io/v1beta1", "ServiceEntry", "istio-system", "a.global")};
  auto prune = PruneCandidates(desired, live);
  ASSERT_EQ(prune.size(), 1u);
  EXPECT_EQ(prune[0].name, "b.global");
  EXPECT_TRUE(PruneCandidates({}, {Se("handmade", false)}).empty()) << "a hand-made object survives every prune";
}

TEST(ApplyPlan, ObjectsAreTheSameAcrossApiVersions) {
  std::set<std::string> desired = {OutputKey("networking.istio.io/v1", "ServiceEntry", "istio-system", "a.global")};
  EXPECT_TRUE(PruneCandidates(desired, {Se("a.global", true, "networking.istio.io/v1beta1")}).empty());
  EXPECT_EQ(OutputKeyOf(Se("x", true)), "networking.istio.io/ServiceEntry/istio-system/x");
  EXPECT_EQ(OutputKey("v1", "Secret", "ns", "cacerts"), "/Secret/ns/cacerts");
}

TEST(ApplyPlan, NeverTakesOverSomeoneElsesObject) {
  EXPECT_TRUE(CheckTakeover(nullptr).ok());
  LiveObject ours = Se("a", true);
  EXPECT_TRUE(CheckTakeover(&ours).ok());
  LiveObject theirs = Se("a", false);
  Status s = CheckTakeover(&theirs);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("ServiceEntry istio-system/a exists and was not created by vmesh"));
  EXPECT_THAT(s.error().message, HasSubstr("app.kubernetes.io/managed-by=vmesh"));
}

// The hub's resource names (hub/controller/desired_state.h KubeResourceName) back to objects.
TEST(ApplyPlan, OnlyTheKindsTheTranslatorWritesAreAllowed) {
  for (const char* kind : {"ServiceEntry", "DestinationRule", "Gateway"}) {
    EXPECT_TRUE(CheckOutputKind("networking.istio.io/v1beta1", kind).ok()) << kind;
    EXPECT_TRUE(CheckOutputKind("networking.istio.io/v1", kind).ok()) << kind;
  }
  EXPECT_TRUE(CheckOutputKind("security.istio.io/v1beta1", "AuthorizationPolicy").ok());
  EXPECT_TRUE(CheckOutputKind("security.istio.io/v1", "AuthorizationPolicy").ok());
  Status secret = CheckOutputKind("v1", "Secret");
  ASSERT_FALSE(secret.ok());
  EXPECT_THAT(secret.error().message, HasSubstr("Secret (v1) is not a kind vmesh writes"));
  EXPECT_FALSE(CheckOutputKind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding").ok());
  EXPECT_FALSE(CheckOutputKind("security.istio.io/v1", "ServiceEntry").ok()) << "right kind, wrong group";
  EXPECT_FALSE(CheckOutputKind("networking.istio.io/v1beta1", "EnvoyFilter").ok());
  EXPECT_FALSE(CheckOutputKind("evil.networking.istio.io/v1", "Gateway").ok());
}

TEST(ApplyPlan, ParsesKubeResourceNames) {
  auto r = ParseKubeResourceName("kube/networking.istio.io/v1beta1/ServiceEntry/istio-system/a.b.svc.c.global");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->api_version, "networking.istio.io/v1beta1");
  EXPECT_EQ(r->kind, "ServiceEntry");
  EXPECT_EQ(r->ns, "istio-system");
  EXPECT_EQ(r->name, "a.b.svc.c.global");
  r = ParseKubeResourceName("kube/v1/Secret/istio-system/cacerts");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->api_version, "v1");
  EXPECT_EQ(r->kind, "Secret");
  r = ParseKubeResourceName("kube/v1/Namespace//bookinfo");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->ns, "");
  EXPECT_EQ(r->name, "bookinfo");
  for (const char* bad :
       {"cert/istiod-istio-system-c1", "kube/ServiceEntry/ns/x", "kube//Kind/ns/x", "kube/v1/Kind/ns/"}) {
    EXPECT_FALSE(ParseKubeResourceName(bad).ok()) << bad;
  }
}

TEST(ApplyPlan, ResourcesOfKinds) {
  EXPECT_EQ(ResourceOfKind("ServiceEntry"), "serviceentries");
  EXPECT_EQ(ResourceOfKind("DestinationRule"), "destinationrules");
  EXPECT_EQ(ResourceOfKind("Gateway"), "gateways");
  EXPECT_EQ(ResourceOfKind("AuthorizationPolicy"), "authorizationpolicies");
  EXPECT_EQ(ResourceOfKind("Secret"), "secrets");
  EXPECT_EQ(ResourceOfKind("ConfigMap"), "configmaps");
  EXPECT_EQ(ResourceOfKind("Ingress"), "ingresses");
}

}  // namespace
}  // namespace vmesh::agent
