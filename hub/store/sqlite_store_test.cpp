#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "hub/store/kube_store_testing.h"
#include "hub/store/memory_store.h"
#include "hub/store/sqlite.h"
#include "hub/store/store.h"
#include "vmesh/api/v1/access_policy.pb.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace vmesh::hub {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

IssuedIdentity Identity(const std::string& cluster, const std::string& serial, TimePoint now) {
  return IssuedIdentity{serial, cluster, now, now + 24h, "fp-" + serial};
}

enum class Backend { kSqlite, kMemory, kKubernetes };

// The Store contract, held by every implementation: the same answers, refusals and messages. Reopen() gives the
// SQLite store a fresh handle on its file and the Kubernetes store a fresh store on the same (fake) API server (what
// was committed must be there); the memory store stays as it is.
class StoreContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kMemory) {
      store_ = MakeMemoryStore();
      return;
    }
    if (GetParam() == Backend::kKubernetes) {
      auto cluster = testing::MakeHubCluster();
      ASSERT_TRUE(cluster.ok()) << cluster.error().message;
      cluster_ = std::move(*cluster);
      Reopen();
      return;
    }
    char tmpl[] = "/tmp/vmesh-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/hub.db";
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    if (GetParam() == Backend::kMemory) return;
    store_.reset();
    auto s = GetParam() == Backend::kKubernetes ? testing::OpenStoreOn(*cluster_) : OpenSqliteStore(path_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  std::string dir_;
  std::string path_;
  kube::FakeKubeClientPtr cluster_;  // the Kubernetes store's API server
  StorePtr store_;
  TimePoint now_ = TimePoint(std::chrono::seconds(1'800'000'000));
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest,
                         ::testing::Values(Backend::kSqlite, Backend::kMemory, Backend::kKubernetes),
                         [](const auto& info) {
                           switch (info.param) {
                             case Backend::kSqlite:
                               return "Sqlite";
                             case Backend::kMemory:
                               return "Memory";
                             case Backend::kKubernetes:
                               return "Kubernetes";
                           }
                           return "Unknown";
                         });

// What only the SQLite store does: files, schema versions and migrations, durability across kill -9.
class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/hub.db";
    store_ = Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  StorePtr Open() {
    auto s = OpenSqliteStore(path_);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::string dir_;
  std::string path_;
  StorePtr store_;
  TimePoint now_ = TimePoint(std::chrono::seconds(1'800'000'000));
};

TEST_P(StoreContractTest, TokenIsSingleUse) {
  ASSERT_TRUE(store_->RegisterCluster("c1", "hash1", now_ + 1h, now_).ok());
  EXPECT_TRUE(store_->CheckBootstrapToken("c1", "hash1", now_).ok());
  Status first = store_->CompleteBootstrap("c1", "hash1", Identity("c1", "aa01", now_), now_);
  ASSERT_TRUE(first.ok()) << first.error().message;
  Status replay = store_->CompleteBootstrap("c1", "hash1", Identity("c1", "aa02", now_), now_ + 1s);
  ASSERT_FALSE(replay.ok());
  EXPECT_THAT(replay.error().message, HasSubstr("was already used"));
  EXPECT_THAT(store_->CheckBootstrapToken("c1", "hash1", now_).error().message, HasSubstr("single-use"));
  auto c = store_->GetCluster("c1");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->identity_serial, "aa01");
  EXPECT_EQ((*c)->state, ClusterState::kRegistered);
  EXPECT_TRUE(store_->CheckIdentity("c1", "aa01").ok());
  EXPECT_FALSE(store_->CheckIdentity("c1", "aa02").ok()) << "the replayed bootstrap recorded nothing";
}

TEST_P(StoreContractTest, ExpiredAndWrongTokensAreRefusedWithReasons) {
  ASSERT_TRUE(store_->RegisterCluster("c1", "hash1", now_ + 1h, now_).ok());
  ASSERT_TRUE(store_->RegisterCluster("c2", "hash2", now_ + 1h, now_).ok());
  EXPECT_THAT(store_->CheckBootstrapToken("c1", "hash1", now_ + 2h).error().message, HasSubstr("expired at"));
  EXPECT_THAT(store_->CheckBootstrapToken("c1", "nope", now_).error().message, HasSubstr("invalid bootstrap token"));
  // c2's token does not bootstrap c1, and says no more than an unknown token would.
  EXPECT_EQ(store_->CheckBootstrapToken("c1", "hash2", now_).error().message,
            store_->CheckBootstrapToken("c1", "nope", now_).error().message);
  EXPECT_FALSE(store_->CompleteBootstrap("c1", "hash2", Identity("c1", "x", now_), now_).ok());
  EXPECT_FALSE(store_->CompleteBootstrap("c1", "hash1", Identity("c1", "x", now_), now_ + 2h).ok());
}

TEST_P(StoreContractTest, RegisteringAgainReplacesAnUnusedTokenButNotABootstrappedCluster) {
  ASSERT_TRUE(store_->RegisterCluster("c1", "old", now_ + 1h, now_).ok());
  ASSERT_TRUE(store_->RegisterCluster("c1", "new", now_ + 1h, now_).ok());
  EXPECT_FALSE(store_->CheckBootstrapToken("c1", "old", now_).ok());
  ASSERT_TRUE(store_->CompleteBootstrap("c1", "new", Identity("c1", "s1", now_), now_).ok());
  Status again = store_->RegisterCluster("c1", "third", now_ + 1h, now_);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, HasSubstr("cluster deregister c1"));
}

TEST_P(StoreContractTest, DeregisterRevokesIdentitiesAndAllowsANewRegistration) {
  ASSERT_TRUE(store_->RegisterCluster("c1", "h", now_ + 1h, now_).ok());
  ASSERT_TRUE(store_->CompleteBootstrap("c1", "h", Identity("c1", "s1", now_), now_).ok());
  ASSERT_TRUE(store_->MarkConnected("c1", "v0.1", now_).ok());
  ASSERT_TRUE(store_->DeregisterCluster("c1", now_ + 1s).ok());
  EXPECT_THAT(store_->CheckIdentity("c1", "s1").error().message, HasSubstr("deregistered"));
  EXPECT_EQ((*store_->GetCluster("c1"))->state, ClusterState::kDeregistered);
  EXPECT_THAT(store_->DeregisterCluster("c1", now_).error().message, HasSubstr("already deregistered"));
  EXPECT_TRUE(store_->MarkConnected("c1", "v0.1", now_).ok());
  EXPECT_EQ((*store_->GetCluster("c1"))->state, ClusterState::kDeregistered) << "a revoked agent cannot reconnect";
  ASSERT_TRUE(store_->RegisterCluster("c1", "h2", now_ + 1h, now_ + 2s).ok());
  ASSERT_TRUE(store_->CompleteBootstrap("c1", "h2", Identity("c1", "s2", now_), now_ + 3s).ok());
  EXPECT_TRUE(store_->CheckIdentity("c1", "s2").ok());
  EXPECT_FALSE(store_->CheckIdentity("c1", "s1").ok()) << "identities of the old registration stay revoked";
}

TEST_P(StoreContractTest, RevokingIdentitiesBeforeASerialKeepsThatSerialAndNewerOnes) {
  ASSERT_TRUE(store_->RegisterCluster("c1", "h1", now_ + 1h, now_).ok());
  ASSERT_TRUE(store_->RegisterCluster("c2", "h2", now_ + 1h, now_).ok());
  ASSERT_TRUE(store_->CompleteBootstrap("c1", "h1", Identity("c1", "s1", now_), now_).ok());
  ASSERT_TRUE(store_->CompleteBootstrap("c2", "h2", Identity("c2", "t1", now_), now_).ok());
  ASSERT_TRUE(store_->RecordIdentity(Identity("c1", "s2", now_)).ok());
  ASSERT_TRUE(store_->RecordIdentity(Identity("c1", "s3", now_)).ok());
  ASSERT_TRUE(store_->RecordIdentity(Identity("c1", "s4", now_)).ok());

  EXPECT_EQ(*store_->RevokeIdentitiesBefore("c2", "s3", now_), 0) << "s3 is not c2's";
  auto revoked = store_->RevokeIdentitiesBefore("c1", "s3", now_);
  ASSERT_TRUE(revoked.ok()) << revoked.error().message;
  EXPECT_EQ(*revoked, 2);
  EXPECT_THAT(store_->CheckIdentity("c1", "s1").error().message, HasSubstr("s1 of cluster c1 is revoked"));
  EXPECT_FALSE(store_->CheckIdentity("c1", "s2").ok());
  EXPECT_TRUE(store_->CheckIdentity("c1", "s3").ok());
  EXPECT_TRUE(store_->CheckIdentity("c1", "s4").ok()) << "a newer renewal stays valid";
  EXPECT_TRUE(store_->CheckIdentity("c2", "t1").ok()) << "other clusters are untouched";
  EXPECT_EQ(*store_->RevokeIdentitiesBefore("c1", "s3", now_), 0) << "idempotent";
  EXPECT_EQ(*store_->RevokeIdentitiesBefore("c1", "nope", now_), 0);
  // Survives a reopen (SQLite).
  Reopen();
  EXPECT_FALSE(store_->CheckIdentity("c1", "s2").ok());
  EXPECT_TRUE(store_->CheckIdentity("c1", "s3").ok());
}

TEST_P(StoreContractTest, IdentityOfAnotherClusterIsRefused) {
  ASSERT_TRUE(store_->RegisterCluster("c1", "h1", now_ + 1h, now_).ok());
  ASSERT_TRUE(store_->RegisterCluster("c2", "h2", now_ + 1h, now_).ok());
  ASSERT_TRUE(store_->CompleteBootstrap("c1", "h1", Identity("c1", "s1", now_), now_).ok());
  EXPECT_THAT(store_->CheckIdentity("c2", "s1").error().message, HasSubstr("belongs to cluster c1"));
  EXPECT_THAT(store_->CheckIdentity("c2", "ffff").error().message, HasSubstr("not issued by this hub"));
  EXPECT_THAT(store_->RecordIdentity(Identity("c9", "s9", now_)).error().message, HasSubstr("not registered"));
}

TEST_P(StoreContractTest, ConnectionStateTransitions) {
  ASSERT_TRUE(store_->RegisterCluster("c1", "h", now_ + 1h, now_).ok());
  ASSERT_TRUE(store_->MarkConnected("c1", "0.1.0", now_).ok());
  ASSERT_TRUE(store_->MarkHeartbeat("c1", now_ + 10s).ok());
  auto c = *store_->GetCluster("c1");
  EXPECT_EQ(c->state, ClusterState::kConnected);
  EXPECT_EQ(c->agent_version, "0.1.0");
  EXPECT_EQ(*c->connected_since, now_);
  EXPECT_EQ(*c->last_heartbeat, now_ + 10s);
  ASSERT_TRUE(store_->MarkDisconnected("c1", now_ + 20s).ok());
  c = *store_->GetCluster("c1");
  EXPECT_EQ(c->state, ClusterState::kDisconnected);
  EXPECT_FALSE(c->connected_since.has_value());
  EXPECT_EQ(*c->last_heartbeat, now_ + 10s) << "last seen is kept for status";
  auto all = store_->ListClusters();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(ClusterStateName((*all)[0].state), "DISCONNECTED");
}

TEST_P(StoreContractTest, LinkCaIsStoredOnceAndNeverReplaced) {
  EXPECT_FALSE(store_->GetLinkCa()->has_value());
  ASSERT_TRUE(store_->PutLinkCa({"CERT", "KEY"}).ok());
  EXPECT_THAT(store_->PutLinkCa({"CERT2", "KEY2"}).error().message, HasSubstr("never replaced"));
  Reopen();
  auto ca = store_->GetLinkCa();
  ASSERT_TRUE(ca.ok() && ca->has_value());
  EXPECT_EQ((*ca)->certificate_pem, "CERT");
  EXPECT_EQ((*ca)->key_pem, "KEY");
}

TEST_P(StoreContractTest, SettingsAreWrittenOnce) {
  EXPECT_FALSE(store_->GetSetting("hub-name")->has_value());
  EXPECT_EQ(*store_->PutSettingIfAbsent("hub-name", "hub-a"), "hub-a");
  EXPECT_EQ(*store_->PutSettingIfAbsent("hub-name", "hub-b"), "hub-a") << "the first value stays";
  Reopen();
  EXPECT_EQ(**store_->GetSetting("hub-name"), "hub-a");
}

TEST_P(StoreContractTest, RootCaIsNeverReplacedAndIssuedCertificatesAreListed) {
  RootCaRecord first{"vmesh/vm1", "CERT1", "", "KEY1", "generated", now_};
  EXPECT_EQ(store_->PutRootCaIfAbsent(first)->certificate_pem, "CERT1");
  RootCaRecord second{"vmesh/vm1", "CERT2", "", "KEY2", "generated", now_};
  EXPECT_EQ(store_->PutRootCaIfAbsent(second)->certificate_pem, "CERT1") << "the first root stays";
  ASSERT_TRUE(store_->RecordIssuedCertificate({"01", "vmesh/vm1", "m1", "c1", now_, now_ + 24h, "fp", now_}).ok());
  EXPECT_FALSE(store_->RecordIssuedCertificate({"01", "vmesh/vm1", "m1", "c1", now_, now_ + 24h, "fp", now_}).ok());
  Reopen();
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1"))->key_pem, "KEY1");
  EXPECT_FALSE(store_->GetRootCa("vmesh/other")->has_value());
  auto issued = store_->ListIssuedCertificates();
  ASSERT_TRUE(issued.ok());
  ASSERT_EQ(issued->size(), 1u);
  EXPECT_EQ((*issued)[0].mesh, "m1");
  EXPECT_EQ((*issued)[0].not_after, now_ + 24h);
}

// Limited trust keeps a VirtualMesh's gateway CA as a root record under "<ns>/<name>/gateway-ca" (hub/ca
// GatewayCaKey): every store keeps it apart from the VirtualMesh's root, durably, and lists it (so key sealing covers
// it).
TEST_P(StoreContractTest, AGatewayCaIsARootRecordOfItsOwn) {
  ASSERT_TRUE(store_->PutRootCaIfAbsent({"vmesh/vm1/gateway-ca", "GWCERT", "", "GWKEY", "generated", now_}).ok());
  EXPECT_FALSE(store_->GetRootCa("vmesh/vm1")->has_value()) << "a limited VirtualMesh has no root";
  ASSERT_TRUE(store_->PutRootCaIfAbsent({"vmesh/vm1", "CERT1", "", "KEY1", "generated", now_}).ok());
  Reopen();
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1/gateway-ca"))->certificate_pem, "GWCERT");
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1/gateway-ca"))->key_pem, "GWKEY");
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1"))->certificate_pem, "CERT1");
  auto all = store_->ListRootCas();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].virtual_mesh, "vmesh/vm1");
  EXPECT_EQ((*all)[1].virtual_mesh, "vmesh/vm1/gateway-ca");
  ASSERT_TRUE(store_->ReplaceStoredKeys({{"vmesh/vm1/gateway-ca", "GWKEY", "SEALED"}}).ok());
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1/gateway-ca"))->key_pem, "SEALED");
}

