// Identity: the bootstrap exchange against the real registration over the link server, and the two stores
// (a 0600 file; a Secret in the cluster, with the namespace created on demand), plus the sync-state ConfigMap.
#include "agent/runtime/identity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "agent/runtime/hub_link.h"
#include "agent/runtime/state_objects.h"
#include "agent/runtime/test_hub.h"
#include "common/base/files.h"
#include "common/kube/fake_client.h"
#include "common/kube/run_task.h"

namespace vmesh::agent {
namespace {

using kube::RunTask;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vmesh-identity-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(BootstrapTest, ExchangesTheTokenForAnIdentityOnceAndKeepsTheKeyLocal) {
  test::TestHub hub;
  const std::string yaml = hub.RegisterYaml("c1");
  auto bundle = ParseBootstrapBundle(yaml);
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  EXPECT_EQ(bundle->hub_url(), hub.url());

  auto id = Bootstrap(*bundle, "test");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->cluster, "c1");
  EXPECT_EQ(id->hub_name, "hub1");
  EXPECT_EQ(id->hub_url, hub.url());
  EXPECT_TRUE(CheckKeyMatches(id->key_pem, id->certificate_pem).ok());
  auto cert = pki::Certificate::FromPem(id->certificate_pem);
  ASSERT_TRUE(cert.ok());
  EXPECT_THAT(cert->uri_sans(), ::testing::ElementsAre("spiffe://hub1/cluster/c1"));
  EXPECT_TRUE(ClientTlsFor(*id).ok());
  auto renew_at = RenewalTime(id->certificate_pem);
  ASSERT_TRUE(renew_at.ok());
  EXPECT_GT(*renew_at, cert->not_before());
  EXPECT_LT(*renew_at, cert->not_after());

  // The token is single-use: a second bootstrap is refused with the hub's reason.
  auto again = Bootstrap(*bundle, "test");
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, HasSubstr("HTTP 403"));
}

TEST(BootstrapTest, WrongTokenIsRefused) {
  test::TestHub hub;
  auto bundle = ParseBootstrapBundle(hub.RegisterYaml("c1"));
  ASSERT_TRUE(bundle.ok());
  bundle->set_token("vmbt_wrong");
  auto id = Bootstrap(*bundle, "test");
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(id.error().message, HasSubstr("refused the bootstrap of cluster c1 (HTTP 403)"));
}

TEST(BootstrapTest, AnUnreachableHubIsUnavailableAndARefusalIsPermissionDenied) {
  auto hub = std::make_unique<test::TestHub>();
  auto bundle = ParseBootstrapBundle(hub->RegisterYaml("c1"));
  ASSERT_TRUE(bundle.ok());
  auto good = *bundle;
  bundle->set_token("vmbt_wrong");
  auto refused = Bootstrap(*bundle, "test");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied) << refused.error().message;

  // Nothing listens on the port the bundle names once the hub is gone.
  hub.reset();
  auto unreachable = Bootstrap(good, "test", std::chrono::seconds(2));
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.error().code, ErrorCode::kUnavailable) << unreachable.error().message;
}

TEST(BootstrapRetryTest, UnavailableIsRetriedWithGrowingWaitsUntilItWorks) {
  int calls = 0;
  std::vector<std::chrono::milliseconds> waits;
  auto id = BootstrapWithRetry(
      [&]() -> Result<AgentIdentity> {
        if (++calls < 4) return MakeError("HTTP 503: no leader", ErrorCode::kUnavailable);
        AgentIdentity identity;
        identity.cluster = "c1";
        return identity;
      },
      {.first_wait = std::chrono::seconds(1),
       .max_wait = std::chrono::seconds(3),
       .give_up_after = std::chrono::minutes(1)},
      [&](std::chrono::milliseconds d) { waits.push_back(d); });
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->cluster, "c1");
  EXPECT_EQ(calls, 4);
  EXPECT_THAT(waits, ::testing::ElementsAre(std::chrono::seconds(1), std::chrono::seconds(2), std::chrono::seconds(3)));
}

TEST(BootstrapRetryTest, ARefusalIsNotRetried) {
  int calls = 0;
  auto id = BootstrapWithRetry(
      [&]() -> Result<AgentIdentity> {
        ++calls;
        return MakeError("HTTP 403: token used", ErrorCode::kPermissionDenied);
      },
      {}, [](std::chrono::milliseconds) { FAIL() << "slept after a refusal"; });
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(id.error().code, ErrorCode::kPermissionDenied);
}

TEST(BootstrapRetryTest, GivesUpNamingTheAttemptsAndTheLastCause) {
  int calls = 0;
  std::chrono::milliseconds slept{0};
  auto id = BootstrapWithRetry(
      [&]() -> Result<AgentIdentity> {
        ++calls;
        return MakeError("connection refused", ErrorCode::kUnavailable);
      },
      {.first_wait = std::chrono::seconds(1),
       .max_wait = std::chrono::seconds(4),
       .give_up_after = std::chrono::seconds(10)},
      [&](std::chrono::milliseconds d) { slept += d; });
  ASSERT_FALSE(id.ok());
  EXPECT_LE(slept, std::chrono::seconds(10));
  EXPECT_EQ(slept, std::chrono::seconds(7));  // 1 + 2 + 4; a further 4 would pass 10
  EXPECT_EQ(calls, 4);
  EXPECT_THAT(id.error().message, HasSubstr("gave up after 4 attempts over 7 s: connection refused"));
}

