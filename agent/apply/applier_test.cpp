// KubeApplier against a real kubesim with the Istio CRDs: server-side apply that is idempotent, refuses to
// take over foreign objects, removal and pruning by label, retries of transient errors, and the API server's
// message when it rejects an object.
#include "agent/apply/applier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <optional>

#include "common/base/test_paths.h"
#include "common/kube/config.h"
#include "e2e/kubesim/test_cluster.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using ::testing::HasSubstr;

constexpr char kSeApi[] = "networking.istio.io/v1beta1";

link::v1::KubeObject Output(const std::string& api_version, const std::string& kind, const std::string& ns,
                            const std::string& name, json::object spec) {
  json::object labels{{"app.kubernetes.io/managed-by", "vmesh"}, {"networking.vmesh.dev/virtual-mesh", "vmesh.vm1"}};
  json::object o{{"apiVersion", api_version},
                 {"kind", kind},
                 {"metadata", json::object{{"name", name}, {"namespace", ns}, {"labels", labels}}},
                 {"spec", std::move(spec)}};
  link::v1::KubeObject k;
  k.set_api_version(api_version);
  k.set_kind(kind);
  k.set_namespace_(ns);
  k.set_name(name);
  k.set_json(json::serialize(o));
  return k;
}

link::v1::KubeObject ServiceEntry(const std::string& name, const std::string& ns = "istio-system") {
  return Output(
      kSeApi, "ServiceEntry", ns, name,
      json::object{{"hosts", json::array{name}},
                   {"addresses", json::array{"240.0.0.7"}},
                   {"location", "MESH_INTERNAL"},
                   {"resolution", "STATIC"},
                   {"ports", json::array{json::object{{"number", 9080}, {"name", "http"}, {"protocol", "HTTP"}}}},
                   {"endpoints", json::array{json::object{{"address", "172.18.0.2"}}}}});
}

class ApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(kubesim::FindKubectl().empty()) << "kubectl is not installed (scripts/setup warns of it)";
    Status s = cluster_.Start(KUBESIM_BINARY, "c1", {"--crds", testpaths::IstioCrdsFile()});
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto config = kube::LoadKubeconfig(cluster_.kubeconfig());
    ASSERT_TRUE(config.ok()) << config.error().message;
    auto client = kube::MakeKubeClient(*config);
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = std::move(*client);
    applier_.emplace(*client_, "vmesh-agent",
                     ApplierRetry{.attempts = 10,
                                  .initial_backoff = std::chrono::milliseconds(5),
                                  .max_backoff = std::chrono::milliseconds(20)});
    Kubectl({"create", "namespace", "istio-system"});
  }

  template <typename T>
  T Run(asio::awaitable<T> task) {
    asio::io_context io;
    std::optional<T> out;
    // (Result<T> is not default-constructible, so the value is stored by a wrapper coroutine.)
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { out.emplace(co_await std::move(task)); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    return std::move(*out);
  }

  std::string Kubectl(const std::vector<std::string>& args) {
    auto out = cluster_.Kubectl(args);
    EXPECT_EQ(out.exit_code, 0) << out.output;
    return out.output;
  }

  // kubectl get ... -o jsonpath=...; empty when absent.
  std::string Get(const std::string& resource, const std::string& ns, const std::string& jsonpath) {
    auto out = cluster_.Kubectl({"get", resource, "-n", ns, "-o", "jsonpath=" + jsonpath, "--ignore-not-found"});
    return out.exit_code == 0 ? out.output : "error: " + out.output;
  }

  void SetFaults(const std::string& body) {
    auto r = Run(client_->Request("POST", "/kubesim/faults", body));
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->ok()) << r->Describe();
  }

  // A ServiceEntry made by hand (no vmesh labels).
  void CreateForeign(const std::string& name) {
    auto file = cluster_.WriteFile(name + ".yaml", R"(apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: )" + name + R"(, namespace: istio-system}
spec:
  hosts: [hand.example.com]
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
)");
    ASSERT_TRUE(file.ok());
    Kubectl({"apply", "-f", *file});
  }

  kubesim::TestCluster cluster_;
  kube::KubeClientPtr client_;
  std::optional<KubeApplier> applier_;
};

