#include "e2e/kubesim/object_store.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

#include "common/base/test_paths.h"
#include "e2e/kubesim/cluster_setup.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

json::object Obj(const std::string& text) { return json::parse(text).as_object(); }

std::string Meta(const ObjectPtr& o, const char* key) {
  const json::value& v = o->at("metadata").at(key);
  return v.is_string() ? std::string(v.get_string()) : json::serialize(v);
}

class ObjectStoreTest : public ::testing::Test {
 protected:
  ObjectStoreTest() : store_(Options()) {
    EXPECT_TRUE(CreateSystemNamespaces(store_).ok());
    configmaps_ = registry_.Find("", "v1", "configmaps");
    deployments_ = registry_.Find("apps", "v1", "deployments");
    namespaces_ = registry_.Find("", "v1", "namespaces");
  }

  static ObjectStore::Options Options() {
    ObjectStore::Options options;
    options.event_log_capacity = 8;
    options.random_seed = 42;
    options.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)); };
    return options;
  }

  ObjectPtr CreateConfigMap(const std::string& ns, const std::string& name, const std::string& labels = "{}") {
    auto created =
        store_.Create(*configmaps_, ns, Obj(R"({"metadata":{"name":")" + name + R"(","labels":)" + labels + "}}"));
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
    return created.ok() ? *created : nullptr;
  }

  ResourceRegistry registry_ = MakeBuiltinRegistry();
  ObjectStore store_;
  ResourceTypePtr configmaps_;
  ResourceTypePtr deployments_;
  ResourceTypePtr namespaces_;
};

TEST_F(ObjectStoreTest, CreateSetsServerMetadata) {
  uint64_t before = store_.resource_version();
  ObjectPtr cm = CreateConfigMap("default", "a");
  EXPECT_EQ(Meta(cm, "namespace"), "default");
  EXPECT_EQ(Meta(cm, "resourceVersion"), std::to_string(before + 1));
  EXPECT_EQ(Meta(cm, "creationTimestamp"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(Meta(cm, "generation"), "1");
  EXPECT_EQ(Meta(cm, "uid").size(), 36u);
  EXPECT_NE(Meta(cm, "uid"), Meta(CreateConfigMap("default", "b"), "uid"));
}

TEST_F(ObjectStoreTest, CreateFailures) {
  CreateConfigMap("default", "a");
  auto again = store_.Create(*configmaps_, "default", Obj(R"({"metadata":{"name":"a"}})"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, 409);
  EXPECT_EQ(again.error().reason, "AlreadyExists");
  EXPECT_EQ(again.error().message, "configmaps \"a\" already exists");

  auto no_ns = store_.Create(*configmaps_, "missing", Obj(R"({"metadata":{"name":"a"}})"));
  ASSERT_FALSE(no_ns.ok());
  EXPECT_EQ(no_ns.error().code, 404);
  EXPECT_EQ(no_ns.error().message, "namespaces \"missing\" not found");

  auto no_name = store_.Create(*configmaps_, "default", Obj(R"({"metadata":{}})"));
  ASSERT_FALSE(no_name.ok());
  EXPECT_EQ(no_name.error().code, 422);
}

TEST_F(ObjectStoreTest, GenerateName) {
  auto created = store_.Create(*configmaps_, "default", Obj(R"({"metadata":{"generateName":"web-"}})"));
  ASSERT_TRUE(created.ok());
  std::string name = Meta(*created, "name");
  EXPECT_EQ(name.size(), 9u);
  EXPECT_EQ(name.substr(0, 4), "web-");
  EXPECT_TRUE(store_.Get(*configmaps_, "default", name).ok());
}

TEST_F(ObjectStoreTest, UpdateChecksResourceVersionAndBumpsGeneration) {
  auto created = store_.Create(*deployments_, "default",
                               Obj(R"({"metadata":{"name":"web"},"spec":{"replicas":1},"status":{"replicas":0}})"));
  ASSERT_TRUE(created.ok());
  std::string rv = Meta(*created, "resourceVersion");

  auto stale = store_.Update(*deployments_, "default", "web",
                             Obj(R"({"metadata":{"name":"web","resourceVersion":"1"},"spec":{"replicas":2}})"));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, 409);
  EXPECT_EQ(stale.error().reason, "Conflict");

  auto labels_only = store_.Update(
      *deployments_, "default", "web",
      Obj(R"({"metadata":{"name":"web","resourceVersion":")" + rv + R"(","labels":{"a":"b"}},"spec":{"replicas":1}})"));
  ASSERT_TRUE(labels_only.ok());
  EXPECT_EQ(Meta(*labels_only, "generation"), "1");
  EXPECT_EQ((*labels_only)->at("status").at("replicas"), 0);  // the main resource cannot change status
  EXPECT_EQ(Meta(*labels_only, "uid"), Meta(*created, "uid"));

  auto scaled =
      store_.Update(*deployments_, "default", "web", Obj(R"({"metadata":{"name":"web"},"spec":{"replicas":3}})"));
  ASSERT_TRUE(scaled.ok());
  EXPECT_EQ(Meta(*scaled, "generation"), "2");
  EXPECT_FALSE((*scaled)->at("metadata").as_object().contains("labels"));

  auto status = store_.Update(*deployments_, "default", "web",
                              Obj(R"({"metadata":{"name":"web"},"spec":{"replicas":9},"status":{"replicas":3}})"),
                              UpdateScope::kStatus);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)->at("status").at("replicas"), 3);
  EXPECT_EQ((*status)->at("spec").at("replicas"), 3);  // status updates leave spec alone
  EXPECT_EQ(Meta(*status, "generation"), "2");
}

