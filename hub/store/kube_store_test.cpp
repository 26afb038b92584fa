// What only the Kubernetes store does (the Store contract itself is StoreContractTest in sqlite_store_test.cpp):
// two hubs on one API server racing for single-use and write-once records, the objects it writes as kubectl sees
// them, sealing, and how missing CRDs and API errors are reported. Everything runs against the in-process fake API
// server (kubesim's handler).
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/base/base64.h"
#include "common/base/json_fields.h"
#include "common/base/time.h"
#include "common/kube/run_task.h"
#include "common/pki/aead.h"
#include "hub/store/kube_store_testing.h"
#include "vmesh/api/v1/discovery.pb.h"

namespace vmesh::hub {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// Opens when `count` racers arrived, or after 10 s (a racer that failed before its write must not hang the test).
class Gate {
 public:
  explicit Gate(int count) : count_(count) {}
  void ArriveAndWait() {
    std::unique_lock lock(mu_);
    if (--count_ <= 0) cv_.notify_all();
    cv_.wait_for(lock, 10s, [this] { return count_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_;
};

// Holds the first request it matches until `gate` opens (every racer reached its own): so that both hubs have read
// the state before either writes, which is the race a compare-and-swap must decide.
class GatedClient final : public kube::KubeClient {
 public:
  GatedClient(kube::KubeClient& target, Gate& gate, std::string method, std::string target_part)
      : target_(target), gate_(gate), method_(std::move(method)), part_(std::move(target_part)) {}

  boost::asio::awaitable<Result<kube::ApiResponse>> Request(std::string method, std::string target, std::string body,
                                                            std::string content_type) override {
    if (!held_ && method == method_ && target.find(part_) != std::string::npos) {
      held_ = true;
      gate_.ArriveAndWait();
    }
    co_return co_await target_.Request(std::move(method), std::move(target), std::move(body), std::move(content_type));
  }
  boost::asio::awaitable<Status> Watch(std::string target,
                                       std::function<bool(const kube::WatchEvent&)> on_event) override {
    return target_.Watch(std::move(target), std::move(on_event));
  }

 private:
  kube::KubeClient& target_;
  Gate& gate_;
  std::string method_;
  std::string part_;
  std::atomic<bool> held_{false};
};

// Answers 500 to `method` requests whose path contains `target_part` (an API server failing half-way through).
class FailingClient final : public kube::KubeClient {
 public:
  FailingClient(kube::KubeClient& target, std::string method, std::string target_part)
      : target_(target), method_(std::move(method)), part_(std::move(target_part)) {}

  boost::asio::awaitable<Result<kube::ApiResponse>> Request(std::string method, std::string target, std::string body,
                                                            std::string content_type) override {
    if (method == method_ && target.find(part_) != std::string::npos) {
      kube::ApiResponse failed{.status = 500, .body = json::object{{"message", "etcdserver: request timed out"}}};
      co_return failed;
    }
    co_return co_await target_.Request(std::move(method), std::move(target), std::move(body), std::move(content_type));
  }
  boost::asio::awaitable<Status> Watch(std::string target,
                                       std::function<bool(const kube::WatchEvent&)> on_event) override {
    return target_.Watch(std::move(target), std::move(on_event));
  }

 private:
  kube::KubeClient& target_;
  std::string method_;
  std::string part_;
};

IssuedIdentity Identity(const std::string& cluster, const std::string& serial, TimePoint now) {
  return IssuedIdentity{serial, cluster, now, now + 24h, "fp-" + serial};
}

class KubeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = testing::MakeHubCluster();
    ASSERT_TRUE(cluster.ok()) << cluster.error().message;
    api_ = std::move(*cluster);
  }

  StorePtr Open(KubeStoreOptions options = {}) {
    auto s = testing::OpenStoreOn(*api_, std::move(options));
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Two stores (two hubs) whose first `method` request with `target_part` in its path waits for the other's.
  std::pair<StorePtr, StorePtr> GatedPair(Gate& gate, const std::string& method, const std::string& part) {
    auto a = OpenKubernetesStore(std::make_unique<GatedClient>(*api_, gate, method, part), {});
    auto b = OpenKubernetesStore(std::make_unique<GatedClient>(*api_, gate, method, part), {});
    EXPECT_TRUE(a.ok() && b.ok());
    return {std::move(*a), std::move(*b)};
  }

  // GET of `path` on the API server, as kubectl would see it.
  json::value Get(const std::string& path) {
    auto r = kube::RunTask(api_->Get(path));
    EXPECT_TRUE(r.ok() && r->ok()) << path << ": " << (r.ok() ? r->Describe() : r.error().message);
    return r.ok() ? r->body : json::value();
  }

  json::array List(const std::string& collection) {
    auto r = kube::RunTask(api_->List(collection));
    EXPECT_TRUE(r.ok() && r->ok()) << collection;
    const json::array* items = r.ok() ? jsonf::Arr(r->body.if_object(), "items") : nullptr;
    return items ? *items : json::array();
  }

  void SetFaults(const json::object& faults) {
    auto r = kube::RunTask(api_->Request("POST", "/kubesim/faults", json::serialize(faults)));
    ASSERT_TRUE(r.ok() && r->ok());
  }

  kube::FakeKubeClientPtr api_;
  TimePoint now_ = TimePoint(std::chrono::seconds(1'800'000'000));
};

TEST_F(KubeStoreTest, TwoHubsRacingOneBootstrapTokenExactlyOneWins) {
  Gate gate(2);
  // Both hubs check the token before either consumes it.
  auto [a, b] = GatedPair(gate, "PUT", "/secrets/vmesh-bootstrap-c1");
  ASSERT_TRUE(a->RegisterCluster("c1", "hash1", now_ + 1h, now_).ok());
  Status sa, sb;
  std::thread ta([&] { sa = a->CompleteBootstrap("c1", "hash1", Identity("c1", "aa01", now_), now_); });
  std::thread tb([&] { sb = b->CompleteBootstrap("c1", "hash1", Identity("c1", "bb01", now_), now_); });
  ta.join();
  tb.join();
  ASSERT_NE(sa.ok(), sb.ok()) << "exactly one hub bootstraps the cluster";
  const Status& lost = sa.ok() ? sb : sa;
  EXPECT_THAT(lost.error().message, HasSubstr("was already used"));
  EXPECT_EQ(lost.error().code, ErrorCode::kPermissionDenied);
  const std::string winner = sa.ok() ? "aa01" : "bb01", loser = sa.ok() ? "bb01" : "aa01";
  EXPECT_EQ((*a->GetCluster("c1"))->identity_serial, winner);
  EXPECT_TRUE(b->CheckIdentity("c1", winner).ok());
  EXPECT_FALSE(a->CheckIdentity("c1", loser).ok()) << "the losing hub recorded nothing";
}

TEST_F(KubeStoreTest, TwoHubsBindingOneMeshAgreeOnTheFirst) {
  StorePtr setup = Open();
  ASSERT_TRUE(setup->RegisterCluster("c1", "h1", now_ + 1h, now_).ok());
  ASSERT_TRUE(setup->RegisterCluster("c2", "h2", now_ + 1h, now_).ok());
  Gate gate(2);
  // Both hubs find the mesh unbound (no owners ConfigMap yet) and both try to create it.
  auto [a, b] = GatedPair(gate, "POST", "/configmaps");
  Result<std::string> oa = MakeError(""), ob = MakeError("");
  std::thread ta([&] { oa = a->BindMeshIfAbsent("istiod-istio-system-x", "c1", now_); });
  std::thread tb([&] { ob = b->BindMeshIfAbsent("istiod-istio-system-x", "c2", now_); });
  ta.join();
  tb.join();
  ASSERT_TRUE(oa.ok()) << oa.error().message;
  ASSERT_TRUE(ob.ok()) << ob.error().message;
  EXPECT_EQ(*oa, *ob) << "both hubs return the binding in force";
  EXPECT_EQ(**setup->GetMeshOwner("istiod-istio-system-x"), *oa);
  EXPECT_EQ(setup->ListMeshOwners()->size(), 1u);

  // Again with the ConfigMap in place: both read it and both update it from the same resourceVersion.
  Gate again(2);
  auto [c, d] = GatedPair(again, "PUT", "/configmaps/vmesh-mesh-owners");
  Result<std::string> oc = MakeError(""), od = MakeError("");
  std::thread tc([&, &c = c] { oc = c->BindMeshIfAbsent("istiod-istio-system-y", "c1", now_); });
  std::thread td([&, &d = d] { od = d->BindMeshIfAbsent("istiod-istio-system-y", "c2", now_); });
  tc.join();
  td.join();
  ASSERT_TRUE(oc.ok()) << oc.error().message;
  ASSERT_TRUE(od.ok()) << od.error().message;
  EXPECT_EQ(*oc, *od);
  auto owners = setup->ListMeshOwners();
  ASSERT_EQ(owners->size(), 2u) << "the first binding was kept";
  EXPECT_EQ(owners->at("istiod-istio-system-x"), *oa);
  EXPECT_EQ(owners->at("istiod-istio-system-y"), *oc);

  // Each Cluster's printer column counts the meshes bound to it.
  for (const std::string cluster : {"c1", "c2"}) {
    const long want = (*oa == cluster) + (*oc == cluster);
    EXPECT_EQ(jsonf::IntAt(Get("/apis/networking.vmesh.dev/v1/namespaces/vmesh/clusters/" + cluster).get_object(),
                           {"status", "meshCount"}),
              want)
        << cluster;
  }
}

TEST_F(KubeStoreTest, TwoHubsGeneratingOneRootUseTheFirst) {
  Gate gate(2);
  auto [a, b] = GatedPair(gate, "POST", "/secrets");
  Result<RootCaRecord> ra = MakeError(""), rb = MakeError("");
  std::thread ta([&] { ra = a->PutRootCaIfAbsent({"vmesh/vm1", "CERT-A", "", "KEY-A", "generated", now_}); });
  std::thread tb([&] { rb = b->PutRootCaIfAbsent({"vmesh/vm1", "CERT-B", "", "KEY-B", "generated", now_}); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra.ok()) << ra.error().message;
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(ra->certificate_pem, rb->certificate_pem) << "the loser uses the winner's root";
  EXPECT_EQ(ra->key_pem, rb->key_pem);
  auto stored = a->GetRootCa("vmesh/vm1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->certificate_pem, ra->certificate_pem);
  EXPECT_EQ((*stored)->created_at, now_);
  EXPECT_EQ(a->ListRootCas()->size(), 1u);
}

TEST_F(KubeStoreTest, RootSecretNamesAreBoundedAndDistinct) {
  StorePtr store = Open();
  const std::string long_name(200, 'v');
  for (const std::string& vm : {std::string("a-b/c"), std::string("a/b-c"), "team/" + long_name}) {
    ASSERT_TRUE(store->PutRootCaIfAbsent({vm, "CERT " + vm, "CHAIN", "KEY", "secret", now_}).ok()) << vm;
  }
  auto roots = store->ListRootCas();
  ASSERT_TRUE(roots.ok()) << roots.error().message;
  ASSERT_EQ(roots->size(), 3u) << "a-b/c and a/b-c are two roots";
  EXPECT_EQ((*store->GetRootCa("a/b-c"))->certificate_pem, "CERT a/b-c");
  EXPECT_EQ((*store->GetRootCa("team/" + long_name))->chain_pem, "CHAIN");
  for (const auto& s : List("/api/v1/namespaces/vmesh/secrets")) {
    const std::string name = jsonf::StrAt(s, {"metadata", "name"});
    EXPECT_LE(name.size(), 63u) << name;
    EXPECT_EQ(name.rfind("vmesh-root-", 0), 0u) << name;
  }
}

TEST_F(KubeStoreTest, AnInterruptedKeyReplacementSaysSoAndARerunCompletesIt) {
  StorePtr store = Open();
  ASSERT_TRUE(store->PutLinkCa({"LINK-CERT", "LINK-KEY"}).ok());
  ASSERT_TRUE(store->PutRootCaIfAbsent({"vmesh/vm1", "CERT1", "", "KEY1", "generated", now_}).ok());
  auto failing = OpenKubernetesStore(std::make_unique<FailingClient>(*api_, "PUT", "/secrets/vmesh-root-"), {});
  ASSERT_TRUE(failing.ok()) << failing.error().message;
  Status s = (*failing)->ReplaceStoredKeys({{"", "LINK-KEY", "SEALED-LINK"}, {"vmesh/vm1", "KEY1", "SEALED1"}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("with 1 of 2 keys replaced (run it again to replace the rest)"));
  EXPECT_THAT(s.error().message, HasSubstr("etcdserver: request timed out"));
  EXPECT_EQ((*store->GetLinkCa())->key_pem, "SEALED-LINK");
  // The rerun (SealKeysAtRest recomputes what is left) completes it.
  ASSERT_TRUE(store->ReplaceStoredKeys({{"vmesh/vm1", "KEY1", "SEALED1"}}).ok());
  EXPECT_EQ((*store->GetRootCa("vmesh/vm1"))->key_pem, "SEALED1");
}

TEST_F(KubeStoreTest, MissingCrdIsNamedWithHowToInstallIt) {
  auto cluster = testing::MakeHubCluster(testing::TestCrdsYaml("issuedcertificates"));
  ASSERT_TRUE(cluster.ok()) << cluster.error().message;
  auto store = testing::OpenStoreOn(**cluster);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error().message, HasSubstr("issuedcertificates.networking.vmesh.dev"));
  EXPECT_THAT(store.error().message, Not(HasSubstr("clusters.networking.vmesh.dev")));
  EXPECT_THAT(store.error().message, HasSubstr("kubectl apply -f charts/vmesh-hub/crds/"));

  auto bare = kube::MakeFakeKubeClient();
  ASSERT_TRUE(bare.ok());
  auto none = testing::OpenStoreOn(**bare);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.error().message,
              HasSubstr("clusters.networking.vmesh.dev, issuedcertificates.networking.vmesh.dev"));
}

TEST_F(KubeStoreTest, ApiErrorsNameTheObjectAndTheServersMessage) {
  StorePtr store = Open();
  SetFaults({{"errorRate", 1.0}, {"seed", 7}});
  auto ca = store->GetLinkCa();
  ASSERT_FALSE(ca.ok());
  EXPECT_THAT(ca.error().message, HasSubstr("Secret vmesh/vmesh-link-ca"));
  EXPECT_THAT(ca.error().message, ::testing::AnyOf(HasSubstr("500 Internal Server Error: Internal error occurred: "
                                                             "injected by kubesim"),
                                                   HasSubstr("429 Too Many Requests")));
  EXPECT_EQ(ca.error().code, ErrorCode::kUnavailable);
  Status reg = store->MarkConnected("c1", "v1", now_);
  ASSERT_FALSE(reg.ok());
  EXPECT_THAT(reg.error().message, HasSubstr("Cluster vmesh/c1"));
  SetFaults({{"errorRate", 0.0}});
  EXPECT_TRUE(store->GetLinkCa().ok()) << "the store works again when the API server does";
}

TEST_F(KubeStoreTest, AMissingNamespaceIsReportedByName) {
  auto store = testing::OpenStoreOn(*api_, {.hub_namespace = "elsewhere"});
  ASSERT_TRUE(store.ok()) << store.error().message;
  Status s = (*store)->RegisterCluster("c1", "h", now_ + 1h, now_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("elsewhere"));
  EXPECT_THAT(s.error().message, HasSubstr("404"));
}

TEST_F(KubeStoreTest, ConflictsOfTheContractAreConflicts) {
  StorePtr store = Open();
  ASSERT_TRUE(store->PutLinkCa({"C", "K"}).ok());
  EXPECT_EQ(store->PutLinkCa({"C", "K"}).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(store->RecordIssuedCertificate({"AB01", "vmesh/vm1", "m1", "c1", now_, now_ + 1h, "fp", now_}).ok());
  Status again = store->RecordIssuedCertificate({"AB01", "vmesh/vm1", "m1", "c1", now_, now_ + 1h, "fp", now_});
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_THAT(again.error().message, HasSubstr("AB01 already recorded"));
  AdminCredential admin{.serial = "01", .not_after = now_ + 1h, .public_key_fingerprint = "fp", .created_at = now_};
  ASSERT_TRUE(store->AddAdminCredential(admin).ok());
  EXPECT_EQ(store->AddAdminCredential(admin).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(store->RegisterCluster("c1", "h", now_ + 1h, now_).ok());
  ASSERT_TRUE(store->CompleteBootstrap("c1", "h", Identity("c1", "s1", now_), now_).ok());
  EXPECT_EQ(store->RegisterCluster("c1", "h2", now_ + 1h, now_).error().code, ErrorCode::kConflict);
}

TEST_F(KubeStoreTest, SealedTokenHashesAreNotReadableInTheSecret) {
  const std::string kek(32, '\x42');
  StorePtr store = Open({.key_encryption_key = kek});
  const std::string hash = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
  ASSERT_TRUE(store->RegisterCluster("c1", hash, now_ + 1h, now_).ok());
  auto r = kube::RunTask(api_->Get("/api/v1/namespaces/vmesh/secrets/vmesh-bootstrap-c1"));
  ASSERT_TRUE(r.ok() && r->ok());
  EXPECT_THAT(r->raw, Not(HasSubstr(hash)));
  EXPECT_THAT(r->raw, Not(HasSubstr(Base64Encode(hash))));
  auto stored = Base64Decode(jsonf::StrAt(r->body, {"data", "token-hash"}));
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(pki::IsSealed(*stored));
  EXPECT_TRUE(store->CheckBootstrapToken("c1", hash, now_).ok());
  // A hub without the key cannot use it, and says why.
  StorePtr keyless = Open();
  EXPECT_THAT(keyless->CheckBootstrapToken("c1", hash, now_).error().message, HasSubstr("key-encryption key"));
  ASSERT_TRUE(store->CompleteBootstrap("c1", hash, Identity("c1", "s1", now_), now_).ok());
  EXPECT_THAT(store->CheckBootstrapToken("c1", hash, now_).error().message, HasSubstr("single-use"));
}

TEST_F(KubeStoreTest, ATokenUsedWithoutAnIdentityRecordedCanBeRegisteredAgain) {
  StorePtr store = Open();
  ASSERT_TRUE(store->RegisterCluster("c1", "h1", now_ + 1h, now_).ok());
  // What a hub that crashed between consuming the token and recording the identity leaves behind.
  const std::string path = "/api/v1/namespaces/vmesh/secrets/vmesh-bootstrap-c1";
  json::value secret = Get(path);
  secret.get_object()["data"].get_object()["used-at"] = Base64Encode(FormatRfc3339(now_, 3));
  auto put = kube::RunTask(api_->Update(path, secret));
  ASSERT_TRUE(put.ok() && put->ok());
  EXPECT_THAT(store->CheckBootstrapToken("c1", "h1", now_).error().message, HasSubstr("already used"));
  ASSERT_TRUE(store->RegisterCluster("c1", "h2", now_ + 1h, now_).ok()) << "no identity was issued: register again";
  ASSERT_TRUE(store->CompleteBootstrap("c1", "h2", Identity("c1", "s1", now_), now_).ok());
  EXPECT_TRUE(store->CheckIdentity("c1", "s1").ok());
}

TEST_F(KubeStoreTest, ATokenLeftByARegistrationRacingTheBootstrapBootstrapsNothing) {
  StorePtr store = Open();
  ASSERT_TRUE(store->RegisterCluster("c1", "h1", now_ + 1h, now_).ok());
  ASSERT_TRUE(store->CompleteBootstrap("c1", "h1", Identity("c1", "s1", now_), now_).ok());
  // A registration that read c1 before the identity was recorded wrote a new token after it: c1's token Secret
  // gets the data of a fresh one (c2's, token "h2").
  ASSERT_TRUE(store->RegisterCluster("c2", "h2", now_ + 1h, now_).ok());
  const std::string secrets = "/api/v1/namespaces/vmesh/secrets/";
  json::value fresh = Get(secrets + "vmesh-bootstrap-c2");
  json::value c1 = Get(secrets + "vmesh-bootstrap-c1");
  c1.get_object()["data"] = fresh.get_object()["data"];
  auto put = kube::RunTask(api_->Update(secrets + "vmesh-bootstrap-c1", c1));
  ASSERT_TRUE(put.ok() && put->ok());
  Status again = store->CompleteBootstrap("c1", "h2", Identity("c1", "s2", now_), now_);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, HasSubstr("already registered and its agent has bootstrapped"));
  EXPECT_EQ((*store->GetCluster("c1"))->identity_serial, "s1");
  EXPECT_FALSE(store->CheckIdentity("c1", "s2").ok());
}

TEST_F(KubeStoreTest, AFailedBootstrapLeavesTheTokenUsable) {
  StorePtr store = Open();
  ASSERT_TRUE(store->RegisterCluster("c1", "h1", now_ + 1h, now_).ok());
  ASSERT_TRUE(store->CompleteBootstrap("c1", "h1", Identity("c1", "s1", now_), now_).ok());
  ASSERT_TRUE(store->DeregisterCluster("c1", now_).ok());
  ASSERT_TRUE(store->RegisterCluster("c1", "h2", now_ + 1h, now_).ok());
  // Recording fails after the token was consumed (the serial is the old registration's): the token is put back.
  Status dup = store->CompleteBootstrap("c1", "h2", Identity("c1", "s1", now_), now_);
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.error().message, HasSubstr("s1 already recorded"));
  EXPECT_TRUE(store->CheckBootstrapToken("c1", "h2", now_).ok());
  EXPECT_TRUE(store->CompleteBootstrap("c1", "h2", Identity("c1", "s2", now_), now_).ok());
}

TEST_F(KubeStoreTest, ObjectsAreLabelledAndClusterStatusIsTheProto) {
  StorePtr store = Open();
  ASSERT_TRUE(store->RegisterCluster("c1", "h1", now_ + 1h, now_).ok());
  ASSERT_TRUE(store->CompleteBootstrap("c1", "h1", Identity("c1", "s1", now_ + 250ms), now_).ok());
  ASSERT_TRUE(store->MarkConnected("c1", "0.9.0", now_ + 1500ms).ok());
  ASSERT_EQ(*store->BindMeshIfAbsent("istiod-istio-system-c1", "c1", now_), "c1");
  ASSERT_TRUE(store->PutLinkCa({"C", "K"}).ok());
  ASSERT_TRUE(store->PutRootCaIfAbsent({"vmesh/vm1", "C", "", "K", "generated", now_}).ok());
  ASSERT_TRUE(store->RecordIssuedCertificate({"01", "vmesh/vm1", "m1", "c1", now_, now_ + 1h, "fp", now_}).ok());
  ASSERT_TRUE(store->PutSettingIfAbsent("hub-name", "hub").ok());
  ASSERT_TRUE(store->AddAdminCredential({.serial = "0a", .not_after = now_, .created_at = now_}).ok());

  int objects = 0;
  for (const std::string& collection :
       {std::string("/api/v1/namespaces/vmesh/secrets"), std::string("/api/v1/namespaces/vmesh/configmaps"),
        std::string("/apis/networking.vmesh.dev/v1/namespaces/vmesh/clusters"),
        std::string("/apis/networking.vmesh.dev/v1/namespaces/vmesh/issuedcertificates")}) {
    for (const auto& item : List(collection)) {
      EXPECT_EQ(jsonf::Labels(item.get_object())["app.kubernetes.io/managed-by"], "vmesh-hub")
          << collection << " " << jsonf::StrAt(item, {"metadata", "name"});
      ++objects;
    }
  }
  EXPECT_EQ(objects, 8);  // 3 Secrets (token, link CA, root), 3 ConfigMaps, a Cluster, an IssuedCertificate

  json::value cluster = Get("/apis/networking.vmesh.dev/v1/namespaces/vmesh/clusters/c1");
  const json::object& status = jsonf::At(cluster, {"status"})->get_object();
  EXPECT_EQ(jsonf::Str(status, "state"), "CONNECTED");
  EXPECT_EQ(jsonf::Str(status, "agentVersion"), "0.9.0");
  EXPECT_EQ(jsonf::Str(status, "connectedSince"), FormatRfc3339(now_ + 1500ms, 3)) << "RFC 3339, milliseconds";
  EXPECT_EQ(jsonf::Int(&status, "meshCount"), 1);
  ASSERT_EQ(jsonf::Arr(status, "identities")->size(), 1u);
  // Every field stored is a field of the proto (the CRD schema is generated from it).
  api::v1::ClusterStatus parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json::serialize(status), &parsed).ok());
  EXPECT_EQ(parsed.identities(0).serial(), "s1");

  json::value cert = Get("/apis/networking.vmesh.dev/v1/namespaces/vmesh/issuedcertificates/01");
  EXPECT_EQ(jsonf::StrAt(cert, {"spec", "notAfter"}), FormatRfc3339(now_ + 1h));
  EXPECT_EQ(jsonf::StrAt(cert, {"spec", "virtualMesh"}), "vmesh/vm1");
}

TEST_F(KubeStoreTest, DeletingAClusterWithKubectlNotifiesTheHub) {
  StorePtr store = Open();
  std::atomic<int> notified{0};
  store->SetChangeListener([&] { ++notified; });
  ASSERT_TRUE(store->RegisterCluster("c1", "h1", now_ + 1h, now_).ok());
  ASSERT_TRUE(store->MarkConnected("c1", "v", now_).ok());
  auto deleted = kube::RunTask(api_->Delete("/apis/networking.vmesh.dev/v1/namespaces/vmesh/clusters/c1"));
  ASSERT_TRUE(deleted.ok() && deleted->ok());
  for (int i = 0; i < 500 && notified == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(notified.load(), 1) << "the deletion notifies, the store's own writes do not";
  EXPECT_FALSE(store->GetCluster("c1")->has_value());
}

}  // namespace
}  // namespace vmesh::hub
