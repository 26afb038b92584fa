#include "hub/translate/access_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "common/crdschema/schema_set.h"
#include "hub/translate/translate_test_case.h"

namespace vmesh::hub {
namespace {

using ::testing::ElementsAre;

using Case = TranslateCase;

Case Load() { return LoadTranslateCase("access_enabled"); }

AccessPolicyTranslator Translator(const Case& c) {
  return AccessPolicyTranslator(c.vm.metadata().namespace_(), c.vm.metadata().name(), c.vm.spec(), c.meshes);
}

TEST(AccessPolicy, EnabledMatchesGoldenFile) {
  Case c = Load();
  ExpectMatchesGolden("access_enabled", Translator(c).Translate(c.policies, c.destinations),
                      "hub/translate/access_policy_test.cpp");
}

TEST(AccessPolicy, EnabledDeniesByDefaultAndAllowsGatewaysAndSelectedTraffic) {
  Case c = Load();
  std::vector<std::string> keys;
  for (const auto& o : Translator(c).Translate(c.policies, c.destinations)) keys.push_back(o.Key());
  EXPECT_THAT(keys, ElementsAre("cluster-1/AuthorizationPolicy/istio-ingress/vmesh-allow-istio-ingressgateway",
                                "cluster-1/AuthorizationPolicy/istio-system/vmesh-allow-istio-eastwestgateway",
                                "cluster-1/AuthorizationPolicy/istio-system/vmesh-global-deny",
                                "cluster-2/AuthorizationPolicy/bookinfo/vmesh-bookinfo-internal-reviews",
                                "cluster-2/AuthorizationPolicy/bookinfo/vmesh-productpage-to-reviews-reviews",
                                "cluster-2/AuthorizationPolicy/istio-system/vmesh-allow-istio-eastwestgateway",
                                "cluster-2/AuthorizationPolicy/istio-system/vmesh-global-deny"));
}

TEST(AccessPolicy, EveryOutputValidatesAgainstTheIstioCrds) {
  auto schemas = crdschema::SchemaSet::LoadFile(vmesh::testpaths::IstioCrdsFile());
  ASSERT_TRUE(schemas.ok()) << schemas.error().message;
  Case c = Load();
  auto outputs = Translator(c).Translate(c.policies, c.destinations);
  ASSERT_FALSE(outputs.empty());
  for (const auto& o : outputs) {
    for (const auto& v : schemas->Validate(o.object)) ADD_FAILURE() << o.Key() << ": " << crdschema::ToString(v);
  }
}

TEST(AccessPolicy, DisabledAndMeshDefaultWriteNothing) {
  Case c = Load();
  c.vm.mutable_spec()->set_global_access_policy(api::v1::VirtualMeshSpec::DISABLED);
  EXPECT_TRUE(Translator(c).Translate(c.policies, c.destinations).empty());
  c.vm.mutable_spec()->set_global_access_policy(api::v1::VirtualMeshSpec::MESH_DEFAULT);
  EXPECT_TRUE(Translator(c).Translate(c.policies, c.destinations).empty());
}

TEST(AccessPolicy, PrincipalsCoverTrustDomainsNamespacesAndWildcards) {
  Case c = Load();
  auto t = Translator(c);
  api::v1::IdentitySelector sa;
  auto* ref = sa.mutable_kube_service_account_refs()->add_service_accounts();
  ref->set_name("productpage");
  ref->set_namespace_("bookinfo");
  EXPECT_THAT(t.Principals(sa),
              ElementsAre("cluster-1.local/ns/bookinfo/sa/productpage", "cluster-2.local/ns/bookinfo/sa/productpage"));
  ref->set_cluster_name("cluster-2");
  EXPECT_THAT(t.Principals(sa), ElementsAre("cluster-2.local/ns/bookinfo/sa/productpage"));
  ref->clear_name();
  EXPECT_THAT(t.Principals(sa), ElementsAre("cluster-2.local/ns/bookinfo/sa/*"));
  api::v1::IdentitySelector any_in_cluster;
  any_in_cluster.mutable_kube_identity_matcher()->add_clusters("cluster-1");
  EXPECT_THAT(t.Principals(any_in_cluster), ElementsAre("cluster-1.local/*"));
}

}  // namespace
}  // namespace vmesh::hub