TEST_F(ObjectStoreTest, NoOpUpdateKeepsResourceVersion) {
  ObjectPtr cm = CreateConfigMap("default", "a", R"({"x":"y"})");
  uint64_t rv = store_.resource_version();
  auto same = store_.Update(*configmaps_, "default", "a", *cm);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(Meta(*same, "resourceVersion"), Meta(cm, "resourceVersion"));
  EXPECT_EQ(store_.resource_version(), rv);
}

TEST_F(ObjectStoreTest, MutateAppliesUnderLock) {
  CreateConfigMap("default", "a");
  auto mutated = store_.Mutate(*configmaps_, "default", "a", [](const json::object& current) {
    json::object next = current;
    next["data"] = json::object{{"k", "v"}};
    return ApiResult<json::object>(next);
  });
  ASSERT_TRUE(mutated.ok());
  EXPECT_EQ((*mutated)->at("data").at("k"), "v");
  auto missing = store_.Mutate(*configmaps_, "default", "b", [](const json::object& c) { return ApiResult(c); });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, 404);
}

TEST_F(ObjectStoreTest, ListFiltersAndPages) {
  ASSERT_TRUE(store_.Create(*namespaces_, "", Obj(R"({"metadata":{"name":"other"}})")).ok());
  CreateConfigMap("default", "c", R"({"app":"web"})");
  CreateConfigMap("default", "a", R"({"app":"web"})");
  CreateConfigMap("default", "b", R"({"app":"db"})");
  CreateConfigMap("other", "d", R"({"app":"web"})");

  ListOptions web;
  web.labels = *LabelSelector::Parse("app=web");
  auto all_web = store_.List(*configmaps_, "", web);
  ASSERT_TRUE(all_web.ok());
  std::vector<std::string> names;
  for (const auto& item : all_web->items) names.push_back(Meta(item, "name"));
  EXPECT_EQ(names, (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_EQ(all_web->resource_version, store_.resource_version());

  auto in_default = store_.List(*configmaps_, "default", web);
  ASSERT_TRUE(in_default.ok());
  EXPECT_EQ(in_default->items.size(), 2u);

  ListOptions by_name;
  by_name.fields = *FieldSelector::Parse("metadata.name=b");
  EXPECT_EQ(store_.List(*configmaps_, "", by_name)->items.size(), 1u);

  ListOptions paged;
  paged.limit = 3;
  auto page1 = store_.List(*configmaps_, "", paged);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->items.size(), 3u);
  EXPECT_FALSE(page1->continue_token.empty());
  EXPECT_EQ(page1->remaining_item_count, 1u);
  paged.continue_token = page1->continue_token;
  auto page2 = store_.List(*configmaps_, "", paged);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->items.size(), 1u);
  EXPECT_EQ(Meta(page2->items[0], "name"), "d");
  EXPECT_TRUE(page2->continue_token.empty());
  EXPECT_EQ(page2->resource_version, page1->resource_version);

  paged.continue_token = "not-a-token!";
  auto bad = store_.List(*configmaps_, "", paged);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, 400);
}