TEST(BootstrapTest, BundleErrorsNameTheField) {
  auto missing = ParseBootstrapBundle("apiVersion: vmesh.dev/v1\nkind: BootstrapBundle\ncluster: c1\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("hubUrl is missing"));
  auto garbage = ParseBootstrapBundle("[1, 2");
  EXPECT_FALSE(garbage.ok());
  EXPECT_EQ(*HubHttpsUrl("wss://hub.example:9900", "/v1/bootstrap"), "https://hub.example:9900/v1/bootstrap");
  EXPECT_FALSE(HubHttpsUrl("http://hub.example", "/v1/bootstrap").ok());
}

AgentIdentity SampleIdentity() {
  auto key = NewIdentityKey("c1");
  EXPECT_TRUE(key.ok());
  auto root_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  const auto now = std::chrono::system_clock::now();
  auto root = *pki::IssueRootCa(root_key, {.organization = "vmesh", .common_name = "link CA"}, now);
  auto signer = *pki::CaSigner::Create(root, root_key);
  auto cert = pki::IssueLeaf(signer, key->csr, {.uri_sans = {"spiffe://hub1/cluster/c1"}, .client_auth = true}, now);
  EXPECT_TRUE(cert.ok()) << cert.error().message;
  return AgentIdentity{"c1", "hub1", "wss://127.0.0.1:9900", root.ToPem(), key->key.ToPem(), cert->ToPem()};
}

TEST(FileIdentityStoreTest, RoundTripsWithMode0600) {
  TempDir dir;
  const std::string path = dir.path() + "/identity.json";
  auto store = MakeFileIdentityStore(path);
  auto empty = RunTask(store->Load());
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_FALSE(empty->has_value());

  const AgentIdentity id = SampleIdentity();
  Status saved = RunTask(store->Save(id));
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto loaded = RunTask(MakeFileIdentityStore(path)->Load());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ(**loaded, id);
}

TEST(FileIdentityStoreTest, MismatchedKeyIsAnError) {
  TempDir dir;
  const std::string path = dir.path() + "/identity.json";
  AgentIdentity id = SampleIdentity();
  id.key_pem = SampleIdentity().key_pem;
  ASSERT_TRUE(RunTask(MakeFileIdentityStore(path)->Save(id)).ok());
  auto loaded = RunTask(MakeFileIdentityStore(path)->Load());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.error().message, HasSubstr("not for the identity key"));
}

// The state objects in a cluster: the in-process fake (the HTTP client's own contract is common/kube's test).
class KubeStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = kube::MakeFakeKubeClient();
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = std::move(*client);
  }
  kube::KubeClientPtr client_;
};

TEST_F(KubeStateTest, SecretIdentityStoreCreatesTheNamespaceAndRoundTrips) {
  auto store = MakeSecretIdentityStore(*client_, "vmesh-system");
  EXPECT_EQ(store->Describe(), "Secret vmesh-system/vmesh-agent-identity");
  auto empty = RunTask(store->Load());
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_FALSE(empty->has_value());

  const AgentIdentity id = SampleIdentity();
  Status saved = RunTask(store->Save(id));
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  auto loaded = RunTask(MakeSecretIdentityStore(*client_, "vmesh-system")->Load());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ(**loaded, id);

  // Stored as a Secret (base64 on the wire, not the PEM in clear).
  auto raw = RunTask(client_->Get(kube::ResourcePath("v1", "secrets", "vmesh-system", kIdentitySecretName)));
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->status, 200);
  EXPECT_EQ(raw->raw.find("BEGIN PRIVATE KEY"), std::string::npos);

  // A second save replaces it (renewal).
  AgentIdentity renewed = SampleIdentity();
  ASSERT_TRUE(RunTask(store->Save(renewed)).ok());
  auto again = RunTask(store->Load());
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ(**again, renewed);
}

TEST_F(KubeStateTest, SyncStateConfigMapRoundTrips) {
  auto store = MakeConfigMapSyncStateStore(*client_, "vmesh-system");
  auto empty = RunTask(store->Load());
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE(empty->held.empty());
  SyncState state{{{"kube/networking.istio.io/v1beta1/ServiceEntry/istio-system/x", "abc"}, {"cert/m1", "def"}}, "7-2"};
  Status saved = RunTask(store->Save(state));
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  auto loaded = RunTask(MakeConfigMapSyncStateStore(*client_, "vmesh-system")->Load());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(*loaded, state);
  state.held.erase("cert/m1");
  ASSERT_TRUE(RunTask(store->Save(state)).ok());
  EXPECT_EQ(*RunTask(store->Load()), state);
}

}  // namespace
}  // namespace vmesh::agent
