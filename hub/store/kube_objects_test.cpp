#include "hub/store/kube_objects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "common/api/manifest.h"
#include "common/api/secret.h"
#include "common/base/base64.h"
#include "common/kube/fake_client.h"
#include "common/kube/run_task.h"
#include "common/pki/aead.h"
#include "hub/api/object_service.h"
#include "hub/store/memory_store.h"

namespace vmesh::hub {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// A kind as the generated CRDs (another branch) declare it where it matters here: namespaced, v1, with the status
// subresource; the schema keeps whatever the hub writes.
std::string Crd(const std::string& plural, const std::string& kind) {
  std::string singular = kind;
  for (char& c : singular) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: )" +
         plural + R"(.networking.vmesh.dev}
spec:
  group: networking.vmesh.dev
  scope: Namespaced
  names: {plural: )" +
         plural + ", singular: " + singular + ", kind: " + kind + R"(}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
)";
}

const std::string kCrds = Crd("virtualmeshes", "VirtualMesh") + "---\n" + Crd("accesspolicies", "AccessPolicy");

constexpr char kNamespaces[] = R"(apiVersion: v1
kind: Namespace
metadata: {name: vmesh}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
)";

// The serialized object of a one-document manifest (as ObjectService stores it).
std::string Body(const std::string& manifest) {
  auto decoded = api::DecodeManifests(manifest);
  EXPECT_TRUE(decoded.ok()) << api::JoinErrors(decoded.errors);
  if (!decoded.ok()) return "";
  return SerializeDeterministic(api::AsMessage(decoded.objects.at(0).object));
}

StoredObject Vm(const std::string& name, const std::string& federation = "permissive: {}",
                const std::string& ns = "vmesh") {
  StoredObject o;
  o.kind = "VirtualMesh";
  o.ns = ns;
  o.name = name;
  o.body =
      Body("apiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: {name: " + name + ", namespace: " + ns +
           "}\nspec:\n  meshes: [{name: istiod-istio-system-c1}]\n  federation: {" + federation + "}\n");
  return o;
}

StoredObject SecretObject(const std::string& name, const std::string& value, const std::string& ns = "vmesh",
                          const std::string& labels = "{}") {
  StoredObject o;
  o.kind = "Secret";
  o.ns = ns;
  o.name = name;
  o.body = Body("apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: " + ns +
                ", labels: " + labels + "}\ntype: Opaque\ndata: {value: " + Base64Encode(value) + "}\n");
  return o;
}

api::v1::VirtualMesh ParseVm(const StoredObject& o) {
  api::v1::VirtualMesh vm;
  EXPECT_TRUE(vm.ParseFromString(o.body));
  return vm;
}

std::string StatusBytes(api::v1::ApprovalState state, std::int64_t observed) {
  api::v1::VirtualMeshStatus s;
  s.set_state(state);
  s.set_observed_generation(observed);
  return SerializeDeterministic(s);
}

class KubeObjectTableTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(kube::FakeKubeClientOptions{.crds_yaml = {kCrds}}); }

  void Open(kube::FakeKubeClientOptions options) {
    auto client = kube::MakeFakeKubeClient(std::move(options));
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = std::move(*client);
    ASSERT_TRUE(client_->Seed(kNamespaces).ok());
    table_ = MakeKubeObjectTable(*client_, "vmesh");
    table_->SetChangeListener([this] { ++notified_; });
    Status started = table_->Start();
    ASSERT_TRUE(started.ok()) << started.error().message;
  }

  void TearDown() override {
    table_.reset();
    client_.reset();
  }

  // A request as kubectl would make it: straight to the API server, not through the table.
  kube::ApiResponse Kubectl(const std::string& method, const std::string& target, const json::value& body = nullptr) {
    auto r = kube::RunTask(client_->Request(method, target, body.is_null() ? "" : json::serialize(body)));
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : kube::ApiResponse{};
  }
  static std::string VmPath(const std::string& name = "", const std::string& ns = "vmesh") {
    return kube::ResourcePath("networking.vmesh.dev/v1", "virtualmeshes", ns, name);
  }
  static std::string SecretPath(const std::string& name = "", const std::string& ns = "vmesh") {
    return kube::ResourcePath("v1", "secrets", ns, name);
  }
  static json::value KubectlVm(const std::string& name, const std::string& ns = "vmesh") {
    return json::parse(R"({"apiVersion": "networking.vmesh.dev/v1", "kind": "VirtualMesh",
      "metadata": {"name": ")" +
                       name + R"(", "namespace": ")" + ns + R"(",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
      "spec": {"meshes": [{"name": "istiod-istio-system-c1"}], "federation": {"permissive": {}}}})");
  }

  // Polls until `done` holds: the table's watch applies others' changes on its own thread.
  static bool Eventually(const std::function<bool()>& done) {
    for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
      if (done()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return done();
  }
  bool Cached(const std::string& kind, const std::string& ns, const std::string& name) {
    auto got = table_->GetObject(kind, ns, name);
    return got.ok() && got->has_value();
  }
  // A kubectl write the watch must deliver after every earlier change: once the table has it, every earlier event
  // has been handled too (a watch is ordered), and the listener has been called for it.
  void Marker(const std::string& name) {
    const int before = notified_;
    ASSERT_EQ(Kubectl("POST", VmPath(), KubectlVm(name)).status, 201);
    // (The listener runs just after the cache changed.)
    ASSERT_TRUE(Eventually([&] { return Cached("VirtualMesh", "vmesh", name) && notified_ > before; }));
  }

  kube::FakeKubeClientPtr client_;
  std::unique_ptr<KubeObjectTable> table_;
  std::atomic<int> notified_{0};
};