TEST_F(ObjectStoreTest, DeleteAndNamespaceCascade) {
  ASSERT_TRUE(store_.Create(*namespaces_, "", Obj(R"({"metadata":{"name":"team"}})")).ok());
  CreateConfigMap("team", "a");
  CreateConfigMap("default", "a");
  auto deleted = store_.Delete(*namespaces_, "", "team");
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(store_.Get(*configmaps_, "team", "a").ok());
  EXPECT_TRUE(store_.Get(*configmaps_, "default", "a").ok());

  DeletePreconditions wrong_uid;
  wrong_uid.uid = "nope";
  auto refused = store_.Delete(*configmaps_, "default", "a", wrong_uid);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, 409);
  ASSERT_TRUE(store_.Delete(*configmaps_, "default", "a").ok());
  auto gone = store_.Delete(*configmaps_, "default", "a");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, 404);
}

TEST_F(ObjectStoreTest, NamespaceDefaults) {
  auto ns = store_.Get(*namespaces_, "", "default");
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ((*ns)->at("status").at("phase"), "Active");
  EXPECT_EQ((*ns)->at("metadata").at("labels").at("kubernetes.io/metadata.name"), "default");
  EXPECT_FALSE((*ns)->at("metadata").as_object().contains("namespace"));
}

TEST_F(ObjectStoreTest, ServicesGetAddresses) {
  const ResourceType& services = *registry_.Find("", "v1", "services");
  auto a = store_.Create(services, "default", Obj(R"({"metadata":{"name":"a"},"spec":{"ports":[{"port":80}]}})"));
  auto b = store_.Create(services, "default",
                         Obj(R"({"metadata":{"name":"b"},"spec":{"type":"LoadBalancer","ports":[{"port":443}]}})"));
  auto headless = store_.Create(services, "default", Obj(R"({"metadata":{"name":"h"},"spec":{"clusterIP":"None"}})"));
  auto external = store_.Create(
      services, "default", Obj(R"({"metadata":{"name":"e"},"spec":{"type":"ExternalName","externalName":"x.io"}})"));
  ASSERT_TRUE(a.ok() && b.ok() && headless.ok() && external.ok());
  EXPECT_EQ((*a)->at("spec").at("clusterIP"), "10.96.0.2");
  EXPECT_EQ((*a)->at("spec").at("clusterIPs"), json::parse(R"(["10.96.0.2"])"));
  EXPECT_FALSE((*a)->at("spec").at("ports").at(0).as_object().contains("nodePort"));
  EXPECT_EQ((*b)->at("spec").at("clusterIP"), "10.96.0.3");
  EXPECT_EQ((*b)->at("spec").at("ports").at(0).at("nodePort"), 30000);
  EXPECT_EQ((*headless)->at("spec").at("clusterIP"), "None");
  EXPECT_FALSE((*external)->at("spec").as_object().contains("clusterIP"));
}

TEST_F(ObjectStoreTest, EventsSinceReplaysAndExpires) {
  uint64_t start = store_.resource_version();
  ObjectPtr a = CreateConfigMap("default", "a");
  ASSERT_TRUE(store_.Update(*configmaps_, "default", "a", Obj(R"({"data":{"k":"v"}})")).ok());
  ASSERT_TRUE(store_.Delete(*configmaps_, "default", "a").ok());

  auto batch = store_.EventsSince(*configmaps_, "default", start);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->events.size(), 3u);
  EXPECT_EQ(batch->events[0].type, EventType::kAdded);
  EXPECT_EQ(batch->events[1].type, EventType::kModified);
  EXPECT_EQ(batch->events[2].type, EventType::kDeleted);
  EXPECT_EQ(batch->events[2].resource_version, start + 3);
  EXPECT_EQ(Meta(batch->events[2].object, "resourceVersion"), std::to_string(start + 3));
  EXPECT_EQ(batch->through, start + 3);
  EXPECT_TRUE(store_.EventsSince(*configmaps_, "other", start)->events.empty());
  EXPECT_TRUE(store_.EventsSince(*deployments_, "", start)->events.empty());

  // The log holds 8 changes: push the early ones out.
  for (int i = 0; i < 8; ++i) CreateConfigMap("default", "n" + std::to_string(i));
  auto expired = store_.EventsSince(*configmaps_, "", start);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, 410);
  EXPECT_EQ(expired.error().reason, "Expired");
  EXPECT_TRUE(store_.EventsSince(*configmaps_, "", store_.resource_version() - 8).ok());
}

