#include "e2e/kubesim/api_handler.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "e2e/kubesim/cluster_setup.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

class ApiHandlerTest : public ::testing::Test {
 protected:
  ApiHandlerTest() : store_(Options()), handler_(registry_, store_) {
    EXPECT_TRUE(CreateSystemNamespaces(store_).ok());
  }

  static ObjectStore::Options Options() {
    ObjectStore::Options options;
    options.event_log_capacity = 16;
    return options;
  }

  HttpResponse Call(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& content_type = "application/json", const std::string& accept = "") {
    HandleResult result = handler_.Handle(HttpRequest{method, target, accept, content_type, body});
    EXPECT_TRUE(result.response.has_value()) << method << " " << target << " was not answered";
    return result.response.value_or(HttpResponse{0, "", ""});
  }

  json::value CallJson(const std::string& method, const std::string& target, int expected_status,
                       const std::string& body = "", const std::string& content_type = "application/json") {
    HttpResponse response = Call(method, target, body, content_type);
    EXPECT_EQ(response.status, expected_status) << method << " " << target << ": " << response.body;
    json::error_code ec;
    json::value parsed = json::parse(response.body, ec);
    EXPECT_FALSE(ec) << response.body;
    return parsed;
  }

  WatchRequest Watch(const std::string& target) {
    HandleResult result = handler_.Handle(HttpRequest{"GET", target, "", "", ""});
    EXPECT_TRUE(result.watch.has_value()) << target;
    return result.watch.value_or(WatchRequest{});
  }

  static std::vector<std::string> Types(const std::vector<std::string>& lines) {
    std::vector<std::string> types;
    for (const auto& line : lines) types.emplace_back(json::parse(line).at("type").as_string());
    return types;
  }

  ResourceRegistry registry_ = MakeBuiltinRegistry();
  ObjectStore store_;
  ApiHandler handler_;
};

TEST_F(ApiHandlerTest, Discovery) {
  json::value version = CallJson("GET", "/version", 200);
  EXPECT_EQ(version.at("major"), "1");
  EXPECT_EQ(version.at("minor"), "32");

  json::value api = CallJson("GET", "/api", 200);
  EXPECT_EQ(api.at("kind"), "APIVersions");
  EXPECT_EQ(api.at("versions").at(0), "v1");

  json::value groups = CallJson("GET", "/apis", 200);
  EXPECT_EQ(groups.at("kind"), "APIGroupList");
  std::vector<std::string> names;
  for (const auto& g : groups.at("groups").as_array()) names.emplace_back(g.at("name").as_string());
  EXPECT_EQ(names,
            (std::vector<std::string>{"apps", "discovery.k8s.io", "coordination.k8s.io", "rbac.authorization.k8s.io",
                                      "policy", "networking.k8s.io", "apiextensions.k8s.io"}));
  EXPECT_EQ(groups.at("groups").at(0).at("preferredVersion").at("groupVersion"), "apps/v1");

  json::value core = CallJson("GET", "/api/v1", 200);
  EXPECT_EQ(core.at("kind"), "APIResourceList");
  EXPECT_EQ(core.at("groupVersion"), "v1");
  bool found_pods = false, found_pod_status = false;
  for (const auto& r : core.at("resources").as_array()) {
    if (r.at("name") == "pods") {
      found_pods = true;
      EXPECT_EQ(r.at("kind"), "Pod");
      EXPECT_EQ(r.at("namespaced"), true);
      EXPECT_EQ(r.at("shortNames").at(0), "po");
    }
    if (r.at("name") == "pods/status") found_pod_status = true;
  }
  EXPECT_TRUE(found_pods);
  EXPECT_TRUE(found_pod_status);
  EXPECT_EQ(CallJson("GET", "/apis/apps/v1", 200).at("groupVersion"), "apps/v1");
  EXPECT_EQ(Call("GET", "/apis/example.com/v1").status, 404);
}