// A root rotation survives a restart in the phase it reached, moves only from the phase the caller saw, and ends
// with the new root in force (completed) or the old one kept (rolled back).
TEST_P(StoreContractTest, RootRotationPersistsItsPhaseAndEndsAtomically) {
  RootRotationRecord rotation{
      "vmesh/vm1", "TRUST_BOTH", {"vmesh/vm1", "NEW1", "", "NEWKEY1", "generated", now_ + 1h}, "vmeshctl rotate root",
      now_ + 1h,   now_ + 1h};
  Status no_root = store_->StartRootRotation(rotation);
  ASSERT_FALSE(no_root.ok());
  EXPECT_EQ(no_root.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store_->PutRootCaIfAbsent({"vmesh/vm1", "CERT1", "", "KEY1", "generated", now_}).ok());
  ASSERT_TRUE(store_->PutRootCaIfAbsent({"vmesh/vm2", "CERT2", "", "KEY2", "generated", now_}).ok());
  EXPECT_FALSE(store_->GetRootRotation("vmesh/vm1")->has_value());
  ASSERT_TRUE(store_->StartRootRotation(rotation).ok());
  Status twice = store_->StartRootRotation(rotation);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict);
  EXPECT_THAT(twice.error().message, HasSubstr("in progress already (phase TRUST_BOTH)"));

  Reopen();  // a hub restarted mid-phase finds the rotation where it was
  auto found = store_->GetRootRotation("vmesh/vm1");
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->phase, "TRUST_BOTH");
  EXPECT_EQ((*found)->reason, "vmeshctl rotate root");
  EXPECT_EQ((*found)->next.certificate_pem, "NEW1");
  EXPECT_EQ((*found)->next.key_pem, "NEWKEY1");
  EXPECT_EQ((*found)->next.virtual_mesh, "vmesh/vm1");
  EXPECT_EQ((*found)->next.created_at, now_ + 1h);
  EXPECT_EQ((*found)->started_at, now_ + 1h);
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1"))->certificate_pem, "CERT1") << "the old root signs until it is replaced";

  // Compare-and-swap on the phase.
  Status stale = store_->SetRootRotationPhase("vmesh/vm1", "ISSUE_NEW", "TRUST_NEW", now_ + 2h);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_EQ(store_->SetRootRotationPhase("vmesh/none", "TRUST_BOTH", "ISSUE_NEW", now_).error().code,
            ErrorCode::kNotFound);
  ASSERT_TRUE(store_->SetRootRotationPhase("vmesh/vm1", "TRUST_BOTH", "ISSUE_NEW", now_ + 2h).ok());
  Reopen();
  EXPECT_EQ((*store_->GetRootRotation("vmesh/vm1"))->phase, "ISSUE_NEW");
  EXPECT_EQ((*store_->GetRootRotation("vmesh/vm1"))->phase_since, now_ + 2h);
  EXPECT_FALSE(store_->FinishRootRotation("vmesh/vm1", "TRUST_BOTH", true).ok()) << "not in that phase";
  ASSERT_TRUE(store_->SetRootRotationPhase("vmesh/vm1", "ISSUE_NEW", "TRUST_NEW", now_ + 3h).ok());
  ASSERT_TRUE(store_->FinishRootRotation("vmesh/vm1", "TRUST_NEW", true).ok());
  Reopen();
  EXPECT_FALSE(store_->GetRootRotation("vmesh/vm1")->has_value());
  auto root = store_->GetRootCa("vmesh/vm1");
  ASSERT_TRUE(root.ok() && root->has_value());
  EXPECT_EQ((*root)->certificate_pem, "NEW1");
  EXPECT_EQ((*root)->key_pem, "NEWKEY1");
  EXPECT_EQ((*root)->created_at, now_ + 1h);
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm2"))->certificate_pem, "CERT2") << "other roots are untouched";
  EXPECT_EQ(store_->FinishRootRotation("vmesh/vm1", "TRUST_NEW", true).error().code, ErrorCode::kNotFound);

  // Rolled back: the old root stays, the next one is dropped; a new rotation may start afterwards.
  RootRotationRecord again{
      "vmesh/vm2", "TRUST_BOTH", {"vmesh/vm2", "NEW2", "CHAIN2", "NEWKEY2", "secret", now_}, "secret vmesh/r changed",
      now_,        now_};
  ASSERT_TRUE(store_->StartRootRotation(again).ok());
  EXPECT_EQ((*store_->GetRootRotation("vmesh/vm2"))->next.chain_pem, "CHAIN2");
  ASSERT_TRUE(store_->SetRootRotationPhase("vmesh/vm2", "TRUST_BOTH", "ROLLBACK_TRUST_OLD", now_).ok());
  ASSERT_TRUE(store_->FinishRootRotation("vmesh/vm2", "ROLLBACK_TRUST_OLD", false).ok());
  Reopen();
  EXPECT_FALSE(store_->GetRootRotation("vmesh/vm2")->has_value());
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm2"))->certificate_pem, "CERT2");
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm2"))->key_pem, "KEY2");
  EXPECT_TRUE(store_->StartRootRotation(again).ok());
}