TEST_F(ApplierTest, CreatesThenReappliesUnchangedWithoutAWrite) {
  auto se = ServiceEntry("reviews.bookinfo.svc.cluster-2.global");
  Status s = Run(applier_->Apply(se));
  ASSERT_TRUE(s.ok()) << s.error().message;
  const std::string rv = Get("serviceentries/" + se.name(), "istio-system", "{.metadata.resourceVersion}");
  ASSERT_FALSE(rv.empty());
  EXPECT_EQ(Get("serviceentries/" + se.name(), "istio-system", "{.metadata.managedFields[0].manager}"), "vmesh-agent");
  EXPECT_EQ(Get("serviceentries/" + se.name(), "istio-system", "{.spec.addresses[0]}"), "240.0.0.7");

  s = Run(applier_->Apply(se));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(Get("serviceentries/" + se.name(), "istio-system", "{.metadata.resourceVersion}"), rv)
      << "an unchanged apply writes nothing";

  // A change goes through.
  auto changed = Output(kSeApi, "ServiceEntry", "istio-system", se.name(),
                        json::object{{"hosts", json::array{se.name()}},
                                     {"addresses", json::array{"240.0.0.8"}},
                                     {"resolution", "STATIC"},
                                     {"ports", json::array{json::object{{"number", 9080}, {"name", "http"}}}}});
  s = Run(applier_->Apply(changed));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(Get("serviceentries/" + se.name(), "istio-system", "{.spec.addresses[0]}"), "240.0.0.8");
  EXPECT_EQ(Get("serviceentries/" + se.name(), "istio-system", "{.spec.endpoints}"), "")
      << "fields vmesh no longer sets are removed (server-side apply)";
}

TEST_F(ApplierTest, NeverOverwritesAHandMadeObject) {
  CreateForeign("hand-made");
  Status s = Run(applier_->Apply(ServiceEntry("hand-made")));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("ServiceEntry istio-system/hand-made"));
  EXPECT_THAT(s.error().message, HasSubstr("not created by vmesh"));
  EXPECT_THAT(s.error().message, HasSubstr("app.kubernetes.io/managed-by=vmesh")) << "says how to hand it over";
  EXPECT_EQ(Get("serviceentries/hand-made", "istio-system", "{.spec.hosts[0]}"), "hand.example.com");
}

TEST_F(ApplierTest, AppliesAndRemovesOnlyTheKindsVmeshWrites) {
  // A Secret and a ClusterRoleBinding with vmesh's labels, as a compromised hub might send them.
  auto secret = Output("v1", "Secret", "istio-system", "cacerts", json::object{});
  Status s = Run(applier_->Apply(secret));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message,
              HasSubstr("apply Secret istio-system/cacerts: Secret (v1) is not a kind vmesh writes"));
  EXPECT_EQ(Get("secrets/cacerts", "istio-system", "{.metadata.name}"), "");
  auto binding = Output("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "vmesh-admin", json::object{});
  EXPECT_FALSE(Run(applier_->Apply(binding)).ok());

  // An existing Secret carrying vmesh's labels is not deleted through a removal either.
  auto file = cluster_.WriteFile("secret.yaml", R"(apiVersion: v1
kind: Secret
metadata:
  name: user-secret
  namespace: istio-system
  labels: {app.kubernetes.io/managed-by: vmesh}
data: {k: dg==}
)");
  ASSERT_TRUE(file.ok());
  Kubectl({"apply", "-f", *file});
  s = Run(applier_->Remove(KubeRef{"v1", "Secret", "istio-system", "user-secret"}));
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(Get("secrets/user-secret", "istio-system", "{.metadata.name}"), "user-secret");
}

