#include "e2e/kubesim/managed_fields.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

class ManagedFieldsTest : public ::testing::Test {
 protected:
  static json::object Obj(const char* text) { return json::parse(text).as_object(); }

  json::object Apply(const json::object* live, const char* config, const std::string& manager, bool force = false) {
    auto result = ServerSideApply(deployments_, live, Obj(config), manager, force);
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    return result.ok() ? *result : json::object();
  }

  std::vector<std::string> Managers(const json::object& object) {
    std::vector<std::string> names;
    for (const auto& e : object.at("metadata").at("managedFields").as_array()) {
      names.push_back(std::string(e.at("manager").as_string()) + "/" + std::string(e.at("operation").as_string()));
    }
    return names;
  }

  ResourceRegistry registry_ = MakeBuiltinRegistry();
  const ResourceType& deployments_ = *registry_.Find("apps", "v1", "deployments");
  const ResourceType& configmaps_ = *registry_.Find("", "v1", "configmaps");
};

TEST_F(ManagedFieldsTest, FieldsOfKeysContainersByName) {
  FieldSet fields = FieldsOf(deployments_, Obj(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","labels":{"app":"web"}},
      "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"app","image":"a:1","args":["x"]}]}}},
      "status":{"replicas":2}})"));
  FieldSet expected = {
      {"f:metadata", "f:labels", "f:app"},
      {"f:spec", "f:replicas"},
      {"f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"app\"}", "."},
      {"f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"app\"}", "f:name"},
      {"f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"app\"}", "f:image"},
      {"f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"app\"}", "f:args"},
  };
  EXPECT_EQ(fields, expected);
}

TEST_F(ManagedFieldsTest, ApplyOwnsAndIsIdempotent) {
  const char* config =
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":2}})";
  json::object first = Apply(nullptr, config, "ci");
  EXPECT_EQ(first.at("spec").at("replicas"), 2);
  EXPECT_EQ(Managers(first), (std::vector<std::string>{"ci/Apply"}));
  EXPECT_EQ(first.at("metadata").at("managedFields").at(0).at("fieldsV1"),
            json::parse(R"({"f:spec":{"f:replicas":{}}})"));
  json::object second = Apply(&first, config, "ci");
  EXPECT_EQ(second, first);  // same fields, same time: nothing changes
}

TEST_F(ManagedFieldsTest, ConflictsUnlessForced) {
  json::object live = Apply(nullptr, R"({"metadata":{"name":"web"},"spec":{"replicas":2}})", "ci");
  auto conflict =
      ServerSideApply(deployments_, &live, Obj(R"({"metadata":{"name":"web"},"spec":{"replicas":3}})"), "hpa", false);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, 409);
  EXPECT_EQ(conflict.error().message,
            "Apply failed with 1 conflict: conflict with \"ci\" using apps/v1: .spec.replicas");

  // The same value is shared ownership, not a conflict.
  json::object shared = Apply(&live, R"({"metadata":{"name":"web"},"spec":{"replicas":2}})", "other");
  EXPECT_EQ(Managers(shared), (std::vector<std::string>{"ci/Apply", "other/Apply"}));

  json::object forced = Apply(&live, R"({"metadata":{"name":"web"},"spec":{"replicas":3}})", "hpa", true);
  EXPECT_EQ(forced.at("spec").at("replicas"), 3);
  EXPECT_EQ(Managers(forced), (std::vector<std::string>{"hpa/Apply"}));  // ci lost its only field
}

TEST_F(ManagedFieldsTest, DroppedFieldsAreRemovedUnlessSomeoneElseOwnsThem) {
  json::object live = Apply(nullptr, R"({"metadata":{"name":"web","labels":{"a":"1","b":"2"}},
      "spec":{"template":{"spec":{"containers":[{"name":"app","image":"a:1"},{"name":"sidecar","image":"s:1"}]}}}})",
                            "ci");
  live = Apply(&live, R"({"metadata":{"name":"web","labels":{"b":"2"}}})", "other");
  json::object next = Apply(&live, R"({"metadata":{"name":"web","labels":{"a":"1"}},
      "spec":{"template":{"spec":{"containers":[{"name":"app","image":"a:2"}]}}}})",
                            "ci");
  EXPECT_EQ(next.at("metadata").at("labels"), json::parse(R"({"a":"1","b":"2"})"));  // b is "other"'s
  EXPECT_EQ(next.at("spec").at("template").at("spec").at("containers"),
            json::parse(R"([{"name":"app","image":"a:2"}])"));  // the sidecar was ci's alone
}

TEST_F(ManagedFieldsTest, KubectlTakesOverFieldsItSetWithClientSideApply) {
  json::object live = Obj(R"({"metadata":{"name":"web","annotations":{
      "kubectl.kubernetes.io/last-applied-configuration":"{\"spec\":{\"replicas\":2}}"}},"spec":{"replicas":2}})");
  RecordUpdate(deployments_, nullptr, live, "kubectl-client-side-apply");
  const char* config = R"({"metadata":{"name":"web"},"spec":{"replicas":3}})";
  EXPECT_FALSE(ServerSideApply(deployments_, &live, Obj(config), "other", false).ok());
  json::object taken = Apply(&live, config, "kubectl");
  EXPECT_EQ(taken.at("spec").at("replicas"), 3);

  const char* labels = R"({"metadata":{"name":"web","labels":{"a":"b"}},"spec":{"replicas":3}})";
  json::object labelled = Apply(&taken, labels, "other");
  json::object relabelled = labelled;
  relabelled["metadata"].as_object()["labels"].as_object()["a"] = "c";
  EXPECT_FALSE(ServerSideApply(deployments_, &labelled, relabelled, "kubectl", false).ok())
      << "labels were never client-side applied";
}

TEST_F(ManagedFieldsTest, UpdatesOwnWhatTheyChange) {
  json::object live = Apply(nullptr, R"({"metadata":{"name":"web"},"spec":{"replicas":2,"paused":false}})", "ci");
  json::object updated = live;
  updated["spec"].as_object()["replicas"] = 5;
  RecordUpdate(deployments_, &live, updated, "kubectl-scale");
  EXPECT_EQ(Managers(updated), (std::vector<std::string>{"ci/Apply", "kubectl-scale/Update"}));
  EXPECT_EQ(updated.at("metadata").at("managedFields").at(1).at("fieldsV1"),
            json::parse(R"({"f:spec":{"f:replicas":{}}})"));
  auto conflict = ServerSideApply(
      deployments_, &updated, Obj(R"({"metadata":{"name":"web"},"spec":{"replicas":2,"paused":false}})"), "ci", false);
  ASSERT_FALSE(conflict.ok());
  EXPECT_NE(conflict.error().message.find("\"kubectl-scale\""), std::string::npos) << conflict.error().message;

  json::object cm = Obj(R"({"metadata":{"name":"c"},"data":{"k":"v"}})");
  RecordUpdate(configmaps_, nullptr, cm, "kubectl-create");
  json::object unchanged = cm;
  RecordUpdate(configmaps_, &cm, unchanged, "someone");
  EXPECT_EQ(unchanged, cm);  // a write that changes nothing records nothing
}

}  // namespace
}  // namespace vmesh::kubesim