TEST_P(StoreContractTest, StoredKeysAreReplacedAllOrNothing) {
  ASSERT_TRUE(store_->PutLinkCa({"LINK-CERT", "LINK-KEY"}).ok());
  ASSERT_TRUE(store_->PutRootCaIfAbsent({"vmesh/vm1", "CERT1", "", "KEY1", "generated", now_}).ok());
  ASSERT_TRUE(store_->PutRootCaIfAbsent({"vmesh/vm2", "CERT2", "", "KEY2", "generated", now_}).ok());
  // One stale expectation: nothing changes.
  Status stale = store_->ReplaceStoredKeys({{"", "LINK-KEY", "SEALED-LINK"}, {"vmesh/vm2", "OTHER", "SEALED2"}});
  ASSERT_FALSE(stale.ok());
  EXPECT_THAT(stale.error().message, HasSubstr("the root key of vmesh/vm2 changed"));
  EXPECT_EQ((*store_->GetLinkCa())->key_pem, "LINK-KEY");
  EXPECT_FALSE(store_->ReplaceStoredKeys({{"vmesh/none", "K", "S"}}).ok()) << "a missing key";
  ASSERT_TRUE(store_->ReplaceStoredKeys({{"", "LINK-KEY", "SEALED-LINK"}, {"vmesh/vm2", "KEY2", "SEALED2"}}).ok());
  ASSERT_TRUE(store_->ReplaceStoredKeys({}).ok());
  Reopen();
  EXPECT_EQ((*store_->GetLinkCa())->key_pem, "SEALED-LINK");
  EXPECT_EQ((*store_->GetLinkCa())->certificate_pem, "LINK-CERT");
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1"))->key_pem, "KEY1");
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm2"))->key_pem, "SEALED2");
}

