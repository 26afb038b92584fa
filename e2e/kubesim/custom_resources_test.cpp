// CustomResourceDefinitions created at run time through the API: discovery, custom resource CRUD and watch,
// the status subresource and generation, schema validation, pruning and fieldValidation, name conflicts,
// deletion; and Leases as the hub's leader election uses them.
#include "e2e/kubesim/custom_resources.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <thread>

#include "e2e/kubesim/api_handler.h"
#include "e2e/kubesim/cluster_setup.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

// A small CRD: namespaced Widget with size (1..10, required), color (enum, default "blue"), tags (strings)
// and status.phase; status subresource; printer columns.
constexpr const char* kWidgetCrd = R"({
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.example.com"},
  "spec": {
    "group": "example.com",
    "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"],
              "categories": ["all"]},
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "subresources": {"status": {}},
      "additionalPrinterColumns": [
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}],
      "schema": {"openAPIV3Schema": {
        "type": "object",
        "properties": {
          "spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "integer", "minimum": 1, "maximum": 10},
            "color": {"type": "string", "enum": ["red", "blue"], "default": "blue"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
          "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}}
    }]
  }
})";

constexpr const char* kWidgets = "/apis/example.com/v1/namespaces/default/widgets";

class RuntimeCrdTest : public ::testing::Test {
 protected:
  RuntimeCrdTest() : handler_(registry_, store_) { EXPECT_TRUE(CreateSystemNamespaces(store_).ok()); }

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

  void CreateWidgetCrd() {
    CallJson("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", 201, kWidgetCrd);
  }

  static std::string Widget(const std::string& name, const std::string& spec) {
    return R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":")" + name + R"("},"spec":)" + spec +
           "}";
  }

  static std::string Condition(const json::value& crd, const std::string& type) {
    for (const auto& c : crd.at("status").at("conditions").as_array()) {
      if (c.at("type") == type.c_str()) return std::string(c.at("status").as_string());
    }
    return "";
  }

  bool Served(const std::string& group_version, const std::string& resource) {
    HttpResponse list = Call("GET", "/apis/" + group_version);
    if (list.status != 200) return false;
    json::value parsed = json::parse(list.body);
    for (const auto& r : parsed.at("resources").as_array()) {
      if (r.at("name") == resource.c_str()) return true;
    }
    return false;
  }

  ResourceRegistry registry_ = MakeBuiltinRegistry();
  ObjectStore store_;
  ApiHandler handler_;
};

TEST_F(RuntimeCrdTest, CreatedCrdIsEstablishedAndDiscoverable) {
  EXPECT_EQ(Call("GET", "/apis/example.com/v1").status, 404);
  CreateWidgetCrd();

  json::value crd = CallJson("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", 200);
  EXPECT_EQ(Condition(crd, "NamesAccepted"), "True");
  EXPECT_EQ(Condition(crd, "Established"), "True");
  EXPECT_EQ(crd.at("status").at("acceptedNames").at("kind"), "Widget");
  EXPECT_EQ(crd.at("status").at("acceptedNames").at("listKind"), "WidgetList");
  EXPECT_EQ(crd.at("status").at("storedVersions"), json::parse(R"(["v1"])"));

  bool group_listed = false;
  json::value groups = CallJson("GET", "/apis", 200);
  for (const auto& g : groups.at("groups").as_array()) {
    if (g.at("name") == "example.com") {
      group_listed = true;
      EXPECT_EQ(g.at("preferredVersion").at("groupVersion"), "example.com/v1");
    }
  }
  EXPECT_TRUE(group_listed);
  EXPECT_EQ(CallJson("GET", "/apis/example.com", 200).at("versions").at(0).at("version"), "v1");
  json::value resources = CallJson("GET", "/apis/example.com/v1", 200);
  ASSERT_EQ(resources.at("resources").as_array().size(), 2u);
  const json::value& widgets = resources.at("resources").at(0);
  EXPECT_EQ(widgets.at("name"), "widgets");
  EXPECT_EQ(widgets.at("kind"), "Widget");
  EXPECT_EQ(widgets.at("namespaced"), true);
  EXPECT_EQ(widgets.at("shortNames"), json::parse(R"(["wd"])"));
  EXPECT_EQ(widgets.at("categories"), json::parse(R"(["all"])"));
  EXPECT_EQ(resources.at("resources").at(1).at("name"), "widgets/status");
  bool path_listed = false;
  json::value root = CallJson("GET", "/", 200);
  for (const auto& p : root.at("paths").as_array()) path_listed |= p == "/apis/example.com/v1";
  EXPECT_TRUE(path_listed);
}

