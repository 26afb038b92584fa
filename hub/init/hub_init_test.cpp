#include "hub/init/hub_init.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/pki/verify.h"
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

}  // namespace
}  // namespace vmesh::hub