TEST_P(StoreContractTest, AMeshIsBoundToItsFirstClusterForGood) {
  ASSERT_TRUE(store_->RegisterCluster("c1", "h1", now_ + 1h, now_).ok());
  ASSERT_TRUE(store_->CompleteBootstrap("c1", "h1", Identity("c1", "s1", now_), now_).ok());
  EXPECT_FALSE(store_->GetMeshOwner("istiod-istio-system-c1")->has_value());
  EXPECT_EQ(*store_->BindMeshIfAbsent("istiod-istio-system-c1", "c1", now_), "c1");
  EXPECT_EQ(*store_->BindMeshIfAbsent("istiod-istio-system-c1", "c2", now_ + 1s), "c1") << "the first binding wins";
  // Neither a restart nor the owner's deregistration frees the name.
  Reopen();
  ASSERT_TRUE(store_->DeregisterCluster("c1", now_ + 2s).ok());
  Reopen();
  EXPECT_EQ(**store_->GetMeshOwner("istiod-istio-system-c1"), "c1");
  EXPECT_EQ(*store_->BindMeshIfAbsent("istiod-istio-system-c1", "c2", now_ + 3s), "c1");
  EXPECT_EQ(*store_->BindMeshIfAbsent("istiod-istio-system-c2", "c2", now_ + 3s), "c2");
  const std::map<std::string, std::string> want = {{"istiod-istio-system-c1", "c1"}, {"istiod-istio-system-c2", "c2"}};
  EXPECT_EQ(*store_->ListMeshOwners(), want);
}