TEST_F(RuntimeCrdTest, CustomResourceCrudListWatchAndTable) {
  CreateWidgetCrd();
  WatchRequest watch;
  {
    HandleResult result = handler_.Handle(HttpRequest{"GET", std::string(kWidgets) + "?watch=1", "", "", ""});
    ASSERT_TRUE(result.watch.has_value());
    watch = *result.watch;
  }
  WatchStream stream(store_, watch);
  EXPECT_TRUE(stream.Start().empty());

  json::value created = CallJson("POST", kWidgets, 201, Widget("w1", R"({"size":3,"tags":["a","b"]})"));
  EXPECT_EQ(created.at("metadata").at("generation"), 1);
  EXPECT_EQ(created.at("spec").at("color"), "blue");  // the schema's default
  EXPECT_EQ(CallJson("GET", std::string(kWidgets) + "/w1", 200).at("spec").at("size"), 3);
  json::value list = CallJson("GET", kWidgets, 200);
  EXPECT_EQ(list.at("kind"), "WidgetList");
  EXPECT_EQ(list.at("items").as_array().size(), 1u);
  EXPECT_EQ(CallJson("GET", "/apis/example.com/v1/widgets", 200).at("items").as_array().size(), 1u);

  std::vector<std::string> lines = stream.Poll();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(json::parse(lines[0]).at("type"), "ADDED");
  EXPECT_EQ(json::parse(lines[0]).at("object").at("metadata").at("name"), "w1");

  HttpResponse table = Call("GET", kWidgets, "", "", "application/json;as=Table;v=v1;g=meta.k8s.io");
  json::value t = json::parse(table.body);
  EXPECT_EQ(t.at("columnDefinitions").at(1).at("name"), "Size");
  EXPECT_EQ(t.at("rows").at(0).at("cells").at(1), 3);

  CallJson("DELETE", std::string(kWidgets) + "/w1", 200);
  lines = stream.Poll();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(json::parse(lines[0]).at("type"), "DELETED");
}

TEST_F(RuntimeCrdTest, StatusSubresourceAndGeneration) {
  CreateWidgetCrd();
  CallJson("POST", kWidgets, 201, Widget("w1", R"({"size":3})"));
  const std::string w1 = std::string(kWidgets) + "/w1";

  // The main resource ignores status; a status-only change keeps the generation.
  json::value put = CallJson("PUT", w1, 200,
                             R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},
                                 "spec":{"size":3,"color":"blue"},"status":{"phase":"Ready"}})");
  EXPECT_FALSE(put.as_object().contains("status"));
  EXPECT_EQ(put.at("metadata").at("generation"), 1);

  // /status ignores everything but status, and does not bump the generation.
  json::value status = CallJson("PUT", w1 + "/status", 200,
                                R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},
                                    "spec":{"size":9},"status":{"phase":"Ready"}})");
  EXPECT_EQ(status.at("status").at("phase"), "Ready");
  EXPECT_EQ(status.at("spec").at("size"), 3);
  EXPECT_EQ(status.at("metadata").at("generation"), 1);
  json::value merged =
      CallJson("PATCH", w1 + "/status", 200, R"({"status":{"phase":"Done"}})", "application/merge-patch+json");
  EXPECT_EQ(merged.at("status").at("phase"), "Done");
  EXPECT_EQ(merged.at("metadata").at("generation"), 1);

  // A spec change bumps it and keeps the status.
  json::value patched =
      CallJson("PATCH", w1, 200, R"({"spec":{"size":4},"status":{"phase":"x"}})", "application/merge-patch+json");
  EXPECT_EQ(patched.at("metadata").at("generation"), 2);
  EXPECT_EQ(patched.at("status").at("phase"), "Done");

  // The status is validated too.
  json::value bad = CallJson("PATCH", w1 + "/status", 422, R"({"status":{"phase":7}})", "application/merge-patch+json");
  EXPECT_EQ(bad.at("details").at("causes").at(0).at("field"), "status.phase");
}

