// The KubeClient contract against both implementations: the HTTP client talking to a real kubesim process,
// and the in-process fake (fake_client.h) that tests of the agent use instead. Both must answer alike.
#include "common/kube/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <thread>

#include "common/base/test_paths.h"
#include "common/kube/fake_client.h"
#include "common/kube/run_task.h"
#include "e2e/kubesim/test_cluster.h"

namespace vmesh::kube {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using ::testing::HasSubstr;

enum class Backend { kHttp, kFake };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kHttp ? "Http" : "Fake";
}

class KubeClientTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kFake) {
      auto fake = MakeFakeKubeClient();
      ASSERT_TRUE(fake.ok()) << fake.error().message;
      client_ = std::move(*fake);
      return;
    }
    Status s = cluster_.Start(vmesh::testpaths::BinaryDir() + "/e2e/kubesim/kubesim", "c1");
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto config = LoadKubeconfig(cluster_.kubeconfig());
    ASSERT_TRUE(config.ok()) << config.error().message;
    auto client = MakeKubeClient(*config);
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = std::move(*client);
  }

  ApiResponse Must(asio::awaitable<Result<ApiResponse>> task) {
    auto r = RunTask(std::move(task));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : ApiResponse{};
  }

  static json::value ConfigMap(const std::string& name, const std::string& value) {
    return json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
                       R"(","namespace":"default","labels":{"app":"demo"}},"data":{"k":")" + value + R"("}})");
  }

  kubesim::TestCluster cluster_;
  KubeClientPtr client_;
};

TEST(ResourcePathTest, NamesAndNamespacesAreEscapedPathSegments) {
  EXPECT_EQ(ResourcePath("v1", "configmaps", "default", "a"), "/api/v1/namespaces/default/configmaps/a");
  EXPECT_EQ(ResourcePath("networking.istio.io/v1beta1", "serviceentries", "istio-system", "reviews.bookinfo.svc"),
            "/apis/networking.istio.io/v1beta1/namespaces/istio-system/serviceentries/reviews.bookinfo.svc");
  EXPECT_EQ(ResourcePath("v1", "secrets", "a/b?c%d", "x y#z"), "/api/v1/namespaces/a%2Fb%3Fc%25d/secrets/x%20y%23z");
  EXPECT_EQ(ResourcePath("v1", "secrets", "..", "."), "/api/v1/namespaces/%2E%2E/secrets/%2E");
  EXPECT_EQ(EscapePathSegment("a.b-c_d~e"), "a.b-c_d~e");
  EXPECT_EQ(EscapePathSegment("\xc3\xa9"), "%C3%A9");
}

TEST_P(KubeClientTest, CreateGetListUpdateDelete) {
  const std::string cms = ResourcePath("v1", "configmaps", "default");
  auto created = Must(client_->Create(cms, ConfigMap("a", "1")));
  ASSERT_EQ(created.status, 201) << created.raw;
  auto again = Must(client_->Create(cms, ConfigMap("a", "1")));
  EXPECT_EQ(again.status, 409);
  EXPECT_THAT(again.Describe(), HasSubstr("409 Conflict"));

  auto got = Must(client_->Get(ResourcePath("v1", "configmaps", "default", "a")));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body.at("data").at("k").as_string(), "1");

  Must(client_->Create(cms, json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b",
      "namespace":"default","labels":{"app":"other"}}})")));
  auto list = Must(client_->Get(cms + "?labelSelector=app%3Ddemo"));
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body.at("items").as_array().size(), 1u);

  // Optimistic concurrency: an update based on a stale resourceVersion is refused; re-read and retry works.
  json::value stale = got.body;
  json::value fresh = got.body;
  fresh.at("data").as_object()["k"] = "2";
  ASSERT_EQ(Must(client_->Update(ResourcePath("v1", "configmaps", "default", "a"), fresh)).status, 200);
  stale.at("data").as_object()["k"] = "3";
  EXPECT_EQ(Must(client_->Update(ResourcePath("v1", "configmaps", "default", "a"), stale)).status, 409);

  auto patched = Must(
      client_->MergePatch(ResourcePath("v1", "configmaps", "default", "a"), json::parse(R"({"data":{"extra":"x"}})")));
  ASSERT_EQ(patched.status, 200);
  EXPECT_EQ(patched.body.at("data").at("k").as_string(), "2");
  EXPECT_EQ(patched.body.at("data").at("extra").as_string(), "x");

  EXPECT_EQ(Must(client_->Delete(ResourcePath("v1", "configmaps", "default", "a"))).status, 200);
  EXPECT_EQ(Must(client_->Get(ResourcePath("v1", "configmaps", "default", "a"))).status, 404);
}