TEST_F(KubeObjectTableTest, PutGetListDeleteRoundTrip) {
  auto created = table_->PutObject(Vm("vm1"), 0);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->generation, 1);
  EXPECT_EQ(created->uid.size(), 36u);
  EXPECT_FALSE(created->creation_timestamp.empty());
  EXPECT_GT(created->resource_version, 0);
  // The body's metadata is the API server's too.
  api::v1::VirtualMesh vm = ParseVm(*created);
  EXPECT_EQ(vm.metadata().uid(), created->uid);
  EXPECT_EQ(vm.metadata().generation(), 1);
  EXPECT_EQ(vm.metadata().creation_timestamp(), created->creation_timestamp);
  EXPECT_EQ(vm.spec().meshes(0).name(), "istiod-istio-system-c1");

  // Read your writes: no waiting for the watch.
  auto got = table_->GetObject("VirtualMesh", "vmesh", "vm1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->resource_version, created->resource_version);
  EXPECT_EQ((*got)->body, created->body);
  ASSERT_TRUE(table_->PutObject(Vm("vm0", "permissive: {}", "team-a"), 0).ok());
  auto listed = table_->ListObjects("VirtualMesh");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].ns, "team-a") << "ordered by namespace and name";
  EXPECT_EQ((*listed)[1].name, "vm1");

  // In the API server in the proto3 JSON form.
  auto server = Kubectl("GET", VmPath("vm1"));
  ASSERT_EQ(server.status, 200);
  EXPECT_EQ(server.body.at("spec").at("meshes").at(0).at("name"), "istiod-istio-system-c1");
  EXPECT_TRUE(server.body.at("spec").at("federation").at("permissive").is_object());

  auto deleted = table_->DeleteObject("VirtualMesh", "vmesh", "vm1");
  ASSERT_TRUE(deleted.ok() && *deleted);
  EXPECT_FALSE(Cached("VirtualMesh", "vmesh", "vm1")) << "gone at once";
  EXPECT_EQ(Kubectl("GET", VmPath("vm1")).status, 404);
  EXPECT_FALSE(*table_->DeleteObject("VirtualMesh", "vmesh", "vm1"));
  Marker("marker");
  EXPECT_FALSE(Cached("VirtualMesh", "vmesh", "vm1")) << "the watch's events did not bring it back";
  EXPECT_EQ(table_->ListObjects("VirtualMesh")->size(), 2u);  // vm0 and the marker
}

TEST_F(KubeObjectTableTest, OptimisticConcurrency) {
  auto created = table_->PutObject(Vm("vm1"), 0);
  ASSERT_TRUE(created.ok());
  auto again = table_->PutObject(Vm("vm1"), 0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_THAT(again.error().message, StartsWith(kConflict));

  auto updated = table_->PutObject(Vm("vm1", "flatNetwork: true"), created->resource_version);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_GT(updated->resource_version, created->resource_version);
  EXPECT_EQ(updated->generation, 2);

  auto stale = table_->PutObject(Vm("vm1", "permissive: {}"), created->resource_version);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_THAT(stale.error().message, StartsWith(kConflict));
  EXPECT_TRUE(ParseVm(**table_->GetObject("VirtualMesh", "vmesh", "vm1")).spec().federation().flat_network());

  // Changed by kubectl meanwhile: the version the caller read is stale, even though the cache may not know yet.
  json::value edited = Kubectl("GET", VmPath("vm1")).body;
  edited.at("metadata").as_object()["labels"] = json::object{{"team", "a"}};
  ASSERT_EQ(Kubectl("PUT", VmPath("vm1"), edited).status, 200);
  auto raced = table_->PutObject(Vm("vm1", "permissive: {}"), updated->resource_version);
  ASSERT_FALSE(raced.ok());
  EXPECT_EQ(raced.error().code, ErrorCode::kConflict);

  // Without an expected version: created or updated, whatever is there.
  auto forced = table_->PutObject(Vm("vm1", "permissive: {}"), std::nullopt);
  ASSERT_TRUE(forced.ok()) << forced.error().message;
  EXPECT_EQ(forced->generation, 3);
  EXPECT_TRUE(table_->PutObject(Vm("vm2"), std::nullopt).ok());
  auto missing = table_->PutObject(Vm("vm3"), 42);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kConflict);
}

