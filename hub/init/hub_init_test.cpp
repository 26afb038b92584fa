#include "hub/init/hub_init.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/pki/aead.h"
#include "common/pki/csr.h"
#include "common/pki/issuer.h"
#include "common/pki/verify.h"
#include "hub/store/memory_store.h"
#include "hub/store/sqlite.h"
#include "vmesh/config/v1/config.pb.h"

namespace vmesh::hub {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

class HubInitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-init-XXXXXX";
    root_ = mkdtemp(tmpl);
    options_.data_dir = root_ + "/data";
    options_.hub_name = "hub-a";
    options_.advertise_hosts = {"hub.example.com", "10.1.2.3"};
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  static unsigned Mode(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 0777;
  }
  std::string root_;
  InitOptions options_;
  TimePoint now_ = std::chrono::system_clock::now();
};

TEST_F(HubInitTest, CreatesLinkCaServerCertificateAndAdminConfig) {
  auto report = InitHub(options_, now_);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->hub_name, "hub-a");
  EXPECT_EQ(report->created.size(), 3u);
  const std::string& dir = options_.data_dir;
  EXPECT_EQ(Mode(dir), 0700u);
  EXPECT_EQ(Mode(StorePath(dir)), 0600u);
  EXPECT_EQ(Mode(ServerKeyPath(dir)), 0600u);
  EXPECT_EQ(Mode(AdminConfigPath(dir)), 0600u);

  config::v1::AdminConfig admin;
  auto errors = api::DecodeInto(*ReadFile(AdminConfigPath(dir)), &admin);
  ASSERT_TRUE(errors.empty()) << api::JoinErrors(errors);
  EXPECT_EQ(admin.hub_url(), "https://127.0.0.1:9901");
  auto ca = *pki::Certificate::FromPem(admin.hub_ca());
  EXPECT_TRUE(ca.is_ca());
  auto admin_cert = *pki::Certificate::FromPem(admin.client_certificate());
  EXPECT_TRUE(pki::VerifyChain(admin_cert, {ca}, {}, now_).ok());
  EXPECT_THAT(admin_cert.extended_key_usage(), ::testing::ElementsAre("clientAuth"));
  EXPECT_TRUE(pki::KeyMatchesCertificate(*pki::PrivateKey::FromPem(admin.client_key()), admin_cert).ok());

  auto chain = *pki::ParsePemBundle(*ReadFile(ServerCertificatePath(dir)));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_TRUE(pki::VerifyChain(chain[0], {ca}, {}, now_).ok());
  EXPECT_THAT(chain[0].dns_sans(), Contains("hub.example.com"));
  EXPECT_THAT(chain[0].dns_sans(), Contains("localhost"));
  EXPECT_THAT(chain[0].ip_sans(), Contains("10.1.2.3"));
  EXPECT_THAT(chain[0].ip_sans(), Contains("127.0.0.1"));
  EXPECT_THAT(chain[0].extended_key_usage(), ::testing::ElementsAre("serverAuth"));

  auto store = *OpenSqliteStore(StorePath(dir));
  auto signer = LoadLinkCa(*store);
  ASSERT_TRUE(signer.ok()) << signer.error().message;
  EXPECT_EQ(signer->certificate().Fingerprint(), ca.Fingerprint());
}

TEST_F(HubInitTest, RerunningNeverOverwritesAndKeepsTheFirstHubName) {
  ASSERT_TRUE(InitHub(options_, now_).ok());
  const std::string admin = *ReadFile(AdminConfigPath(options_.data_dir));
  const std::string cert = *ReadFile(ServerCertificatePath(options_.data_dir));
  options_.hub_name = "hub-b";
  auto again = InitHub(options_, now_);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->created.empty());
  EXPECT_EQ(again->kept.size(), 3u);
  EXPECT_EQ(again->hub_name, "hub-a");
  EXPECT_EQ(*ReadFile(AdminConfigPath(options_.data_dir)), admin);
  EXPECT_EQ(*ReadFile(ServerCertificatePath(options_.data_dir)), cert);
}

TEST_F(HubInitTest, MissingPiecesAreRecreatedAroundTheExistingLinkCa) {
  ASSERT_TRUE(InitHub(options_, now_).ok());
  auto store = *OpenSqliteStore(StorePath(options_.data_dir));
  const std::string ca = (*store->GetLinkCa())->certificate_pem;
  store.reset();
  std::filesystem::remove(AdminConfigPath(options_.data_dir));
  auto again = InitHub(options_, now_);
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(again->created, ::testing::ElementsAre(AdminConfigPath(options_.data_dir)));
  config::v1::AdminConfig admin;
  ASSERT_TRUE(api::DecodeInto(*ReadFile(AdminConfigPath(options_.data_dir)), &admin).empty());
  EXPECT_EQ(admin.hub_ca(), ca);
}