TEST_F(SqliteStoreTest, UpgradeBindsMeshesToTheClusterThatGotTheirFirstCertificate) {
  store_.reset();
  {
    // A store as schema 4 left it: certificates issued, no bindings (c2 got one for c1's mesh later), no rotations.
    auto db = Database::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(
        db->Exec("DROP TABLE root_rotations; DROP TABLE mesh_owners; UPDATE schema_version SET version = 4").ok());
    ASSERT_TRUE(db->Exec("INSERT INTO issued_certificates VALUES ('02', 'vmesh/vm1', 'm1', 'c2', 0, 1, 'fp', 20), "
                         "('01', 'vmesh/vm1', 'm1', 'c1', 0, 1, 'fp', 10)")
                    .ok());
  }
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(**store_->GetMeshOwner("m1"), "c1");
}

// Bodies are real API messages (the Kubernetes store writes them as custom resources); resource versions are
// only compared (the Kubernetes store's are the API server's).
StoredObject ApiObject(const std::string& kind, const std::string& name, const std::string& mesh) {
  StoredObject o{kind, "vmesh", name, "uid-" + name, 1, 0, "2026-01-01T00:00:00Z", ""};
  if (kind == "VirtualMesh") {
    api::v1::VirtualMesh vm;
    vm.set_api_version("networking.vmesh.dev/v1");
    vm.set_kind(kind);
    vm.mutable_metadata()->set_name(name);
    vm.mutable_metadata()->set_namespace_("vmesh");
    vm.mutable_spec()->add_meshes()->set_name(mesh);
    o.body = vm.SerializeAsString();
  } else {
    api::v1::AccessPolicy ap;
    ap.set_api_version("networking.vmesh.dev/v1");
    ap.set_kind(kind);
    ap.mutable_metadata()->set_name(name);
    ap.mutable_metadata()->set_namespace_("vmesh");
    o.body = ap.SerializeAsString();
  }
  return o;
}