// resourceVersionMatch=Exact and continue tokens: the state at that version, rebuilt from the change log.
TEST_F(ObjectStoreTest, ListAtAnExactVersionAndConsistentPages) {
  CreateConfigMap("default", "a", R"({"v":"1"})");
  CreateConfigMap("default", "b");
  const uint64_t before = store_.resource_version();
  ASSERT_TRUE(store_.Update(*configmaps_, "default", "a", Obj(R"({"metadata":{"name":"a","labels":{"v":"2"}}})")).ok());
  ASSERT_TRUE(store_.Delete(*configmaps_, "default", "b").ok());
  CreateConfigMap("default", "c");

  ListOptions exact;
  exact.exact_resource_version = before;
  auto then = store_.List(*configmaps_, "default", exact);
  ASSERT_TRUE(then.ok()) << then.error().message;
  ASSERT_EQ(then->items.size(), 2u);
  EXPECT_EQ(Meta(then->items[0], "name"), "a");
  EXPECT_EQ(then->items[0]->at("metadata").at("labels").at("v"), "1");
  EXPECT_EQ(Meta(then->items[1], "name"), "b");
  EXPECT_EQ(then->resource_version, before);

  // A page after the first shows the first page's state, not objects created in between.
  ListOptions paged;
  paged.limit = 1;
  auto page1 = store_.List(*configmaps_, "default", paged);
  ASSERT_TRUE(page1.ok());
  EXPECT_EQ(page1->remaining_item_count, 1u);
  CreateConfigMap("default", "d");
  paged.continue_token = page1->continue_token;
  auto page2 = store_.List(*configmaps_, "default", paged);
  ASSERT_TRUE(page2.ok()) << page2.error().message;
  ASSERT_EQ(page2->items.size(), 1u);
  EXPECT_EQ(Meta(page2->items[0], "name"), "c");
  EXPECT_TRUE(page2->continue_token.empty());

  exact.exact_resource_version = store_.resource_version() + 5;
  EXPECT_EQ(store_.List(*configmaps_, "default", exact).error().code, 504);
  // The log holds 8 changes: once `before` has left it, neither the version nor the token is served.
  for (int i = 0; i < 8; ++i) CreateConfigMap("default", "n" + std::to_string(i));
  exact.exact_resource_version = before;
  auto gone = store_.List(*configmaps_, "default", exact);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, 410);
  EXPECT_EQ(gone.error().message, "The resourceVersion for the provided list is too old.");
  EXPECT_EQ(store_.List(*configmaps_, "default", paged).error().code, 410);
}

// --event-log-window-seconds: changes older than the window leave the log whatever its capacity.
TEST(ObjectStoreWindowTest, OldChangesLeaveTheLog) {
  auto now = std::make_shared<std::chrono::system_clock::time_point>(std::chrono::seconds(1767225600));
  ObjectStore::Options options;
  options.event_log_capacity = 1000;
  options.event_log_window = std::chrono::seconds(60);
  options.clock = [now] { return *now; };
  ObjectStore store(options);
  ASSERT_TRUE(CreateSystemNamespaces(store).ok());
  ResourceRegistry registry = MakeBuiltinRegistry();
  const ResourceType& configmaps = *registry.Find("", "v1", "configmaps");
  const uint64_t start = store.resource_version();
  ASSERT_TRUE(store.Create(configmaps, "default", Obj(R"({"metadata":{"name":"a"}})")).ok());
  *now += std::chrono::seconds(59);
  ASSERT_TRUE(store.EventsSince(configmaps, "", start).ok());  // still inside the window
  *now += std::chrono::seconds(2);
  auto expired = store.EventsSince(configmaps, "", start);  // no write since: the read notices the age
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, 410);
  // Watching from the newest version still works: nothing after it is missing.
  EXPECT_TRUE(store.EventsSince(configmaps, "", store.resource_version()).ok());
  ASSERT_TRUE(store.Create(configmaps, "default", Obj(R"({"metadata":{"name":"b"}})")).ok());
  EXPECT_EQ(store.EventsSince(configmaps, "", start).error().code, 410);
  EXPECT_EQ(store.EventsSince(configmaps, "", store.resource_version() - 1)->events.size(), 1u);
}

TEST_F(ObjectStoreTest, ListenersRunAfterChanges) {
  int calls = 0;
  int id = store_.AddChangeListener([&] { ++calls; });
  CreateConfigMap("default", "a");
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(store_.Create(*configmaps_, "default", Obj(R"({"metadata":{"name":"a"}})")).ok());
  EXPECT_EQ(calls, 1);  // failed writes change nothing
  store_.RemoveChangeListener(id);
  CreateConfigMap("default", "b");
  EXPECT_EQ(calls, 1);
}