// The Kubernetes store's case: one shared store, a data directory per replica. The second replica's init keeps
// the store's hub name and link CA and makes its own server certificate and admin credential from that CA.
TEST_F(HubInitTest, ASharedStoreServesReplicasWithTheirOwnDataDirectories) {
  StorePtr store = MakeMemoryStore();
  auto first = InitHub(*store, options_, now_);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(std::filesystem::exists(StorePath(options_.data_dir))) << "no SQLite file with another store";
  EXPECT_THAT(first->created, Contains("link CA"));
  InitOptions second = options_;
  second.data_dir = root_ + "/replica-2";
  second.hub_name = "other-name";
  auto again = InitHub(*store, second, now_);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->hub_name, "hub-a");
  EXPECT_THAT(again->kept, Contains("link CA"));
  EXPECT_THAT(again->created, Contains(ServerCertificatePath(second.data_dir)));
  EXPECT_THAT(again->created, Contains(AdminConfigPath(second.data_dir)));
  auto ca = LoadLinkCa(*store);
  ASSERT_TRUE(ca.ok());
  auto server = pki::ParsePemBundle(*ReadFile(ServerCertificatePath(second.data_dir)));
  ASSERT_TRUE(server.ok());
  EXPECT_TRUE(pki::VerifyChain(server->front(), {ca->certificate()}, {}, now_).ok());
  EXPECT_EQ(store->ListAdminCredentials()->size(), 2u) << "each replica's admin credential is pinned";
}

TEST_F(HubInitTest, ServingReplicasWithoutAdminConfigPinNothingHoweverOftenTheyStart) {
  StorePtr store = MakeMemoryStore();
  ASSERT_TRUE(InitHub(*store, options_, now_).ok());  // the operator's init: one credential
  for (int pod = 0; pod < 3; ++pod) {
    InitOptions replica = options_;
    replica.data_dir = root_ + "/pod-" + std::to_string(pod);
    replica.admin_config = false;
    auto report = InitHub(*store, replica, now_);
    ASSERT_TRUE(report.ok()) << report.error().message;
    EXPECT_THAT(report->created, Contains(ServerCertificatePath(replica.data_dir)));
    EXPECT_FALSE(std::filesystem::exists(AdminConfigPath(replica.data_dir)));
  }
  EXPECT_EQ(store->ListAdminCredentials()->size(), 1u) << "only the operator's credential is pinned";
}

TEST_F(HubInitTest, BadFlagsAreNamed) {
  options_.advertise_hosts = {"not a host"};
  EXPECT_THAT(InitHub(options_, now_).error().message, HasSubstr("--advertise-host \"not a host\""));
  options_.advertise_hosts = {};
  options_.hub_name = "Hub_A";
  EXPECT_THAT(InitHub(options_, now_).error().message, HasSubstr("--hub-name"));
  options_.data_dir = "";
  EXPECT_THAT(InitHub(options_, now_).error().message, HasSubstr("--data-dir"));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/data")) << "nothing written for bad flags";
}

// The bytes of hub.db and its WAL/shared-memory files.
std::string StoreBytes(const std::string& dir) {
  std::string bytes;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    if (auto content = ReadFile(StorePath(dir) + suffix); content.ok()) bytes += *content;
  }
  return bytes;
}

const std::string kKek(32, '\x5a');

TEST_F(HubInitTest, KeyEncryptionKeySealsTheLinkCaAtInit) {
  options_.key_encryption_key = kKek;
  ASSERT_TRUE(InitHub(options_, now_).ok());
  auto store = *OpenSqliteStore(StorePath(options_.data_dir));
  EXPECT_TRUE(pki::IsSealed((*store->GetLinkCa())->key_pem));
  EXPECT_EQ(StoreBytes(options_.data_dir).find("PRIVATE KEY"), std::string::npos);
  ASSERT_TRUE(LoadLinkCa(*store, kKek).ok());
  EXPECT_THAT(LoadLinkCa(*store).error().message, HasSubstr("--root-key-encryption-key-file"));
  EXPECT_THAT(LoadLinkCa(*store, std::string(32, '\x01')).error().message, HasSubstr("wrong"));
  // Re-running init with the key keeps everything; without it (or with another) it says why it cannot go on.
  EXPECT_TRUE(InitHub(options_, now_).ok());
  options_.key_encryption_key = std::string(32, '\x01');
  EXPECT_THAT(InitHub(options_, now_).error().message, HasSubstr("does not open the sealed link CA key"));
}