TEST_F(RuntimeCrdTest, InvalidCustomResourceIsRefusedNamingEachField) {
  CreateWidgetCrd();
  json::value one = CallJson("POST", kWidgets, 422, Widget("w1", R"({"size":20})"));
  EXPECT_EQ(one.at("kind"), "Status");
  EXPECT_EQ(one.at("reason"), "Invalid");
  EXPECT_EQ(one.at("code"), 422);
  EXPECT_EQ(one.at("message"),
            "Widget.example.com \"w1\" is invalid: spec.size: Invalid value: 20: must be at most 10; got 20");
  EXPECT_EQ(one.at("details").at("name"), "w1");
  EXPECT_EQ(one.at("details").at("group"), "example.com");
  EXPECT_EQ(one.at("details").at("kind"), "Widget");
  EXPECT_EQ(one.at("details").at("causes").at(0).at("reason"), "FieldValueInvalid");
  EXPECT_EQ(one.at("details").at("causes").at(0).at("field"), "spec.size");

  json::value two = CallJson("POST", kWidgets, 422, Widget("w2", R"({"color":"green","tags":[1]})"));
  std::string message(two.at("message").as_string());
  EXPECT_TRUE(message.starts_with("Widget.example.com \"w2\" is invalid: [")) << message;
  std::vector<std::string> fields;
  for (const auto& c : two.at("details").at("causes").as_array()) fields.emplace_back(c.at("field").as_string());
  EXPECT_EQ(fields, (std::vector<std::string>{"spec.size", "spec.color", "spec.tags[0]"}));
  EXPECT_EQ(two.at("details").at("causes").at(0).at("reason"), "FieldValueRequired");
  EXPECT_EQ(two.at("details").at("causes").at(1).at("reason"), "FieldValueNotSupported");
  EXPECT_EQ(two.at("details").at("causes").at(1).at("message"),
            "Unsupported value: \"green\": supported values: \"red\", \"blue\"");
  EXPECT_NE(message.find("spec.size: Required value, "), std::string::npos) << message;
  EXPECT_EQ(Call("GET", std::string(kWidgets) + "/w2").status, 404);

  json::value bad_name = CallJson("POST", kWidgets, 422, Widget("Bad_Name", R"({"size":1})"));
  EXPECT_EQ(bad_name.at("details").at("causes").at(0).at("field"), "metadata.name");

  // Updates, patches and server-side apply are validated as well.
  CallJson("POST", kWidgets, 201, Widget("w3", R"({"size":1})"));
  CallJson("PATCH", std::string(kWidgets) + "/w3", 422, R"({"spec":{"size":0}})", "application/merge-patch+json");
  CallJson("PUT", std::string(kWidgets) + "/w3", 422, Widget("w3", R"({"size":"big"})"));
  CallJson("PATCH", std::string(kWidgets) + "/w3?fieldManager=me&force=true", 422,
           "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w3}\nspec: {size: 11}\n",
           "application/apply-patch+yaml");
  CallJson("PATCH", std::string(kWidgets) + "/w4?fieldManager=me", 201,
           "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w4}\nspec: {size: 5}\n",
           "application/apply-patch+yaml");
}