TEST_P(StoreContractTest, ObjectsGetIncreasingResourceVersionsAndOptimisticConcurrency) {
  StoredObject vm = ApiObject("VirtualMesh", "vm1", "mesh-1");
  auto created = store_->PutObject(vm, 0);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_GT(created->resource_version, 0);
  EXPECT_THAT(store_->PutObject(vm, 0).error().message, HasSubstr("conflict: VirtualMesh vmesh/vm1 was modified"));
  vm.body = ApiObject("VirtualMesh", "vm1", "mesh-2").body;
  vm.generation = 2;
  auto updated = store_->PutObject(vm, created->resource_version);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_GT(updated->resource_version, created->resource_version);
  EXPECT_FALSE(store_->PutObject(vm, created->resource_version).ok()) << "stale update";
  api::v1::VirtualMeshStatus status;
  status.set_observed_generation(2);
  status.set_state(api::v1::ACCEPTED);
  vm.status = status.SerializeAsString();
  auto unconditional = store_->PutObject(vm, std::nullopt);
  ASSERT_TRUE(unconditional.ok()) << "unconditional write: " << unconditional.error().message;
  EXPECT_GT(unconditional->resource_version, updated->resource_version);
  Reopen();
  auto got = store_->GetObject("VirtualMesh", "vmesh", "vm1");
  ASSERT_TRUE(got.ok() && got->has_value());
  api::v1::VirtualMesh body;
  ASSERT_TRUE(body.ParseFromString((*got)->body));
  ASSERT_EQ(body.spec().meshes_size(), 1);
  EXPECT_EQ(body.spec().meshes(0).name(), "mesh-2");
  api::v1::VirtualMeshStatus got_status;
  ASSERT_TRUE(got_status.ParseFromString((*got)->status));
  EXPECT_EQ(got_status.state(), api::v1::ACCEPTED);
  EXPECT_EQ((*got)->generation, 2);
  EXPECT_EQ((*got)->resource_version, unconditional->resource_version);
  if (GetParam() != Backend::kKubernetes) {  // the hub's own stores count one per write
    EXPECT_EQ(created->resource_version, 1);
    EXPECT_EQ(updated->resource_version, 2);
    EXPECT_EQ(unconditional->resource_version, 3);
  }
  ASSERT_TRUE(store_->PutObject(ApiObject("VirtualMesh", "a-first", "mesh-3"), 0).ok());
  ASSERT_TRUE(store_->PutObject(ApiObject("AccessPolicy", "ap", ""), 0).ok());
  auto list = store_->ListObjects("VirtualMesh");
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a-first");
  EXPECT_TRUE(*store_->DeleteObject("VirtualMesh", "vmesh", "vm1"));
  EXPECT_FALSE(*store_->DeleteObject("VirtualMesh", "vmesh", "vm1"));
  EXPECT_EQ(store_->ListObjects("VirtualMesh")->size(), 1u);
}