TEST(ApiHandlerAuthTest, BearerToken) {
  ResourceRegistry registry = MakeBuiltinRegistry();
  ObjectStore store;
  ServerInfo info;
  info.token = "s3cret";
  ApiHandler handler(registry, store, info);
  auto call = [&](const std::string& target, const std::string& authorization) {
    HttpRequest request{"GET", target, "", "", "", "", authorization};
    return handler.Handle(request).response.value_or(HttpResponse{0, "", ""});
  };
  HttpResponse denied = call("/api/v1/namespaces", "");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(json::parse(denied.body).at("reason"), "Unauthorized");
  EXPECT_EQ(call("/version", "Bearer wrong").status, 401);
  EXPECT_EQ(call("/api/v1/namespaces", "Bearer s3cret").status, 200);
  EXPECT_EQ(call("/healthz", "").status, 200);  // health checks stay open
}

TEST_F(ApiHandlerTest, AggregatedDiscoveryRequestsGetThePlainDocument) {
  HttpResponse response =
      Call("GET", "/apis", "", "",
           "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;q=0.9");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(json::parse(response.body).at("kind"), "APIGroupList");
}

TEST_F(ApiHandlerTest, OpenApiStubs) {
  HttpResponse v2 = Call("GET", "/openapi/v2?timeout=32s");
  EXPECT_EQ(v2.status, 200);
  EXPECT_EQ(v2.content_type, "application/octet-stream");  // a content type with '@' breaks kubectl
  EXPECT_TRUE(v2.body.empty());
  EXPECT_TRUE(CallJson("GET", "/openapi/v3", 200).at("paths").as_object().empty());
}

TEST_F(ApiHandlerTest, CrudWithStatusBodies) {
  const std::string base = "/api/v1/namespaces/default/configmaps";
  json::value created = CallJson("POST", base, 201, R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"cm","labels":{"app":"web"}},"data":{"a":"1"}})");
  EXPECT_EQ(created.at("metadata").at("namespace"), "default");
  std::string rv(created.at("metadata").at("resourceVersion").as_string());

  json::value exists = CallJson("POST", base, 409, R"({"metadata":{"name":"cm"}})");
  EXPECT_EQ(exists.at("kind"), "Status");
  EXPECT_EQ(exists.at("apiVersion"), "v1");
  EXPECT_EQ(exists.at("status"), "Failure");
  EXPECT_EQ(exists.at("reason"), "AlreadyExists");
  EXPECT_EQ(exists.at("code"), 409);
  EXPECT_EQ(exists.at("message"), "configmaps \"cm\" already exists");

  json::value got = CallJson("GET", base + "/cm", 200);
  EXPECT_EQ(got.at("kind"), "ConfigMap");
  EXPECT_EQ(got.at("apiVersion"), "v1");
  EXPECT_EQ(got.at("data").at("a"), "1");
  EXPECT_EQ(CallJson("GET", base + "/nope", 404).at("reason"), "NotFound");

  json::value stale =
      CallJson("PUT", base + "/cm", 409, R"({"metadata":{"name":"cm","resourceVersion":"1"},"data":{"a":"2"}})");
  EXPECT_EQ(stale.at("reason"), "Conflict");
  json::value put = CallJson("PUT", base + "/cm", 200,
                             R"({"metadata":{"name":"cm","resourceVersion":")" + rv + R"("},"data":{"a":"2"}})");
  EXPECT_EQ(put.at("data").at("a"), "2");

  json::value merged = CallJson("PATCH", base + "/cm", 200, R"({"metadata":{"labels":{"tier":"gold","app":null}}})",
                                "application/merge-patch+json");
  EXPECT_EQ(merged.at("metadata").at("labels"), json::parse(R"({"tier":"gold"})"));
  json::value strategic =
      CallJson("PATCH", base + "/cm", 200, R"({"data":{"b":"3"}})", "application/strategic-merge-patch+json");
  EXPECT_EQ(strategic.at("data"), json::parse(R"({"a":"2","b":"3"})"));
  json::value json_patched = CallJson(
      "PATCH", base + "/cm", 200, R"([{"op":"test","path":"/data/a","value":"2"},{"op":"remove","path":"/data/b"}])",
      "application/json-patch+json");
  EXPECT_EQ(json_patched.at("data"), json::parse(R"({"a":"2"})"));
  EXPECT_EQ(CallJson("PATCH", base + "/cm", 422, R"([{"op":"test","path":"/data/a","value":"9"}])",
                     "application/json-patch+json")
                .at("reason"),
            "Invalid");
  EXPECT_EQ(CallJson("PATCH", base + "/cm", 415, "<a/>", "application/xml").at("reason"), "UnsupportedMediaType");
  EXPECT_EQ(CallJson("PATCH", base + "/nope", 404, "{}", "application/merge-patch+json").at("reason"), "NotFound");

  json::value list = CallJson("GET", "/api/v1/configmaps?labelSelector=tier%3Dgold", 200);
  EXPECT_EQ(list.at("kind"), "ConfigMapList");
  EXPECT_EQ(list.at("apiVersion"), "v1");
  EXPECT_EQ(list.at("items").as_array().size(), 1u);
  EXPECT_EQ(list.at("metadata").at("resourceVersion").as_string(), std::to_string(store_.resource_version()));
  EXPECT_EQ(CallJson("GET", base + "?labelSelector=env+in+(a", 400).at("reason"), "BadRequest");

  json::value deleted = CallJson("DELETE", base + "/cm", 200);
  EXPECT_EQ(deleted.at("status"), "Success");
  EXPECT_EQ(deleted.at("details").at("name"), "cm");
  EXPECT_EQ(CallJson("DELETE", base + "/cm", 404).at("reason"), "NotFound");
}