TEST_F(KubeObjectTableTest, StatusGoesThroughTheSubresourceAndOnlySpecChangesBumpTheGeneration) {
  auto created = table_->PutObject(Vm("vm1"), 0);
  ASSERT_TRUE(created.ok());
  StoredObject with_status = *created;
  with_status.status = StatusBytes(api::v1::ACCEPTED, 1);
  with_status.last_good = SerializeDeterministic(ParseVm(*created).spec());
  with_status.last_good_generation = 1;
  auto written = table_->PutObject(with_status, created->resource_version);
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(written->generation, 1) << "status and annotations are not the spec";
  EXPECT_GT(written->resource_version, created->resource_version);
  EXPECT_EQ(written->status, with_status.status);
  EXPECT_EQ(written->last_good, with_status.last_good);
  EXPECT_EQ(written->last_good_generation, 1);
  EXPECT_EQ(ParseVm(*written).metadata().annotations_size(), 0) << "last-good annotations stay out of the body";

  auto server = Kubectl("GET", VmPath("vm1"));
  EXPECT_EQ(server.body.at("status").at("state"), "ACCEPTED");
  EXPECT_EQ(server.body.at("metadata").at("generation"), 1);
  const auto& annotations = server.body.at("metadata").at("annotations");
  EXPECT_EQ(annotations.at(kLastGoodGenerationAnnotation), "1");
  EXPECT_EQ(json::parse(annotations.at(kLastGoodSpecAnnotation).as_string()).at("meshes").at(0).at("name"),
            "istiod-istio-system-c1");

  // The same again writes nothing.
  auto same = table_->PutObject(*written, written->resource_version);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->resource_version, written->resource_version);

  // A spec change bumps the generation and keeps the status and the last-good spec.
  StoredObject changed = Vm("vm1", "flatNetwork: true");
  changed.status = written->status;
  changed.last_good = written->last_good;
  changed.last_good_generation = 1;
  auto configured = table_->PutObject(changed, written->resource_version);
  ASSERT_TRUE(configured.ok()) << configured.error().message;
  EXPECT_EQ(configured->generation, 2);
  EXPECT_EQ(configured->status, with_status.status);
  EXPECT_EQ(configured->last_good_generation, 1);
  EXPECT_EQ(Kubectl("GET", VmPath("vm1")).body.at("status").at("state"), "ACCEPTED");
}

TEST_F(KubeObjectTableTest, KubectlChangesReachTheListenerAndOwnWritesDoNot) {
  auto created = table_->PutObject(Vm("vm1"), 0);
  ASSERT_TRUE(created.ok());
  StoredObject with_status = *created;
  with_status.status = StatusBytes(api::v1::ACCEPTED, 1);
  auto written = table_->PutObject(with_status, created->resource_version);
  ASSERT_TRUE(written.ok());
  ASSERT_TRUE(table_->DeleteObject("VirtualMesh", "vmesh", "vm1").ok());
  ASSERT_TRUE(table_->PutObject(SecretObject("s1", "x"), 0).ok());
  Marker("applied-by-kubectl");
  EXPECT_EQ(notified_, 1) << "only the kubectl object, none of the table's own writes";

  // The object kubectl created reads like the hub's: the API server's uid and generation, no last-good spec.
  auto got = table_->GetObject("VirtualMesh", "vmesh", "applied-by-kubectl");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->generation, 1);
  EXPECT_EQ((*got)->uid.size(), 36u);
  EXPECT_FALSE((*got)->last_good);
  EXPECT_TRUE((*got)->status.empty());
  EXPECT_EQ(ParseVm(**got).metadata().annotations().at("kubectl.kubernetes.io/last-applied-configuration"), "{}");

  // The hub's status write on it does not notify; kubectl's edits, status writes and deletions do.
  StoredObject status = **got;
  status.status = StatusBytes(api::v1::ACCEPTED, 1);
  status.last_good = SerializeDeterministic(ParseVm(**got).spec());
  status.last_good_generation = 1;
  auto hub_status = table_->PutObject(status, (*got)->resource_version);
  ASSERT_TRUE(hub_status.ok()) << hub_status.error().message;
  EXPECT_EQ(hub_status->generation, 1);
  EXPECT_EQ(Kubectl("GET", VmPath("applied-by-kubectl"))
                .body.at("metadata")
                .at("annotations")
                .at("kubectl.kubernetes.io/last-applied-configuration"),
            "{}")
      << "annotations of others are kept";
  Marker("m1");
  EXPECT_EQ(notified_, 2);

  json::value edited = Kubectl("GET", VmPath("applied-by-kubectl")).body;
  edited.at("spec").as_object()["federation"] = json::object{{"flatNetwork", true}};
  ASSERT_EQ(Kubectl("PUT", VmPath("applied-by-kubectl"), edited).status, 200);
  ASSERT_TRUE(Eventually([&] {
    auto vm = table_->GetObject("VirtualMesh", "vmesh", "applied-by-kubectl");
    return vm.ok() && vm->has_value() && (*vm)->generation == 2;
  }));
  EXPECT_TRUE(Eventually([&] { return notified_ >= 3; }));
  EXPECT_EQ(notified_, 3);
  auto after_edit = **table_->GetObject("VirtualMesh", "vmesh", "applied-by-kubectl");
  EXPECT_EQ(after_edit.status, status.status) << "kubectl's edit kept the status";
  EXPECT_EQ(after_edit.last_good_generation, 1);

  ASSERT_EQ(Kubectl("DELETE", VmPath("applied-by-kubectl")).status, 200);
  ASSERT_TRUE(Eventually([&] { return !Cached("VirtualMesh", "vmesh", "applied-by-kubectl"); }));
  EXPECT_TRUE(Eventually([&] { return notified_ >= 4; }));
  EXPECT_EQ(notified_, 4);
}