TEST_P(KubeClientTest, ANameWithPathCharactersNeverAddressesAnotherObject) {
  const std::string cms = ResourcePath("v1", "configmaps", "default");
  ASSERT_EQ(Must(client_->Create(cms, ConfigMap("a", "1"))).status, 201);
  // Unescaped, these would read (or delete) "a": a query after it, or a path that normalizes to it.
  for (const std::string name : {"a?x=1", "b/../a", "a%2F"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(Must(client_->Get(ResourcePath("v1", "configmaps", "default", name))).status, 404);
    EXPECT_NE(Must(client_->Delete(ResourcePath("v1", "configmaps", "default", name))).status, 200);
  }
  EXPECT_EQ(Must(client_->Get(ResourcePath("v1", "configmaps", "default", "a"))).status, 200);
}

TEST_P(KubeClientTest, ListPagesThroughContinueTokens) {
  const std::string cms = ResourcePath("v1", "configmaps", "default");
  for (int i = 0; i < 7; ++i) Must(client_->Create(cms, ConfigMap("p" + std::to_string(i), "x")));
  auto all = Must(client_->List(cms, "labelSelector=app%3Ddemo", 3));
  ASSERT_TRUE(all.ok()) << all.Describe();
  EXPECT_EQ(all.body.at("items").as_array().size(), 7u);
  EXPECT_FALSE(all.body.at("metadata").as_object().contains("continue"));
  EXPECT_FALSE(all.body.at("metadata").at("resourceVersion").as_string().empty());
}

TEST_P(KubeClientTest, ServerSideApplyIsIdempotent) {
  const std::string path = ResourcePath("v1", "configmaps", "default", "applied");
  auto first = Must(client_->Apply(path, ConfigMap("applied", "1"), "vmesh-agent", true));
  ASSERT_TRUE(first.ok()) << first.Describe();
  auto second = Must(client_->Apply(path, ConfigMap("applied", "1"), "vmesh-agent", true));
  ASSERT_TRUE(second.ok()) << second.Describe();
  EXPECT_EQ(first.body.at("metadata").at("resourceVersion"), second.body.at("metadata").at("resourceVersion"))
      << "applying the same object again changes nothing";
}

TEST_P(KubeClientTest, WatchSeesChangesFromAGivenVersion) {
  const std::string cms = ResourcePath("v1", "configmaps", "default");
  auto list = Must(client_->Get(cms));
  const std::string rv(list.body.at("metadata").at("resourceVersion").as_string());
  Must(client_->Create(cms, ConfigMap("w1", "1")));
  Must(client_->Create(cms, ConfigMap("w2", "1")));
  std::vector<std::string> seen;
  Status s =
      RunTask(client_->Watch(cms + "?watch=1&resourceVersion=" + rv + "&timeoutSeconds=10", [&](const WatchEvent& e) {
        seen.push_back(e.type + " " + std::string(e.object.at("metadata").at("name").as_string()));
        return seen.size() < 2;
      }));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_THAT(seen, ::testing::ElementsAre("ADDED w1", "ADDED w2"));
}

TEST(HttpKubeClientTest, UnreachableServerIsATransportError) {
  ClusterConfig config;
  config.server = "http://127.0.0.1:1";
  auto client = MakeKubeClient(config);
  ASSERT_TRUE(client.ok());
  auto r = RunTask((*client)->Get("/api/v1/namespaces"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("cannot connect to http://127.0.0.1:1"));
  config.server = "ftp://x";
  EXPECT_THAT(MakeKubeClient(config).error().message, HasSubstr("not an http:// or https:// URL"));
}

INSTANTIATE_TEST_SUITE_P(Backends, KubeClientTest, ::testing::Values(Backend::kHttp, Backend::kFake), BackendName);

}  // namespace
}  // namespace vmesh::kube