TEST_F(SqliteStoreTest, DatabaseFilesArePrivate) {
  ASSERT_TRUE(store_->RegisterCluster("c1", "h", now_ + 1h, now_).ok());
  for (const std::string& f : {path_, path_ + "-wal"}) {
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefused) {
  store_.reset();
  {
    auto db = Database::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("UPDATE schema_version SET version = 999").ok());
  }
  auto s = OpenSqliteStore(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("newer vmesh-hub (schema version 999"));
}

TEST_P(StoreContractTest, ConcurrentRegistrationsAllLand) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string name = "c" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(store_->RegisterCluster(name, "h-" + name, now_ + 1h, now_).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store_->ListClusters()->size(), 100u);
}

// A kill -9 at any moment loses no committed registration: a child registers clusters as fast as it can and
// reports each one after its commit returned; the parent kills it mid-stream and checks every reported one.
TEST_F(SqliteStoreTest, KillNineLosesNoCommittedRegistration) {
  store_.reset();
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(pipefd[0]);
    auto store = OpenSqliteStore(path_);
    if (!store.ok()) _exit(2);
    for (int i = 0;; ++i) {
      std::string name = "k" + std::to_string(i);
      if (!(*store)->RegisterCluster(name, "h" + name, now_ + 1h, now_).ok()) _exit(3);
      std::string line = name + "\n";
      if (write(pipefd[1], line.data(), line.size()) < 0) _exit(4);
    }
  }
  close(pipefd[1]);
  std::string reported;
  char buf[4096];
  while (std::count(reported.begin(), reported.end(), '\n') < 200) {
    ssize_t n = read(pipefd[0], buf, sizeof buf);
    ASSERT_GT(n, 0) << "child stopped early";
    reported.append(buf, n);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(pipefd[0]);
  ASSERT_TRUE(WIFSIGNALED(status));

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  size_t start = 0, checked = 0;
  while (true) {
    size_t eol = reported.find('\n', start);
    if (eol == std::string::npos) break;
    std::string name = reported.substr(start, eol - start);
    auto c = store_->GetCluster(name);
    ASSERT_TRUE(c.ok() && c->has_value()) << name << " was committed but is lost";
    EXPECT_TRUE(store_->CheckBootstrapToken(name, "h" + name, now_).ok());
    start = eol + 1;
    ++checked;
  }
  EXPECT_GE(checked, 200u);
}

}  // namespace
}  // namespace vmesh::hub
