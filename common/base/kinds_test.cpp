#include "common/base/kinds.h"

#include <gtest/gtest.h>

#include <set>

namespace vmesh {
namespace {

TEST(Kinds, KindAndPluralRoundTripAndAreUnique) {
  std::set<std::string_view> kinds, plurals;
  for (const KindInfo& k : Kinds()) {
    EXPECT_TRUE(kinds.insert(k.kind).second) << k.kind;
    EXPECT_TRUE(plurals.insert(k.plural).second) << k.plural;
    EXPECT_EQ(FindKind(k.kind), &k);
    EXPECT_EQ(FindKindByPlural(k.group, k.plural), &k);
  }
  EXPECT_EQ(FindKind("configmap"), nullptr) << "exact spelling only";
}

TEST(Kinds, ApiVersionsGroupsAndScope) {
  EXPECT_EQ(FindKind("ConfigMap")->ApiVersion(), "v1");
  EXPECT_EQ(FindKind("Deployment")->ApiVersion(), "apps/v1");
  EXPECT_EQ(FindKind("ServiceEntry")->ApiVersion(), "networking.istio.io/v1beta1");
  EXPECT_EQ(FindKind("VirtualMesh")->ApiVersion(), "networking.vmesh.dev/v1");
  EXPECT_FALSE(FindKind("Namespace")->namespaced);
  EXPECT_TRUE(FindKind("Secret")->namespaced);
  EXPECT_EQ(FindKindByPlural("apps", "statefulsets")->kind, "StatefulSet");
  EXPECT_EQ(FindKindByPlural("", "statefulsets"), nullptr);
  EXPECT_EQ(GroupOf("security.istio.io/v1"), "security.istio.io");
  EXPECT_EQ(GroupOf("v1"), "");
}

TEST(Kinds, UserSpellingsInAnyCase) {
  EXPECT_EQ(LookupKind("vm", kHubApi)->kind, "VirtualMesh");
  EXPECT_EQ(LookupKind("VMS", kHubApi)->kind, "VirtualMesh");
  EXPECT_EQ(LookupKind("AccessPolicies", kHubApi)->kind, "AccessPolicy");
  EXPECT_EQ(LookupKind("dest", kHubApi)->kind, "Destination");
  EXPECT_EQ(LookupKind("certs", kHubApi)->kind, "Certificate");
  EXPECT_EQ(LookupKind("secret", kUserWritable)->kind, "Secret");
  EXPECT_EQ(LookupKind("mesh", kUserWritable), nullptr) << "the hub writes Meshes itself";
  EXPECT_EQ(LookupKind("pods", kHubApi), nullptr);
  EXPECT_EQ(LookupKind("po", kKubeBuiltin)->kind, "Pod");
  EXPECT_EQ(LookupKind("", kHubApi), nullptr);
}

TEST(Kinds, OutputAllowlistIsIstioNetworkingAndSecurityInBothVersions) {
  for (const char* v : {"v1beta1", "v1"}) {
    EXPECT_TRUE(IsOutputKind(std::string("networking.istio.io/") + v, "ServiceEntry"));
    EXPECT_TRUE(IsOutputKind(std::string("networking.istio.io/") + v, "DestinationRule"));
    EXPECT_TRUE(IsOutputKind(std::string("networking.istio.io/") + v, "Gateway"));
    EXPECT_TRUE(IsOutputKind(std::string("security.istio.io/") + v, "AuthorizationPolicy"));
  }
  EXPECT_FALSE(IsOutputKind("networking.istio.io/v1alpha3", "ServiceEntry"));
  EXPECT_FALSE(IsOutputKind("security.istio.io/v1", "ServiceEntry"));
  EXPECT_FALSE(IsOutputKind("networking.istio.io/v1", "VirtualService"));
  EXPECT_FALSE(IsOutputKind("v1", "ConfigMap"));
  EXPECT_FALSE(IsOutputKind("ServiceEntry", "ServiceEntry"));
}

}  // namespace
}  // namespace vmesh
