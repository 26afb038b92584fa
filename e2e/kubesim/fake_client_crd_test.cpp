// The in-process fake client (common/kube/fake_client.*) runs kubesim's ApiHandler, so a CRD POSTed through it
// is served at once, and the CRDs of FakeKubeClientOptions::crds_yaml go through the same path.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/kube/fake_client.h"
#include "common/kube/run_task.h"

namespace vmesh::kube {
namespace {

namespace json = boost::json;

constexpr const char* kThingCrd = R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
  "metadata":{"name":"things.example.com"},
  "spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"things","kind":"Thing"},
    "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
      "schema":{"openAPIV3Schema":{"type":"object","properties":{
        "spec":{"type":"object","properties":{"count":{"type":"integer","maximum":3}}}}}}}]}})";

ApiResponse Call(FakeKubeClient& fake, const std::string& method, const std::string& target,
                 const std::string& body = "") {
  auto r = RunTask(fake.Request(method, target, body));
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : ApiResponse{};
}

TEST(FakeClientCrdTest, PostedCrdIsServed) {
  auto fake = MakeFakeKubeClient();
  ASSERT_TRUE(fake.ok()) << fake.error().message;
  FakeKubeClient& client = **fake;
  const std::string things = "/apis/example.com/v1/namespaces/default/things";
  EXPECT_EQ(Call(client, "GET", things).status, 404);
  EXPECT_EQ(Call(client, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", kThingCrd).status, 201);

  ApiResponse created =
      Call(client, "POST", things, R"({"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"t"},
                                       "spec":{"count":2}})");
  EXPECT_EQ(created.status, 201) << created.raw;
  ApiResponse invalid =
      Call(client, "POST", things, R"({"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"u"},
                                       "spec":{"count":7}})");
  EXPECT_EQ(invalid.status, 422) << invalid.raw;
  EXPECT_EQ(invalid.body.at("details").at("causes").at(0).at("field"), "spec.count");
  EXPECT_EQ(Call(client, "GET", things).body.at("items").as_array().size(), 1u);

  EXPECT_EQ(Call(client, "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.example.com").status,
            200);
  EXPECT_EQ(Call(client, "GET", things).status, 404);
}

TEST(FakeClientCrdTest, OptionCrdsAreServedAndEstablished) {
  std::string yaml = kThingCrd;
  auto fake = MakeFakeKubeClient(FakeKubeClientOptions{.crds_yaml = {yaml}});
  ASSERT_TRUE(fake.ok()) << fake.error().message;
  ApiResponse crd = Call(**fake, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.example.com");
  ASSERT_EQ(crd.status, 200) << crd.raw;
  EXPECT_EQ(crd.body.at("status").at("conditions").at(1).at("type"), "Established");
  EXPECT_EQ(crd.body.at("status").at("conditions").at(1).at("status"), "True");
  EXPECT_EQ(Call(**fake, "GET", "/apis/example.com/v1/things").status, 200);

  // The same CRD twice fails construction: the second one already exists.
  auto clash = MakeFakeKubeClient(FakeKubeClientOptions{.crds_yaml = {yaml, yaml}});
  EXPECT_FALSE(clash.ok());
}

}  // namespace
}  // namespace vmesh::kube