TEST_F(ApplierTest, RemoveDeletesOnlyVmeshObjects) {
  CreateForeign("hand-made");
  ASSERT_TRUE(Run(applier_->Apply(ServiceEntry("ours"))).ok());

  Status s = Run(applier_->Remove(KubeRef{kSeApi, "ServiceEntry", "istio-system", "hand-made"}));
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(Get("serviceentries/hand-made", "istio-system", "{.metadata.name}"), "hand-made") << "left alone";

  s = Run(applier_->Remove(KubeRef{kSeApi, "ServiceEntry", "istio-system", "ours"}));
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(Get("serviceentries/ours", "istio-system", "{.metadata.name}"), "");

  s = Run(applier_->Remove(KubeRef{kSeApi, "ServiceEntry", "istio-system", "ours"}));
  EXPECT_TRUE(s.ok()) << "absent is fine: " << s.error().message;
}

TEST_F(ApplierTest, PruneDeletesOnlyUndesiredVmeshObjects) {
  Kubectl({"create", "namespace", "bookinfo"});
  CreateForeign("hand-made");
  const auto keep_se = ServiceEntry("keep");
  const auto keep_dr = Output(kSeApi, "DestinationRule", "istio-system", "keep",
                              json::object{{"host", "keep"}, {"trafficPolicy", {{"tls", {{"mode", "ISTIO_MUTUAL"}}}}}});
  const auto gone_se = ServiceEntry("gone");
  const auto gone_ap = Output("security.istio.io/v1beta1", "AuthorizationPolicy", "bookinfo", "vmesh-allow", {});
  for (const auto& o : {keep_se, keep_dr, gone_se, gone_ap}) {
    Status s = Run(applier_->Apply(o));
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  // The desired keys name objects independent of their API version.
  std::set<std::string> desired = {ObjectKeyOf(keep_se),
                                   OutputKey("networking.istio.io/v1", "DestinationRule", "istio-system", "keep")};
  auto pruned = Run(applier_->Prune(desired));
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(*pruned, 2);
  EXPECT_EQ(Get("serviceentries", "istio-system", "{.items[*].metadata.name}"), "hand-made keep");
  EXPECT_EQ(Get("destinationrules", "istio-system", "{.items[*].metadata.name}"), "keep");
  EXPECT_EQ(Get("authorizationpolicies", "bookinfo", "{.items[*].metadata.name}"), "");

  pruned = Run(applier_->Prune(desired));
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(*pruned, 0) << "nothing left to prune";
}

TEST_F(ApplierTest, TransientErrorsAreRetried) {
  // Half of all requests fail with 500 or 429 (deterministically, from the seed): every apply still succeeds.
  SetFaults(R"({"errorRate": 0.5, "seed": 7})");
  for (int i = 0; i < 5; ++i) {
    Status s = Run(applier_->Apply(ServiceEntry("se-" + std::to_string(i))));
    EXPECT_TRUE(s.ok()) << s.error().message;
  }
  // When the server keeps failing, the last answer is the error.
  SetFaults(R"({"errorRate": 1.0})");
  Status s = Run(applier_->Apply(ServiceEntry("se-x")));
  SetFaults(R"({"errorRate": 0})");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, ::testing::AnyOf(HasSubstr("500"), HasSubstr("429")));
  EXPECT_EQ(Get("serviceentries", "istio-system", "{.items[*].metadata.name}"), "se-0 se-1 se-2 se-3 se-4");
}

TEST_F(ApplierTest, ARejectedApplyReturnsTheServersMessage) {
  Status s = Run(applier_->Apply(ServiceEntry("x", "no-such-namespace")));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("apply ServiceEntry no-such-namespace/x: 404 Not Found: "));
  EXPECT_THAT(s.error().message, HasSubstr("no-such-namespace"));

  auto mismatched = ServiceEntry("a");
  mismatched.set_name("b");
  s = Run(applier_->Apply(mismatched));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("do not match"));
}

}  // namespace
}  // namespace vmesh::agent