TEST_F(KubeObjectTableTest, WatchReconnectAndExpiryKeepTheCacheRight) {
  ASSERT_TRUE(table_->PutObject(Vm("keep"), 0).ok());
  ASSERT_TRUE(table_->PutObject(Vm("doomed"), 0).ok());

  // A dropped watch resumes where it stopped.
  client_->CloseWatches();
  ASSERT_EQ(Kubectl("POST", VmPath(), KubectlVm("while-disconnected")).status, 201);
  ASSERT_TRUE(Eventually([&] { return Cached("VirtualMesh", "vmesh", "while-disconnected"); }));

  // An expired version (410) lists again: what changed meanwhile, deletions included, is right afterwards.
  ASSERT_EQ(Kubectl("POST", "/kubesim/faults", json::parse(R"({"expireNextWatch": true})")).status, 200);
  client_->CloseWatches();
  ASSERT_EQ(Kubectl("DELETE", VmPath("doomed")).status, 200);
  ASSERT_EQ(Kubectl("POST", VmPath(), KubectlVm("after-expiry")).status, 201);
  ASSERT_TRUE(Eventually([&] { return Cached("VirtualMesh", "vmesh", "after-expiry"); }));
  EXPECT_TRUE(Eventually([&] { return !Cached("VirtualMesh", "vmesh", "doomed"); }));
  EXPECT_TRUE(Cached("VirtualMesh", "vmesh", "keep"));
  EXPECT_TRUE(Eventually([&] { return notified_ >= 2; })) << "the disconnected change, and the relist's";

  // A change by kubectl and one of the table right after it: whatever order the watch delivers them in, the
  // cache never goes back to the older one. (The first rounds drop the watch, so that it lags further behind; each
  // drop doubles the informer's backoff, so not every round.)
  for (int i = 0; i < 6; ++i) {
    if (i < 3) client_->CloseWatches();
    json::value edited = Kubectl("GET", VmPath("keep")).body;
    edited.at("metadata").as_object()["labels"] = json::object{{"round", std::to_string(i)}};
    ASSERT_EQ(Kubectl("PUT", VmPath("keep"), edited).status, 200);
    auto mine = table_->PutObject(Vm("keep", i % 2 ? "flatNetwork: true" : "permissive: {}"), std::nullopt);
    ASSERT_TRUE(mine.ok()) << mine.error().message;
    const std::string marker = "marker-" + std::to_string(i);
    ASSERT_EQ(Kubectl("POST", VmPath(), KubectlVm(marker)).status, 201);
    for (int polls = 0; !Cached("VirtualMesh", "vmesh", marker); ++polls) {
      ASSERT_LT(polls, 4000);
      ASSERT_EQ((**table_->GetObject("VirtualMesh", "vmesh", "keep")).resource_version, mine->resource_version);
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ((**table_->GetObject("VirtualMesh", "vmesh", "keep")).resource_version, mine->resource_version);
  }
}

TEST_F(KubeObjectTableTest, SecretsRoundTripAndInternalSecretsStayHidden) {
  auto created = table_->PutObject(SecretObject("root", "pem bytes"), 0);
  ASSERT_TRUE(created.ok()) << created.error().message;
  api::v1::Secret secret;
  ASSERT_TRUE(secret.ParseFromString(created->body));
  EXPECT_EQ(secret.data().at("value"), "pem bytes");
  EXPECT_EQ(secret.type(), "Opaque");
  EXPECT_EQ(secret.metadata().labels_size(), 0) << "the table's label is not the user's";
  auto server = Kubectl("GET", SecretPath("root"));
  EXPECT_EQ(server.body.at("data").at("value").as_string(), Base64Encode("pem bytes"));
  EXPECT_EQ(server.body.at("metadata").at("labels").at(kSecretApiObjectLabel), "true");
  auto updated = table_->PutObject(SecretObject("root", "other bytes"), created->resource_version);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  ASSERT_TRUE(secret.ParseFromString((**table_->GetObject("Secret", "vmesh", "root")).body));
  EXPECT_EQ(secret.data().at("value"), "other bytes");

  // The hub's internal Secrets (the rest of the Kubernetes store's) are invisible and untouchable here.
  ASSERT_EQ(Kubectl("POST", SecretPath(),
                    json::parse(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vmesh-link-ca",
                      "labels": {"app.kubernetes.io/managed-by": "vmesh-hub"}}, "data": {"key": "c2VjcmV0"}})"))
                .status,
            201);
  Marker("m1");
  EXPECT_FALSE(Cached("Secret", "vmesh", "vmesh-link-ca"));
  EXPECT_FALSE(*table_->DeleteObject("Secret", "vmesh", "vmesh-link-ca"));
  EXPECT_FALSE(table_->PutObject(SecretObject("vmesh-link-ca", "mine"), std::nullopt).ok());
  EXPECT_EQ(Kubectl("GET", SecretPath("vmesh-link-ca")).body.at("data").at("key"), "c2VjcmV0");
  auto labelled =
      table_->PutObject(SecretObject("sneaky", "x", "vmesh", "{app.kubernetes.io/managed-by: vmesh-hub}"), 0);
  ASSERT_FALSE(labelled.ok());
  EXPECT_EQ(labelled.error().code, ErrorCode::kInvalidArgument);

  // Other namespaces: by name, not listed.
  ASSERT_TRUE(table_->PutObject(SecretObject("elsewhere", "y", "team-a"), 0).ok());
  auto elsewhere = table_->GetObject("Secret", "team-a", "elsewhere");
  ASSERT_TRUE(elsewhere.ok() && elsewhere->has_value());
  ASSERT_TRUE(secret.ParseFromString((*elsewhere)->body));
  EXPECT_EQ(secret.data().at("value"), "y");

  // The namespace's other Secrets (Helm's, say) are neither listed nor reported, but can be read by name (a root
  // CA created with kubectl); kubectl's Secrets with the label are listed and reported.
  int before = notified_;
  ASSERT_EQ(
      Kubectl("POST", SecretPath(),
              json::parse(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sh.helm.release.v1.hub.v1",
                      "labels": {"owner": "helm"}}, "type": "helm.sh/release.v1", "data": {"release": "SDRzSQ=="}})"))
          .status,
      201);
  Marker("m2");
  EXPECT_EQ(notified_, before + 1) << "the marker only";
  auto helm = table_->GetObject("Secret", "vmesh", "sh.helm.release.v1.hub.v1");
  ASSERT_TRUE(helm.ok() && helm->has_value());
  ASSERT_TRUE(secret.ParseFromString((*helm)->body));
  EXPECT_EQ(secret.type(), "helm.sh/release.v1");
  before = notified_;
  ASSERT_EQ(Kubectl("POST", SecretPath(),
                    json::parse(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "from-kubectl",
                      "labels": {"networking.vmesh.dev/api-object": "true"}},
                      "type": "vmesh.dev/root-ca", "data": {"root-cert.pem": "Y2VydA=="}})"))
                .status,
            201);
  ASSERT_TRUE(Eventually([&] { return notified_ == before + 1; }));

  auto listed = table_->ListObjects("Secret");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> names;
  for (const auto& s : *listed) names.push_back(s.ns + "/" + s.name);
  EXPECT_THAT(names, ElementsAre("vmesh/from-kubectl", "vmesh/root"));

  EXPECT_TRUE(*table_->DeleteObject("Secret", "team-a", "elsewhere"));
  EXPECT_FALSE(table_->GetObject("Secret", "team-a", "elsewhere")->has_value());
  EXPECT_TRUE(*table_->DeleteObject("Secret", "vmesh", "root"));
  EXPECT_FALSE(Cached("Secret", "vmesh", "root"));
}