TEST_F(ApiHandlerTest, RejectsMismatchedBodies) {
  EXPECT_EQ(CallJson("POST", "/api/v1/namespaces/default/configmaps", 400,
                     R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}})")
                .at("reason"),
            "BadRequest");
  EXPECT_EQ(CallJson("POST", "/api/v1/namespaces/default/configmaps", 400,
                     R"({"metadata":{"name":"x","namespace":"kube-system"}})")
                .at("reason"),
            "BadRequest");
  EXPECT_EQ(CallJson("POST", "/api/v1/namespaces/nope/configmaps", 404, R"({"metadata":{"name":"x"}})").at("message"),
            "namespaces \"nope\" not found");
  EXPECT_EQ(Call("POST", "/api/v1/namespaces/default/configmaps", "\x0a\x03k8s", "application/vnd.kubernetes.protobuf")
                .status,
            415);
}

TEST_F(ApiHandlerTest, DryRunChangesNothing) {
  const std::string base = "/api/v1/namespaces/default/configmaps";
  const uint64_t rv = store_.resource_version();
  json::value created = CallJson("POST", base + "?dryRun=All", 201, R"({"metadata":{"name":"cm"},"data":{"a":"1"}})");
  EXPECT_EQ(created.at("data").at("a"), "1");
  EXPECT_EQ(Call("GET", base + "/cm").status, 404);
  EXPECT_EQ(store_.resource_version(), rv);
  // As kube-apiserver's ValidateCreateOptions: 422 Invalid.
  EXPECT_EQ(CallJson("POST", base + "?dryRun=Some", 422, R"({"metadata":{"name":"cm"}})").at("reason"), "Invalid");

  CallJson("POST", base, 201, R"({"metadata":{"name":"cm"},"data":{"a":"1"}})");
  json::value patched =
      CallJson("PATCH", base + "/cm?dryRun=All", 200, R"({"data":{"a":"2"}})", "application/merge-patch+json");
  EXPECT_EQ(patched.at("data").at("a"), "2");
  EXPECT_EQ(CallJson("GET", base + "/cm", 200).at("data").at("a"), "1");
  CallJson("DELETE", base + "/cm", 200, R"({"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]})");
  CallJson("DELETE", base + "/cm?dryRun=All", 200);
  EXPECT_EQ(Call("GET", base + "/cm").status, 200);
}