TEST_F(RuntimeCrdTest, UnknownFieldsArePrunedWarnedOrRefusedByFieldValidation) {
  CreateWidgetCrd();
  const std::string body = Widget("w", R"({"size":2,"bogus":1,"extra":{"anything":true}})");
  json::value strict = CallJson("POST", std::string(kWidgets) + "?fieldValidation=Strict", 400, body);
  EXPECT_EQ(strict.at("reason"), "BadRequest");
  EXPECT_EQ(strict.at("message"),
            "Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: unknown field "
            "\"spec.bogus\"");

  HttpResponse warned = Call("POST", std::string(kWidgets) + "?fieldValidation=Warn", body);
  EXPECT_EQ(warned.status, 201) << warned.body;
  EXPECT_EQ(warned.warnings, std::vector<std::string>{"unknown field \"spec.bogus\""});
  json::value stored = json::parse(warned.body);
  EXPECT_FALSE(stored.at("spec").as_object().contains("bogus"));
  EXPECT_EQ(stored.at("spec").at("extra").at("anything"), true);  // x-kubernetes-preserve-unknown-fields

  HttpResponse ignored = Call("PUT", std::string(kWidgets) + "/w?fieldValidation=Ignore", body);
  EXPECT_EQ(ignored.status, 200) << ignored.body;
  EXPECT_TRUE(ignored.warnings.empty());
  HttpResponse defaulted = Call("PUT", std::string(kWidgets) + "/w", body);  // no parameter: Warn
  EXPECT_EQ(defaulted.warnings.size(), 1u);
}

TEST_F(RuntimeCrdTest, ConflictingNamesAreNotAccepted) {
  CreateWidgetCrd();
  json::value gadgets = json::parse(kWidgetCrd);
  gadgets.at("metadata").as_object()["name"] = "gadgets.example.com";
  json::object& names = gadgets.at("spec").at("names").as_object();
  names["plural"] = "gadgets";
  names["singular"] = "gadget";
  names["kind"] = "Gadget";  // shortName "wd" is still the widgets'
  CallJson("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", 201, json::serialize(gadgets));
  json::value crd = CallJson("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com", 200);
  EXPECT_EQ(Condition(crd, "NamesAccepted"), "False");
  EXPECT_EQ(Condition(crd, "Established"), "False");
  EXPECT_EQ(crd.at("status").at("conditions").at(0).at("reason"), "ShortNamesConflict");
  EXPECT_EQ(crd.at("status").at("conditions").at(0).at("message"), "\"wd\" is already in use");
  EXPECT_FALSE(Served("example.com/v1", "gadgets"));
  EXPECT_TRUE(Served("example.com/v1", "widgets"));

  // Fixing the names gets them accepted.
  CallJson("PATCH", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com", 200,
           R"({"spec":{"names":{"shortNames":["gd"]}}})", "application/merge-patch+json");
  crd = CallJson("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com", 200);
  EXPECT_EQ(Condition(crd, "NamesAccepted"), "True");
  EXPECT_TRUE(Served("example.com/v1", "gadgets"));

  // A CRD may not take a built-in's names either.
  json::value pods = json::parse(kWidgetCrd);
  pods.at("metadata").as_object()["name"] = "deployments.apps";
  pods.at("spec").as_object()["group"] = "apps";
  pods.at("spec").at("names").as_object() = json::object{{"plural", "deployments"}, {"kind", "MyDeployment"}};
  CallJson("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", 201, json::serialize(pods));
  EXPECT_EQ(registry_.Find("apps", "v1", "deployments")->kind, "Deployment");
}

TEST_F(RuntimeCrdTest, InvalidCrdIsRefused) {
  json::value crd = json::parse(kWidgetCrd);
  crd.at("metadata").as_object()["name"] = "wrong.example.com";
  crd.at("spec").as_object().erase("scope");
  json::value error =
      CallJson("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", 422, json::serialize(crd));
  EXPECT_EQ(error.at("details").at("kind"), "CustomResourceDefinition");
  std::vector<std::string> fields;
  for (const auto& c : error.at("details").at("causes").as_array()) fields.emplace_back(c.at("field").as_string());
  EXPECT_EQ(fields, (std::vector<std::string>{"metadata.name", "spec.scope"}));
  EXPECT_FALSE(Served("example.com/v1", "widgets"));
}