TEST_F(KubeObjectTableTest, ManyThreadsAtOnce) {
  // The Store is called from many threads: each writes its own objects and reads everyone's, while kubectl edits.
  constexpr int kThreads = 4, kObjects = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kObjects; ++i) {
        const std::string name = "vm-" + std::to_string(t) + "-" + std::to_string(i);
        auto created = table_->PutObject(Vm(name), 0);
        if (!created.ok()) {
          ++failures;
          continue;
        }
        StoredObject with_status = *created;
        with_status.status = StatusBytes(api::v1::ACCEPTED, 1);
        auto written = table_->PutObject(with_status, created->resource_version);
        auto got = table_->GetObject("VirtualMesh", "vmesh", name);
        if (!written.ok() || !got.ok() || !got->has_value() || (*got)->resource_version < written->resource_version) {
          ++failures;
        }
        if (!table_->ListObjects("VirtualMesh").ok()) ++failures;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < kObjects; ++i) {
      if (Kubectl("POST", VmPath(), KubectlVm("kubectl-" + std::to_string(i))).status != 201) ++failures;
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  ASSERT_TRUE(Eventually([&] { return table_->ListObjects("VirtualMesh")->size() == kThreads * kObjects + kObjects; }));
  for (const auto& o : *table_->ListObjects("VirtualMesh")) {
    if (o.name.starts_with("vm-")) EXPECT_EQ(o.status, StatusBytes(api::v1::ACCEPTED, 1)) << o.name;
  }
  EXPECT_TRUE(Eventually([&] { return notified_ >= 1; }));
  EXPECT_LE(notified_, kObjects) << "kubectl's objects only";
}