// A typed client's DELETE (client-go, e.g. helm purging its release Secrets) carries DeleteOptions in protobuf:
// its preconditions are checked as in JSON; a body that is neither is refused.
TEST_F(ApiHandlerTest, DeleteWithProtobufOptions) {
  const std::string base = "/api/v1/namespaces/default/secrets";
  json::value created = CallJson("POST", base, 201, R"({"metadata":{"name":"release"},"type":"helm.sh/release.v1"})");
  auto options = [](const std::string& uid) {
    auto bytes = [](int field, const std::string& v) {
      return std::string(1, static_cast<char>((field << 3) | 2)) + std::string(1, static_cast<char>(v.size())) + v;
    };
    const std::string raw = bytes(2, bytes(1, uid)) + bytes(4, "Background");
    return std::string("k8s\0", 4) + bytes(1, bytes(1, "v1") + bytes(2, "DeleteOptions")) + bytes(2, raw);
  };
  const std::string protobuf = "application/vnd.kubernetes.protobuf";
  EXPECT_EQ(CallJson("DELETE", base + "/release", 409, options("other-uid"), protobuf).at("reason"), "Conflict");
  EXPECT_EQ(Call("GET", base + "/release").status, 200);
  const std::string uid(created.at("metadata").at("uid").as_string());
  CallJson("DELETE", base + "/release", 200, options(uid), protobuf);
  EXPECT_EQ(Call("GET", base + "/release").status, 404);
  CallJson("POST", base, 201, R"({"metadata":{"name":"again"}})");
  EXPECT_EQ(Call("DELETE", base + "/again", "\x0a\x03k8s", protobuf).status, 415);
  EXPECT_EQ(Call("DELETE", base + "/again", "{not json").status, 400);
  EXPECT_EQ(Call("GET", base + "/again").status, 200);
}

TEST_F(ApiHandlerTest, StatusSubresource) {
  const std::string base = "/apis/apps/v1/namespaces/default/deployments";
  json::value created =
      CallJson("POST", base, 201, R"({"metadata":{"name":"web"},"spec":{"replicas":1},"status":{"replicas":5}})");
  EXPECT_FALSE(created.as_object().contains("status"));  // clients cannot set status on create
  json::value status =
      CallJson("PATCH", base + "/web/status", 200, R"({"status":{"readyReplicas":1}})", "application/merge-patch+json");
  EXPECT_EQ(status.at("status").at("readyReplicas"), 1);
  json::value main = CallJson("PATCH", base + "/web", 200, R"({"status":{"readyReplicas":7},"spec":{"replicas":2}})",
                              "application/merge-patch+json");
  EXPECT_EQ(main.at("status").at("readyReplicas"), 1);
  EXPECT_EQ(main.at("spec").at("replicas"), 2);
  EXPECT_EQ(main.at("metadata").at("generation"), 2);
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/default/configmaps/x/status").status, 404);
}

TEST_F(ApiHandlerTest, ClusterScopedAndAllNamespaces) {
  CallJson("POST", "/api/v1/namespaces", 201, R"({"metadata":{"name":"team"}})");
  EXPECT_EQ(CallJson("GET", "/api/v1/namespaces/team", 200).at("status").at("phase"), "Active");
  CallJson("POST", "/api/v1/namespaces/team/pods", 201, R"({"metadata":{"name":"p"}})");
  CallJson("POST", "/api/v1/namespaces/default/pods", 201, R"({"metadata":{"name":"p"}})");
  EXPECT_EQ(CallJson("GET", "/api/v1/pods", 200).at("items").as_array().size(), 2u);
  EXPECT_EQ(CallJson("GET", "/api/v1/pods?fieldSelector=metadata.namespace%3Dteam", 200).at("items").as_array().size(),
            1u);
  EXPECT_EQ(Call("GET", "/api/v1/pods/p").status, 404);  // a namespaced object needs its namespace
  CallJson("DELETE", "/api/v1/namespaces/team", 200);
  EXPECT_EQ(CallJson("GET", "/api/v1/pods", 200).at("items").as_array().size(), 1u);
}