// A data directory from before the key-encryption key: its plain link CA key and root keys are sealed in one go,
// the plain PEM text is gone from the database files, and the keys still load.
TEST_F(HubInitTest, SealKeysAtRestSealsWhatWasStoredInPlain) {
  ASSERT_TRUE(InitHub(options_, now_).ok());
  auto store = *OpenSqliteStore(StorePath(options_.data_dir));
  auto root_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto root = *pki::IssueRootCa(root_key, {.common_name = "root"}, now_);
  ASSERT_TRUE(store->PutRootCaIfAbsent({"vmesh/vm1", root.ToPem(), "", root_key.ToPem(), "generated", now_}).ok());
  ASSERT_TRUE(store->PutRootCaIfAbsent({"vmesh/vm2", root.ToPem(), "", root_key.ToPem(), "secret", now_}).ok());
  ASSERT_NE(StoreBytes(options_.data_dir).find("PRIVATE KEY"), std::string::npos) << "precondition";

  auto report = SealKeysAtRest(*store, kKek);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(report->link_ca_sealed);
  EXPECT_EQ(report->roots_sealed, 2);
  EXPECT_EQ(report->roots_already_sealed, 0);
  EXPECT_EQ(StoreBytes(options_.data_dir).find("PRIVATE KEY"), std::string::npos);
  auto roots = *store->ListRootCas();
  ASSERT_EQ(roots.size(), 2u);
  for (const auto& r : roots) {
    ASSERT_TRUE(pki::IsSealed(r.key_pem)) << r.virtual_mesh;
    EXPECT_EQ(pki::Open(kKek, r.key_pem, r.virtual_mesh)->value(), root_key.ToPem());
  }
  EXPECT_TRUE(LoadLinkCa(*store, kKek).ok());

  auto again = SealKeysAtRest(*store, kKek);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->link_ca_sealed);
  EXPECT_EQ(again->roots_sealed, 0);
  EXPECT_EQ(again->roots_already_sealed, 2);
  EXPECT_THAT(SealKeysAtRest(*store, std::string(32, '\x01')).error().message,
              HasSubstr("does not open the sealed link CA key"));
}

TEST_F(HubInitTest, InitPinsTheAdminCertificateAndRotationReplacesIt) {
  ASSERT_TRUE(InitHub(options_, now_).ok());
  auto store = *OpenSqliteStore(StorePath(options_.data_dir));
  config::v1::AdminConfig admin;
  ASSERT_TRUE(api::DecodeInto(*ReadFile(AdminConfigPath(options_.data_dir)), &admin).empty());
  const std::string serial = pki::Certificate::FromPem(admin.client_certificate())->serial_hex();
  auto pinned = *store->ListAdminCredentials();
  ASSERT_EQ(pinned.size(), 1u);
  EXPECT_EQ(pinned[0].serial, serial);
  EXPECT_TRUE(store->CheckAdminCredential(serial).ok());

  auto ca = *LoadLinkCa(*store);
  auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto rotated = RotateAdminCredential(*store, ca, "hub-a", serial, pki::Csr::Create(key, {})->ToPem(), now_);
  ASSERT_TRUE(rotated.ok()) << rotated.error().message;
  auto cert = *pki::Certificate::FromPem(rotated->certificate_pem);
  EXPECT_TRUE(pki::KeyMatchesCertificate(key, cert).ok());
  EXPECT_THAT(cert.uri_sans(), Contains("spiffe://hub-a/admin"));
  EXPECT_TRUE(store->CheckAdminCredential(rotated->serial).ok());
  EXPECT_THAT(store->CheckAdminCredential(serial).error().message, HasSubstr("revoked"));
  // The revoked credential cannot rotate again.
  EXPECT_THAT(
      RotateAdminCredential(*store, ca, "hub-a", serial, pki::Csr::Create(key, {})->ToPem(), now_).error().message,
      HasSubstr("revoked"));
  // Nothing more to pin: the upgrade rule runs only for stores with no admin credential at all.
  EXPECT_FALSE(PinAdminCredentialOnce(*store, ca, "hub-a", AdminConfigPath(options_.data_dir), now_)->has_value());
}

// A data directory from before admin serials were pinned: the certificate in admin.vmeshconfig is pinned once,
// and only if it is this hub's admin certificate.
TEST_F(HubInitTest, UpgradePinsTheExistingAdminCertificateOnce) {
  ASSERT_TRUE(InitHub(options_, now_).ok());
  {
    auto db = Database::Open(StorePath(options_.data_dir));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("DELETE FROM admin_credentials").ok());
  }
  auto store = *OpenSqliteStore(StorePath(options_.data_dir));
  auto ca = *LoadLinkCa(*store);
  const std::string path = AdminConfigPath(options_.data_dir);
  config::v1::AdminConfig admin;
  ASSERT_TRUE(api::DecodeInto(*ReadFile(path), &admin).empty());
  const std::string serial = pki::Certificate::FromPem(admin.client_certificate())->serial_hex();
  EXPECT_FALSE(store->CheckAdminCredential(serial).ok());

  EXPECT_THAT(PinAdminCredentialOnce(*store, ca, "other-hub", path, now_).error().message,
              HasSubstr("lacks the admin identity"));
  auto pinned = PinAdminCredentialOnce(*store, ca, "hub-a", path, now_);
  ASSERT_TRUE(pinned.ok()) << pinned.error().message;
  EXPECT_EQ(pinned->value_or(""), serial);
  EXPECT_TRUE(store->CheckAdminCredential(serial).ok());
  EXPECT_FALSE(PinAdminCredentialOnce(*store, ca, "hub-a", path, now_)->has_value()) << "once";
}

}  // namespace
}  // namespace vmesh::hub