TEST_F(KubeObjectTableTest, AnObjectTheCodecRefusesIsNamedAndSkipped) {
  // A schema that keeps unknown fields (or an older hub's CRD) lets kubectl store what the protos do not know.
  ASSERT_TRUE(table_->PutObject(Vm("good"), 0).ok());
  json::value bad = KubectlVm("bad");
  bad.at("spec").as_object()["bogus"] = 1;
  ASSERT_EQ(Kubectl("POST", VmPath(), bad).status, 201);
  ASSERT_TRUE(Eventually([&] { return !table_->GetObject("VirtualMesh", "vmesh", "bad").ok(); }));
  EXPECT_THAT(table_->GetObject("VirtualMesh", "vmesh", "bad").error().message, HasSubstr("VirtualMesh vmesh/bad"));
  EXPECT_THAT(table_->GetObject("VirtualMesh", "vmesh", "bad").error().message, HasSubstr("bogus"));
  auto listed = table_->ListObjects("VirtualMesh");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u) << "the others are still served";
  EXPECT_EQ(listed->front().name, "good");
}

TEST_F(KubeObjectTableTest, StopEndsTheWatchesAndStartListsAgain) {
  ASSERT_TRUE(table_->PutObject(Vm("vm1"), 0).ok());
  table_->Stop();
  ASSERT_EQ(Kubectl("POST", VmPath(), KubectlVm("while-stopped")).status, 201);
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(Cached("VirtualMesh", "vmesh", "while-stopped")) << "nobody watches";
  Status started = table_->Start();
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(Cached("VirtualMesh", "vmesh", "while-stopped")) << "listed before Start() returned";
  EXPECT_TRUE(Cached("VirtualMesh", "vmesh", "vm1"));
  Marker("after-restart");
}

TEST(KubeObjectTableStartTest, MissingCrdsAreNamed) {
  auto client = kube::MakeFakeKubeClient();
  ASSERT_TRUE(client.ok());
  auto table = MakeKubeObjectTable(**client, "vmesh");
  Status started = table->Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.error().message, HasSubstr("virtualmeshes.networking.vmesh.dev is not installed"));
  EXPECT_THAT(started.error().message, HasSubstr("kubectl apply -f charts/vmesh-hub/crds/"));
}

// The hub's Store with the object calls on the table, everything else in memory.
class TableBackedStore final : public Store {
 public:
  explicit TableBackedStore(KubeObjectTable& objects) : objects_(objects), rest_(MakeMemoryStore()) {}