TEST_F(ApiHandlerTest, ServerSideApply) {
  const std::string url = "/apis/apps/v1/namespaces/default/deployments/web";
  const std::string config = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n";
  const std::string yaml = "application/apply-patch+yaml";
  EXPECT_EQ(CallJson("PATCH", url, 422, config, yaml).at("reason"), "Invalid");  // fieldManager is required

  json::value created = CallJson("PATCH", url + "?fieldManager=ci", 201, config, yaml);
  EXPECT_EQ(created.at("spec").at("replicas"), 2);
  EXPECT_EQ(created.at("spec").at("revisionHistoryLimit"), 10);  // defaulted, not owned
  EXPECT_EQ(created.at("metadata").at("managedFields").at(0).at("manager"), "ci");
  json::value again = CallJson("PATCH", url + "?fieldManager=ci", 200, config, yaml);
  EXPECT_EQ(again.at("metadata").at("resourceVersion"), created.at("metadata").at("resourceVersion"));

  const std::string other = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 5}\n";
  json::value conflict = CallJson("PATCH", url + "?fieldManager=hpa", 409, other, yaml);
  EXPECT_EQ(conflict.at("reason"), "Conflict");
  EXPECT_EQ(conflict.at("message"), "Apply failed with 1 conflict: conflict with \"ci\" using apps/v1: .spec.replicas");
  EXPECT_EQ(CallJson("PATCH", url + "?fieldManager=hpa&force=true", 200, other, yaml).at("spec").at("replicas"), 5);

  json::value status =
      CallJson("PATCH", url + "/status?fieldManager=controller", 200,
               "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nstatus: {readyReplicas: 1}\n", yaml);
  EXPECT_EQ(status.at("status").at("readyReplicas"), 1);
  EXPECT_EQ(status.at("spec").at("replicas"), 5);
  EXPECT_EQ(CallJson("PATCH", "/apis/apps/v1/namespaces/default/deployments/none/status?fieldManager=c", 404,
                     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: none}\n", yaml)
                .at("reason"),
            "NotFound");

  // Updates record their manager too: the scale subresource here.
  CallJson("PATCH", url + "/scale?fieldManager=kubectl-scale", 200, R"({"spec":{"replicas":7}})",
           "application/merge-patch+json");
  json::value scaled = CallJson("GET", url, 200);
  EXPECT_EQ(scaled.at("spec").at("replicas"), 7);
  EXPECT_EQ(scaled.at("metadata").at("managedFields").as_array().back().at("manager"), "kubectl-scale");
  EXPECT_EQ(CallJson("PATCH", url + "?fieldManager=x", 400,
                     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: other}\n", yaml)
                .at("reason"),
            "BadRequest");
}

TEST_F(ApiHandlerTest, ScaleSubresource) {
  CallJson("POST", "/apis/apps/v1/namespaces/default/deployments", 201,
           R"({"metadata":{"name":"web"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}}}})");
  json::value scale = CallJson("GET", "/apis/apps/v1/namespaces/default/deployments/web/scale", 200);
  EXPECT_EQ(scale.at("kind"), "Scale");
  EXPECT_EQ(scale.at("apiVersion"), "autoscaling/v1");
  EXPECT_EQ(scale.at("spec").at("replicas"), 2);
  EXPECT_EQ(scale.at("status").at("selector"), "app=web");
  json::value put =
      CallJson("PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", 200, R"({"spec":{"replicas":4}})");
  EXPECT_EQ(put.at("spec").at("replicas"), 4);
  EXPECT_EQ(
      CallJson("PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", 422, R"({"spec":{"replicas":-1}})")
          .at("reason"),
      "Invalid");
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/default/configmaps/x/scale").status, 404);
}

TEST_F(ApiHandlerTest, WatchFromResourceVersion) {
  const std::string base = "/api/v1/namespaces/default/configmaps";
  std::string rv = std::to_string(store_.resource_version());
  CallJson("POST", base, 201, R"({"metadata":{"name":"a","labels":{"app":"web"}}})");

  WatchRequest request = Watch(base + "?watch=1&resourceVersion=" + rv + "&allowWatchBookmarks=true&timeoutSeconds=5");
  EXPECT_TRUE(request.allow_bookmarks);
  EXPECT_EQ(request.timeout, std::chrono::seconds(5));
  WatchStream stream(store_, request);
  std::vector<std::string> first = stream.Start();
  EXPECT_EQ(Types(first), (std::vector<std::string>{"ADDED"}));
  EXPECT_EQ(json::parse(first[0]).at("object").at("kind"), "ConfigMap");
  EXPECT_TRUE(stream.Poll().empty());

  CallJson("PATCH", base + "/a", 200, R"({"data":{"k":"v"}})", "application/merge-patch+json");
  CallJson("DELETE", base + "/a", 200);
  EXPECT_EQ(Types(stream.Poll()), (std::vector<std::string>{"MODIFIED", "DELETED"}));

  CallJson("POST", "/api/v1/namespaces/default/secrets", 201, R"({"metadata":{"name":"s"}})");
  EXPECT_TRUE(stream.Poll().empty());  // other kinds are not this watch's business
  json::value bookmark = json::parse(stream.BookmarkLine());
  EXPECT_EQ(bookmark.at("type"), "BOOKMARK");
  EXPECT_EQ(bookmark.at("object").at("metadata").at("resourceVersion").as_string(),
            std::to_string(store_.resource_version()));
}