TEST(SeedTest, LoadsDocumentsWithPlaceholders) {
  ResourceRegistry registry = MakeBuiltinRegistry();
  ObjectStore store;
  ASSERT_TRUE(CreateSystemNamespaces(store).ok());
  const char* seed = R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-info
  namespace: istio-system
data:
  name: ${CLUSTER_NAME}
  port: "15443"
  replicas: 3
  enabled: true
  untouched: ${OTHER}
---
apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
  labels: {topology.istio.io/network: ${CLUSTER_NAME}-net}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: gw, namespace: istio-system}
  status: {loadBalancer: {ingress: [{ip: 172.18.0.1}]}}
)";
  Status s = LoadSeed(store, registry, seed, {{"CLUSTER_NAME", "east"}});
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto cm = store.Get(*registry.Find("", "v1", "configmaps"), "istio-system", "cluster-info");
  ASSERT_TRUE(cm.ok());
  const json::value& data = (*cm)->at("data");
  EXPECT_EQ(data.at("name"), "east");
  EXPECT_EQ(data.at("port"), "15443");
  EXPECT_EQ(data.at("replicas"), 3);
  EXPECT_EQ(data.at("enabled"), true);
  EXPECT_EQ(data.at("untouched"), "${OTHER}");
  auto ns = store.Get(*registry.Find("", "v1", "namespaces"), "", "istio-system");
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ((*ns)->at("metadata").at("labels").at("topology.istio.io/network"), "east-net");
  auto svc = store.Get(*registry.Find("", "v1", "services"), "istio-system", "gw");
  ASSERT_TRUE(svc.ok());
  EXPECT_EQ((*svc)->at("status").at("loadBalancer").at("ingress").at(0).at("ip"), "172.18.0.1");

  Status unknown = LoadSeed(store, registry, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "document 1: unknown kind Widget in example.com/v1");
}

TEST(CustomResourcesTest, RegistersEveryServedVersion) {
  ResourceRegistry registry = MakeBuiltinRegistry();
  Status s = RegisterCustomResources(registry, R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd], categories: [all]}
  versions:
  - {name: v1alpha1, served: true, storage: false}
  - {name: v1beta1, served: true, storage: false}
  - {name: v1, served: true, storage: true, subresources: {status: {}}}
  - {name: v2alpha1, served: false, storage: false}
)");
  ASSERT_TRUE(s.ok()) << s.error().message;
  ResourceTypePtr v1 = registry.Find("example.com", "v1", "widgets");
  ASSERT_NE(v1, nullptr);
  EXPECT_EQ(v1->kind, "Widget");
  EXPECT_FALSE(v1->namespaced);
  EXPECT_TRUE(v1->has_status);
  EXPECT_FALSE(v1->builtin);
  EXPECT_EQ(v1->short_names, std::vector<std::string>{"wd"});
  EXPECT_FALSE(registry.Find("example.com", "v1beta1", "widgets")->has_status);
  EXPECT_EQ(registry.Find("example.com", "v2alpha1", "widgets"), nullptr);
  EXPECT_EQ(registry.Versions("example.com"), (std::vector<std::string>{"v1", "v1beta1", "v1alpha1"}));

  EXPECT_FALSE(RegisterCustomResources(registry, "apiVersion: v1\nkind: ConfigMap\n").ok());
}

TEST(CustomResourcesTest, VendoredIstioCrds) {
  std::ifstream in(testpaths::IstioCrdsFile());
  ASSERT_TRUE(in) << "cannot read " << testpaths::IstioCrdsFile();
  std::stringstream text;
  text << in.rdbuf();
  ResourceRegistry registry = MakeBuiltinRegistry();
  Status s = RegisterCustomResources(registry, text.str());
  ASSERT_TRUE(s.ok()) << s.error().message;
  for (const char* resource : {"virtualservices", "destinationrules", "serviceentries", "gateways"}) {
    EXPECT_NE(registry.Find("networking.istio.io", "v1", resource), nullptr) << resource;
    EXPECT_NE(registry.Find("networking.istio.io", "v1beta1", resource), nullptr) << resource;
  }
  EXPECT_NE(registry.Find("security.istio.io", "v1", "peerauthentications"), nullptr);
  const auto& columns = registry.Find("networking.istio.io", "v1", "virtualservices")->printer_columns;
  ASSERT_EQ(columns.size(), 3u);
  EXPECT_EQ(columns[1].name, "Hosts");
  EXPECT_EQ(columns[1].json_path, ".spec.hosts");
  EXPECT_EQ(registry.Versions("networking.istio.io").front(), "v1");
}

}  // namespace
}  // namespace vmesh::kubesim