  Status RegisterCluster(const std::string& name, const std::string& token_hash, TimePoint token_expires,
                         TimePoint now) override {
    return rest_->RegisterCluster(name, token_hash, token_expires, now);
  }
  Status CheckBootstrapToken(const std::string& cluster, const std::string& token_hash, TimePoint now) override {
    return rest_->CheckBootstrapToken(cluster, token_hash, now);
  }
  Status CompleteBootstrap(const std::string& cluster, const std::string& token_hash, const IssuedIdentity& identity,
                           TimePoint now) override {
    return rest_->CompleteBootstrap(cluster, token_hash, identity, now);
  }
  Status RecordIdentity(const IssuedIdentity& identity) override { return rest_->RecordIdentity(identity); }
  Status CheckIdentity(const std::string& cluster, const std::string& serial) override {
    return rest_->CheckIdentity(cluster, serial);
  }
  Result<int> RevokeIdentitiesBefore(const std::string& cluster, const std::string& serial, TimePoint now) override {
    return rest_->RevokeIdentitiesBefore(cluster, serial, now);
  }
  Status DeregisterCluster(const std::string& name, TimePoint now) override {
    return rest_->DeregisterCluster(name, now);
  }
  Result<std::optional<ClusterRecord>> GetCluster(const std::string& name) override { return rest_->GetCluster(name); }
  Result<std::vector<ClusterRecord>> ListClusters() override { return rest_->ListClusters(); }
  Status MarkConnected(const std::string& name, const std::string& agent_version, TimePoint now) override {
    return rest_->MarkConnected(name, agent_version, now);
  }
  Status MarkHeartbeat(const std::string& name, TimePoint now) override { return rest_->MarkHeartbeat(name, now); }
  Status MarkDisconnected(const std::string& name, TimePoint now) override {
    return rest_->MarkDisconnected(name, now);
  }
  Result<std::optional<LinkCaMaterial>> GetLinkCa() override { return rest_->GetLinkCa(); }
  Status PutLinkCa(const LinkCaMaterial& material) override { return rest_->PutLinkCa(material); }
  Status ReplaceStoredKeys(const std::vector<StoredKeyUpdate>& updates) override {
    return rest_->ReplaceStoredKeys(updates);
  }
  Status AddAdminCredential(const AdminCredential& credential) override {
    return rest_->AddAdminCredential(credential);
  }
  Result<std::vector<AdminCredential>> ListAdminCredentials() override { return rest_->ListAdminCredentials(); }
  Status CheckAdminCredential(const std::string& serial) override { return rest_->CheckAdminCredential(serial); }
  Status RotateAdminCredential(const std::string& old_serial, const AdminCredential& replacement,
                               TimePoint now) override {
    return rest_->RotateAdminCredential(old_serial, replacement, now);
  }
  Result<std::optional<RootCaRecord>> GetRootCa(const std::string& virtual_mesh) override {
    return rest_->GetRootCa(virtual_mesh);
  }
  Result<std::vector<RootCaRecord>> ListRootCas() override { return rest_->ListRootCas(); }
  Result<RootCaRecord> PutRootCaIfAbsent(const RootCaRecord& record) override {
    return rest_->PutRootCaIfAbsent(record);
  }
  Status RecordIssuedCertificate(const IssuedCertificateRecord& record) override {
    return rest_->RecordIssuedCertificate(record);
  }
  Result<std::vector<IssuedCertificateRecord>> ListIssuedCertificates() override {
    return rest_->ListIssuedCertificates();
  }
  Result<std::optional<RootRotationRecord>> GetRootRotation(const std::string& virtual_mesh) override {
    return rest_->GetRootRotation(virtual_mesh);
  }
  Status StartRootRotation(const RootRotationRecord& record) override { return rest_->StartRootRotation(record); }
  Status SetRootRotationPhase(const std::string& virtual_mesh, const std::string& from, const std::string& to,
                              TimePoint now) override {
    return rest_->SetRootRotationPhase(virtual_mesh, from, to, now);
  }
  Status FinishRootRotation(const std::string& virtual_mesh, const std::string& from, bool completed) override {
    return rest_->FinishRootRotation(virtual_mesh, from, completed);
  }
  Result<std::string> BindMeshIfAbsent(const std::string& mesh, const std::string& cluster, TimePoint now) override {
    return rest_->BindMeshIfAbsent(mesh, cluster, now);
  }
  Result<std::optional<std::string>> GetMeshOwner(const std::string& mesh) override {
    return rest_->GetMeshOwner(mesh);
  }
  Result<std::map<std::string, std::string>> ListMeshOwners() override { return rest_->ListMeshOwners(); }
  Result<StoredObject> PutObject(const StoredObject& object, std::optional<std::int64_t> expected_version) override {
    return objects_.PutObject(object, expected_version);
  }
  Result<std::optional<StoredObject>> GetObject(const std::string& kind, const std::string& ns,
                                                const std::string& name) override {
    return objects_.GetObject(kind, ns, name);
  }
  Result<std::vector<StoredObject>> ListObjects(const std::string& kind) override { return objects_.ListObjects(kind); }
  Result<bool> DeleteObject(const std::string& kind, const std::string& ns, const std::string& name) override {
    return objects_.DeleteObject(kind, ns, name);
  }
  void SetChangeListener(std::function<void()> listener) override { objects_.SetChangeListener(std::move(listener)); }
  Result<std::optional<std::string>> GetSetting(const std::string& key) override { return rest_->GetSetting(key); }
  Result<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) override {
    return rest_->PutSettingIfAbsent(key, value);
  }

 private:
  KubeObjectTable& objects_;
  StorePtr rest_;
};

constexpr char kManifest[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1}
spec:
  meshes: [{name: istiod-istio-system-c1}, {name: istiod-istio-system-c2}]
  mtlsConfig: {shared: {}}
  federation: {permissive: {}}
---
apiVersion: networking.vmesh.dev/v1
kind: AccessPolicy
metadata: {name: ap1}
spec: {allowedMethods: [GET]}
)";