TEST_F(ApiHandlerTest, WatchWithoutVersionStartsWithCurrentObjects) {
  const std::string base = "/api/v1/namespaces/default/configmaps";
  CallJson("POST", base, 201, R"({"metadata":{"name":"a","labels":{"app":"web"}}})");
  CallJson("POST", base, 201, R"({"metadata":{"name":"b","labels":{"app":"db"}}})");
  WatchStream stream(store_, Watch(base + "?watch=true&labelSelector=app%3Dweb"));
  std::vector<std::string> first = stream.Start();
  ASSERT_EQ(Types(first), (std::vector<std::string>{"ADDED"}));
  EXPECT_EQ(json::parse(first[0]).at("object").at("metadata").at("name"), "a");
  CallJson("POST", base, 201, R"({"metadata":{"name":"c","labels":{"app":"web"}}})");
  CallJson("POST", base, 201, R"({"metadata":{"name":"d","labels":{"app":"db"}}})");
  EXPECT_EQ(Types(stream.Poll()), (std::vector<std::string>{"ADDED"}));

  // Relabelling moves objects into and out of the watch.
  const std::string merge = "application/merge-patch+json";
  CallJson("PATCH", base + "/d", 200, R"({"metadata":{"labels":{"app":"web"}}})", merge);
  CallJson("PATCH", base + "/a", 200, R"({"metadata":{"labels":{"app":"db"}}})", merge);
  CallJson("PATCH", base + "/b", 200, R"({"data":{"x":"y"}})", merge);
  CallJson("PATCH", base + "/c", 200, R"({"data":{"x":"y"}})", merge);
  std::vector<std::string> lines = stream.Poll();
  EXPECT_EQ(Types(lines), (std::vector<std::string>{"ADDED", "DELETED", "MODIFIED"}));
  EXPECT_EQ(json::parse(lines[1]).at("object").at("metadata").at("name"), "a");
}

// issue 18: the Python client sends watch=True; kube-apiserver takes every value but "0"/"false" as true.
TEST_F(ApiHandlerTest, WatchParameterAsTheApiServerDecodesIt) {
  const std::string base = "/api/v1/namespaces/default/configmaps";
  for (const char* v : {"True", "true", "1", "t", ""}) {
    EXPECT_TRUE(handler_.Handle(HttpRequest{"GET", base + "?watch=" + v}).watch.has_value()) << v;
  }
  for (const char* v : {"False", "false", "0"}) {
    HandleResult result = handler_.Handle(HttpRequest{"GET", base + "?watch=" + v});
    ASSERT_TRUE(result.response.has_value()) << v;
    EXPECT_NE(result.response->body.find(R"("kind":"ConfigMapList")"), std::string::npos) << v;
  }
  json::value bad = CallJson("GET", base + "?watch=true&timeoutSeconds=5s", 400);
  EXPECT_EQ(bad.at("reason"), "BadRequest");
  EXPECT_EQ(bad.at("message"), R"(timeoutSeconds: strconv.ParseInt: parsing "5s": invalid syntax)");
  json::value invalid = CallJson("GET", base + "?watch=1&resourceVersionMatch=Exact", 422);
  EXPECT_EQ(invalid.at("reason"), "Invalid");
  EXPECT_EQ(CallJson("GET", base + "?limit=-", 400).at("reason"), "BadRequest");
  EXPECT_EQ(CallJson("GET", base + "?resourceVersion=x", 400).at("reason"), "BadRequest");
  EXPECT_EQ(CallJson("POST", base + "?fieldValidation=Loose", 422, R"({"metadata":{"name":"x"}})").at("reason"),
            "Invalid");
  EXPECT_EQ(Call("GET", base + "/x").status, 404);  // nothing was created
  EXPECT_EQ(CallJson("DELETE", base + "/x?propagationPolicy=Now", 422).at("reason"), "Invalid");
  EXPECT_EQ(Watch(base + "?watch=1&timeoutSeconds=7").timeout, std::chrono::seconds(7));
}

