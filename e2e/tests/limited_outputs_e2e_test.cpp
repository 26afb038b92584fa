// Limited trust (SPEC §8) outputs against a real API server: the objects LimitedFederationTranslator computes for
// each cluster of hub/translate/testdata/limited are applied to a kubesim (serving the vendored Istio CRDs, which
// it validates custom resources against) with kubectl's server-side apply under the agent's field manager, read
// back, and pruned by label as the agent prunes.
//
// The whole agent path (discovery of egress gateways, gateway certificates) is exercised by the fleet e2e tests;
// this test pins that what the hub sends under limited trust is accepted by the API server it is sent to.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "common/base/test_paths.h"
#include "e2e/kubesim/test_cluster.h"
#include "hub/translate/limited_federation.h"
#include "hub/translate/translate_test_case.h"

namespace vmesh::hub {
namespace {

using ::testing::HasSubstr;

constexpr char kKinds[] =
    "gateways.networking.istio.io,virtualservices.networking.istio.io,"
    "destinationrules.networking.istio.io,serviceentries.networking.istio.io,"
    "authorizationpolicies.security.istio.io";
constexpr char kManaged[] = "app.kubernetes.io/managed-by=vmesh";

class LimitedOutputsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(kubesim::FindKubectl().empty()) << "kubectl is not installed (scripts/setup warns of it)";
  }

  // Starts a kubesim for `cluster` with the Istio CRDs and the namespaces `outputs` need.
  void Start(kubesim::TestCluster& kube, const std::string& cluster, const std::vector<Output>& outputs) {
    Status s = kube.Start(KUBESIM_BINARY, cluster, {"--crds", testpaths::IstioCrdsFile()});
    ASSERT_TRUE(s.ok()) << s.error().message;
    std::set<std::string> namespaces;
    for (const auto& o : outputs) namespaces.insert(o.namespace_);
    for (const auto& ns : namespaces) Ok(kube, {"create", "namespace", ns});
  }

  std::string Ok(const kubesim::TestCluster& kube, const std::vector<std::string>& args) {
    kubesim::ProcessOutput out = kube.Kubectl(args);
    EXPECT_EQ(out.exit_code, 0) << "kubectl failed: " << out.output;
    return out.output;
  }

  // Applies `outputs` as one stream of documents, as the agent does (server-side, field manager vmesh-agent).
  kubesim::ProcessOutput Apply(const kubesim::TestCluster& kube, const std::vector<Output>& outputs) {
    std::string stream;
    for (const auto& o : outputs) stream += "---\n" + boost::json::serialize(o.object) + "\n";
    auto file = kube.WriteFile("outputs.yaml", stream);
    EXPECT_TRUE(file.ok());
    return kube.Kubectl({"apply", "--server-side", "--field-manager", "vmesh-agent", "-f", *file});
  }

  std::set<std::string> Managed(const kubesim::TestCluster& kube) {
    std::set<std::string> names;
    std::istringstream lines(
        Ok(kube, {"get", kKinds, "-A", "-l", kManaged, "-o",
                  "jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{\"\\n\"}"
                  "{end}"}));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) names.insert(line);
    }
    return names;
  }
};

TEST_F(LimitedOutputsE2eTest, EveryClustersOutputsAreAcceptedByTheApiServerAndPrunedByLabel) {
  TranslateCase c = LoadTranslateCase("limited");
  LimitedFederationTranslator translator(c.vm.metadata().namespace_(), c.vm.metadata().name(), c.vm.spec(), c.meshes);
  std::map<std::string, std::vector<Output>> by_cluster;
  for (auto& o : translator.TranslateAll(c.destinations, c.policies)) by_cluster[o.cluster].push_back(std::move(o));
  ASSERT_EQ(by_cluster.size(), 3u);

  for (const auto& [cluster, outputs] : by_cluster) {
    SCOPED_TRACE(cluster);
    kubesim::TestCluster kube;
    Start(kube, cluster, outputs);
    kubesim::ProcessOutput applied = Apply(kube, outputs);
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    std::set<std::string> want;
    for (const auto& o : outputs) want.insert(o.kind + "/" + o.namespace_ + "/" + o.name);
    EXPECT_EQ(Managed(kube), want);

    // Read back as stored: the fields that make the path (cluster-1 holds the client side of reviews).
    if (cluster == "cluster-1") {
      EXPECT_EQ(Ok(kube, {"get", "destinationrules.networking.istio.io", "-n", "istio-system",
                          "reviews.bookinfo.svc.cluster-2.global", "-o",
                          "jsonpath={.spec.trafficPolicy.tls.mode} {.spec.trafficPolicy.tls.credentialName}"}),
                "MUTUAL vmesh-gateway-egress");
    }
    if (cluster == "cluster-2") {
      EXPECT_EQ(Ok(kube, {"get", "gateways.networking.istio.io", "-n", "istio-gateways",
                          "vmesh-ingress-reviews.bookinfo.svc.cluster-2.global", "-o",
                          "jsonpath={.spec.servers[0].tls.mode} {.spec.servers[0].tls.credentialName}"}),
                "MUTUAL vmesh-gateway-ingress");
    }

    // Pruned by label, as the agent prunes what is no longer desired: nothing of vmesh is left.
    Ok(kube, {"delete", kKinds, "-A", "-l", kManaged});
    EXPECT_TRUE(Managed(kube).empty());
  }
}

// The API server does check these objects: one with a field Istio's schema does not have is refused.
TEST_F(LimitedOutputsE2eTest, AnObjectOutsideTheIstioSchemaIsRefused) {
  TranslateCase c = LoadTranslateCase("limited");
  LimitedFederationTranslator translator(c.vm.metadata().namespace_(), c.vm.metadata().name(), c.vm.spec(), c.meshes);
  std::vector<Output> outputs;
  for (auto& o : translator.TranslateDestination(c.destinations[0])) {
    if (o.cluster == "cluster-2" && o.kind == "Gateway") outputs.push_back(std::move(o));
  }
  ASSERT_EQ(outputs.size(), 1u);
  kubesim::TestCluster kube;
  Start(kube, "cluster-2", outputs);
  outputs[0].object["spec"].as_object()["servers"].as_array()[0].as_object()["tls"].as_object()["mode"] = "SOMETIMES";
  kubesim::ProcessOutput refused = Apply(kube, outputs);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("spec.servers[0].tls.mode"));
}

}  // namespace
}  // namespace vmesh::hub