class ObjectServiceOnKubernetesTest : public KubeObjectTableTest {
 protected:
  void SetUp() override {
    KubeObjectTableTest::SetUp();
    store_ = std::make_unique<TableBackedStore>(*table_);
    service_ = std::make_unique<ObjectService>(
        *store_, "vmesh", [] { return TimePoint(1'800'000'000s); }, std::string(32, 'k'));
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    KubeObjectTableTest::TearDown();
  }
  std::vector<std::string> Lines(const Result<std::vector<ApplyResult>>& r) {
    if (!r.ok()) return {r.error().message};
    std::vector<std::string> out;
    for (const auto& x : *r) out.push_back(x.ToString() + " " + std::to_string(x.generation));
    return out;
  }
  std::unique_ptr<Store> store_;
  std::unique_ptr<ObjectService> service_;
};

TEST_F(ObjectServiceOnKubernetesTest, ApplyGetListDelete) {
  EXPECT_THAT(Lines(service_->Apply(kManifest)),
              ElementsAre("virtualmesh vmesh/vm1 created 1", "accesspolicy vmesh/ap1 created 1"));
  auto vm = **service_->GetVirtualMesh("vmesh", "vm1");
  EXPECT_EQ(vm.metadata().generation(), 1);
  EXPECT_EQ(vm.metadata().uid(), Kubectl("GET", VmPath("vm1")).body.at("metadata").at("uid").as_string());
  EXPECT_EQ(vm.metadata().resource_version(),
            Kubectl("GET", VmPath("vm1")).body.at("metadata").at("resourceVersion").as_string());
  EXPECT_THAT(Lines(service_->Apply(kManifest)),
              ElementsAre("virtualmesh vmesh/vm1 unchanged 1", "accesspolicy vmesh/ap1 unchanged 1"));

  std::string changed = kManifest;
  changed.replace(changed.find("permissive: {}"), 14, "flatNetwork: true, selectors: [{}]");
  EXPECT_THAT(Lines(service_->Apply(changed)),
              ElementsAre("virtualmesh vmesh/vm1 configured 2", "accesspolicy vmesh/ap1 unchanged 1"));
  std::string stale = kManifest;
  stale.replace(stale.find("{name: vm1}"), 11,
                "{name: vm1, resourceVersion: \"" + vm.metadata().resource_version() + "\"}");
  auto conflict = service_->Apply(stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);

  // The reconciler's status write: no generation bump, written once.
  api::v1::VirtualMeshStatus status;
  status.set_state(api::v1::ACCEPTED);
  status.set_observed_generation(2);
  auto spec = (**service_->GetVirtualMesh("vmesh", "vm1")).spec();
  ASSERT_TRUE(service_->UpdateVirtualMeshStatus("vmesh", "vm1", status, spec, 2).ok());
  const auto after = **service_->GetVirtualMesh("vmesh", "vm1");
  EXPECT_EQ(after.metadata().generation(), 2);
  EXPECT_EQ(after.status().state(), api::v1::ACCEPTED);
  ASSERT_TRUE(service_->UpdateVirtualMeshStatus("vmesh", "vm1", status, spec, 2).ok());
  EXPECT_EQ((**service_->GetVirtualMesh("vmesh", "vm1")).metadata().resource_version(),
            after.metadata().resource_version());

  ASSERT_EQ(service_->ListVirtualMeshes()->size(), 1u);
  ASSERT_EQ(service_->ListAccessPolicies()->size(), 1u);
  ASSERT_TRUE(service_->Delete("vm", "vmesh", "vm1").ok());
  EXPECT_FALSE(service_->GetVirtualMesh("vmesh", "vm1")->has_value());
  auto again = service_->Delete("virtualmesh", "vmesh", "vm1");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
}

TEST_F(ObjectServiceOnKubernetesTest, KubectlObjectIsReconciledLikeAnyOther) {
  ASSERT_EQ(Kubectl("POST", VmPath(), KubectlVm("from-kubectl")).status, 201);
  ASSERT_TRUE(Eventually([&] { return Cached("VirtualMesh", "vmesh", "from-kubectl"); }));
  auto vm = service_->GetVirtualMesh("vmesh", "from-kubectl");
  ASSERT_TRUE(vm.ok() && vm->has_value());
  EXPECT_EQ((*vm)->metadata().generation(), 1);
  api::v1::VirtualMeshStatus status;
  status.set_state(api::v1::ACCEPTED);
  status.set_observed_generation(1);
  ASSERT_TRUE(service_->UpdateVirtualMeshStatus("vmesh", "from-kubectl", status, (*vm)->spec(), 1).ok());
  auto server = Kubectl("GET", VmPath("from-kubectl"));
  EXPECT_EQ(server.body.at("status").at("state"), "ACCEPTED");
  EXPECT_EQ(server.body.at("status").at("observedGeneration"), 1);
  EXPECT_EQ(server.body.at("metadata").at("generation"), 1);
  EXPECT_EQ(server.body.at("metadata").at("annotations").at(kLastGoodGenerationAnnotation), "1");
  auto row = **store_->GetObject("VirtualMesh", "vmesh", "from-kubectl");
  EXPECT_EQ(row.last_good, SerializeDeterministic((*vm)->spec()));
}

TEST_F(ObjectServiceOnKubernetesTest, SecretsAreSealedByTheServiceAndRedacted) {
  const std::string manifest =
      "apiVersion: v1\nkind: Secret\nmetadata: {name: opaque}\ndata:\n  token: " + Base64Encode("private value") + "\n";
  EXPECT_THAT(Lines(service_->Apply(manifest)), ElementsAre("secret vmesh/opaque created 1"));
  EXPECT_THAT(Lines(service_->Apply(manifest)), ElementsAre("secret vmesh/opaque unchanged 1"));
  auto server = Kubectl("GET", SecretPath("opaque"));
  auto stored = Base64Decode(std::string(server.body.at("data").at("token").as_string()));
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(pki::IsSealed(*stored)) << "sealed before it reached the API server";
  EXPECT_EQ((*service_->GetSecretData("vmesh", "opaque"))->data().at("token"), "private value");
  auto listed = service_->ListSecrets();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().data().at("token"), "") << "redacted";
  ASSERT_TRUE(service_->Delete("secret", "", "opaque").ok());
  EXPECT_FALSE(service_->GetSecret("vmesh", "opaque")->has_value());
}

}  // namespace
}  // namespace vmesh::hub