// sendInitialEvents (the WatchList protocol): ADDED for the current objects, then a BOOKMARK annotated
// k8s.io/initial-events-end at the list's version, then changes.
TEST_F(ApiHandlerTest, WatchWithSendInitialEvents) {
  const std::string base = "/api/v1/namespaces/default/configmaps";
  CallJson("POST", base, 201, R"({"metadata":{"name":"a"}})");
  CallJson("POST", base, 201, R"({"metadata":{"name":"b"}})");
  const std::string listed = std::to_string(store_.resource_version());
  WatchStream stream(store_, Watch(base + "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                                          "&allowWatchBookmarks=true&resourceVersion=1"));
  std::vector<std::string> first = stream.Start();
  ASSERT_EQ(Types(first), (std::vector<std::string>{"ADDED", "ADDED", "BOOKMARK"}));
  json::value bookmark = json::parse(first[2]);
  EXPECT_EQ(bookmark.at("object").at("metadata").at("resourceVersion"), listed.c_str());
  EXPECT_EQ(bookmark.at("object").at("metadata").at("annotations").at("k8s.io/initial-events-end"), "true");
  CallJson("POST", base, 201, R"({"metadata":{"name":"c"}})");
  EXPECT_EQ(Types(stream.Poll()), (std::vector<std::string>{"ADDED"}));

  // sendInitialEvents=false without a version: only what happens from now on.
  WatchStream later(store_, Watch(base + "?watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan"));
  EXPECT_TRUE(later.Start().empty());
  CallJson("DELETE", base + "/a", 200);
  EXPECT_EQ(Types(later.Poll()), (std::vector<std::string>{"DELETED"}));
  // Without bookmarks there is no end marker.
  WatchStream plain(store_, Watch(base + "?watch=1&sendInitialEvents=1&resourceVersionMatch=NotOlderThan"));
  EXPECT_EQ(Types(plain.Start()), (std::vector<std::string>{"ADDED", "ADDED"}));
}

TEST_F(ApiHandlerTest, ListAtExactVersion) {
  const std::string base = "/api/v1/namespaces/default/configmaps";
  CallJson("POST", base, 201, R"({"metadata":{"name":"a"}})");
  const std::string before = std::to_string(store_.resource_version());
  CallJson("DELETE", base + "/a", 200);
  json::value then = CallJson("GET", base + "?resourceVersion=" + before + "&resourceVersionMatch=Exact", 200);
  EXPECT_EQ(then.at("items").as_array().size(), 1u);
  EXPECT_EQ(then.at("metadata").at("resourceVersion"), before.c_str());
  EXPECT_TRUE(CallJson("GET", base + "?resourceVersion=" + before + "&resourceVersionMatch=NotOlderThan", 200)
                  .at("items")
                  .as_array()
                  .empty());
  for (int i = 0; i < 20; ++i) CallJson("POST", base, 201, R"({"metadata":{"generateName":"cm-"}})");  // log: 16
  EXPECT_EQ(CallJson("GET", base + "?resourceVersion=" + before + "&resourceVersionMatch=Exact", 410).at("reason"),
            "Expired");
}

TEST_F(ApiHandlerTest, WatchFromExpiredVersionGetsGoneError) {
  const std::string base = "/api/v1/namespaces/default/configmaps";
  for (int i = 0; i < 20; ++i) CallJson("POST", base, 201, R"({"metadata":{"generateName":"cm-"}})");
  WatchStream stream(store_, Watch(base + "?watch=1&resourceVersion=1"));
  std::vector<std::string> lines = stream.Start();
  ASSERT_EQ(lines.size(), 1u);
  json::value error = json::parse(lines[0]);
  EXPECT_EQ(error.at("type"), "ERROR");
  EXPECT_EQ(error.at("object").at("kind"), "Status");
  EXPECT_EQ(error.at("object").at("code"), 410);
  EXPECT_EQ(error.at("object").at("reason"), "Expired");
  EXPECT_TRUE(stream.done());
}

}  // namespace
}  // namespace vmesh::kubesim