TEST_F(RuntimeCrdTest, UpdatedCrdChangesWhatIsServed) {
  CreateWidgetCrd();
  json::value crd = json::parse(kWidgetCrd);
  json::object v2 = crd.at("spec").at("versions").at(0).as_object();
  v2["name"] = "v2";
  v2["storage"] = false;
  v2.erase("subresources");
  crd.at("spec").at("versions").as_array().push_back(v2);
  crd.at("spec").at("scope") = "Cluster";
  CallJson("PUT", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", 200,
           json::serialize(crd));
  EXPECT_TRUE(Served("example.com/v2", "widgets"));
  EXPECT_FALSE(Served("example.com/v2", "widgets/status"));
  EXPECT_TRUE(Served("example.com/v1", "widgets/status"));
  EXPECT_EQ(CallJson("GET", "/apis/example.com", 200).at("preferredVersion").at("version"), "v2");
  CallJson("POST", "/apis/example.com/v2/widgets", 201,
           R"({"apiVersion":"example.com/v2","kind":"Widget","metadata":{"name":"c"},"spec":{"size":1}})");
  // Both versions share storage.
  EXPECT_EQ(CallJson("GET", "/apis/example.com/v1/widgets/c", 200).at("apiVersion"), "example.com/v1");
}

TEST_F(RuntimeCrdTest, ScaleSubresource) {
  json::value crd = json::parse(kWidgetCrd);
  json::object& version = crd.at("spec").at("versions").at(0).as_object();
  version["subresources"].as_object()["scale"] =
      json::object{{"specReplicasPath", ".spec.replicas"}, {"statusReplicasPath", ".status.replicas"}};
  version["schema"].at("openAPIV3Schema").at("properties").at("spec").at("properties").as_object()["replicas"] =
      json::object{{"type", "integer"}, {"maximum", 3}};
  CallJson("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", 201, json::serialize(crd));
  EXPECT_TRUE(Served("example.com/v1", "widgets/scale"));
  CallJson("POST", kWidgets, 201, Widget("w", R"({"size":1,"replicas":1})"));
  const std::string scale = std::string(kWidgets) + "/w/scale";
  EXPECT_EQ(CallJson("PATCH", scale, 200, R"({"spec":{"replicas":2}})", "application/merge-patch+json")
                .at("spec")
                .at("replicas"),
            2);
  json::value refused = CallJson("PATCH", scale, 422, R"({"spec":{"replicas":5}})", "application/merge-patch+json");
  EXPECT_EQ(refused.at("details").at("causes").at(0).at("field"), "spec.replicas");
  EXPECT_EQ(CallJson("GET", std::string(kWidgets) + "/w", 200).at("spec").at("replicas"), 2);
}

TEST_F(RuntimeCrdTest, DeletedCrdTakesItsKindAndObjects) {
  CreateWidgetCrd();
  CallJson("POST", kWidgets, 201, Widget("w1", R"({"size":3})"));
  CallJson("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", 200);
  EXPECT_EQ(Call("GET", "/apis/example.com/v1").status, 404);
  EXPECT_EQ(Call("GET", "/apis/example.com").status, 404);
  EXPECT_EQ(Call("GET", kWidgets).status, 404);
  EXPECT_EQ(registry_.Find("example.com", "v1", "widgets"), nullptr);

  CreateWidgetCrd();  // a new CRD of the same name starts empty
  EXPECT_TRUE(CallJson("GET", kWidgets, 200).at("items").as_array().empty());
}

TEST_F(RuntimeCrdTest, TypesHandedOutStayValidAfterTheRegistryChanges) {
  CreateWidgetCrd();
  ResourceTypePtr v1 = registry_.Find("example.com", "v1", "widgets");
  ASSERT_NE(v1, nullptr);
  CallJson("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", 200);
  EXPECT_EQ(v1->kind, "Widget");  // still readable: shared, not owned by the registry alone
}

// The registry changes while requests are served: readers never see a half-changed registry or a dangling
// type (run under -fsanitize=thread to check the locking too).
TEST_F(RuntimeCrdTest, CrdChangesWhileServing) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 30; ++i) {
      Call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", kWidgetCrd);
      Call("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com");
    }
    stop = true;
  });
  int served = 0;
  while (!stop) {
    HttpResponse created = Call("POST", kWidgets, Widget("w", R"({"size":1})"));
    EXPECT_TRUE(created.status == 201 || created.status == 404 || created.status == 409) << created.body;
    served += created.status == 201;
    Call("DELETE", std::string(kWidgets) + "/w");
    EXPECT_EQ(Call("GET", "/apis").status, 200);
    Call("GET", "/apis/example.com/v1");
  }
  writer.join();
  EXPECT_EQ(registry_.Find("example.com", "v1", "widgets"), nullptr);
  EXPECT_TRUE(
      store_.List(*registry_.Find("apiextensions.k8s.io", "v1", "customresourcedefinitions"), "", {})->items.empty());
  (void)served;  // how many creates found the kind depends on scheduling
}

TEST_F(RuntimeCrdTest, SeedCrdGoesThroughTheSamePath) {
  Status s = LoadSeed(store_, registry_,
                      std::string(kWidgetCrd) + "\n---\n" +
                          "{apiVersion: example.com/v1, kind: Widget, metadata: {name: s}, "
                          "spec: {size: 2}}\n",
                      {});
  ASSERT_TRUE(s.ok()) << s.error().message;
  json::value crd = CallJson("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", 200);
  EXPECT_EQ(Condition(crd, "Established"), "True");
  EXPECT_EQ(CallJson("GET", std::string(kWidgets) + "/s", 200).at("spec").at("color"), "blue");
}

TEST_F(RuntimeCrdTest, LeasesRoundTripWithOptimisticConcurrency) {
  const std::string leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
  json::value created =
      CallJson("POST", leases, 201,
               R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"vmesh-hub"},
                   "spec":{"holderIdentity":"hub-0","leaseDurationSeconds":15,
                           "acquireTime":"2026-12-03T13:51:18.123456Z","renewTime":"2026-12-03T13:51:18.123456Z",
                           "leaseTransitions":0}})");
  json::value got = CallJson("GET", leases + "/vmesh-hub", 200);
  EXPECT_EQ(got.at("spec"), created.at("spec"));
  EXPECT_EQ(got.at("spec").at("renewTime"), "2026-12-03T13:51:18.123456Z");
  EXPECT_EQ(got.at("spec").at("leaseDurationSeconds"), 15);
  const std::string rv(got.at("metadata").at("resourceVersion").as_string());

  json::value renewed = got;
  renewed.at("spec").at("renewTime") = "2026-12-03T13:51:20.654321Z";
  json::value updated = CallJson("PUT", leases + "/vmesh-hub", 200, json::serialize(renewed));
  EXPECT_EQ(updated.at("spec").at("renewTime"), "2026-12-03T13:51:20.654321Z");

  // A replica that read the old version loses.
  json::value stale = got;
  stale.at("spec").at("holderIdentity") = "hub-1";
  stale.at("spec").at("leaseTransitions") = 1;
  json::value conflict = CallJson("PUT", leases + "/vmesh-hub", 409, json::serialize(stale));
  EXPECT_EQ(conflict.at("reason"), "Conflict");
  EXPECT_EQ(CallJson("GET", leases + "/vmesh-hub", 200).at("spec").at("holderIdentity"), "hub-0");
  EXPECT_NE(rv, std::string(updated.at("metadata").at("resourceVersion").as_string()));
}

}  // namespace
}  // namespace vmesh::kubesim
