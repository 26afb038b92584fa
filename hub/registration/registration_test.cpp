#include "hub/registration/registration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/pki/csr.h"
#include "common/pki/verify.h"

namespace vmesh::hub {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

class RegistrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-reg-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*OpenSqliteStore(dir_ + "/hub.db"));
    auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    auto root = *pki::IssueRootCa(key, {.organization = "vmesh", .common_name = "vmesh link CA test"}, now_);
    service_ = std::make_unique<RegistrationService>(
        *store_, *pki::CaSigner::Create(root, key),
        RegistrationOptions{.hub_name = "hub1", .agent_url = "wss://127.0.0.1:9900"}, [this] { return now_; });
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // What the agent does: a key of its own and a CSR for it.
  link::v1::BootstrapRequest Request(const config::v1::BootstrapBundle& bundle) {
    agent_key_ = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    link::v1::BootstrapRequest req;
    req.set_cluster_name(bundle.cluster());
    req.set_token(bundle.token());
    req.set_csr_pem(pki::Csr::Create(*agent_key_, {.subject = {.common_name = "anything"}})->ToPem());
    return req;
  }

  std::string dir_;
  StorePtr store_;
  std::unique_ptr<RegistrationService> service_;
  std::optional<pki::PrivateKey> agent_key_;
  TimePoint now_ = std::chrono::system_clock::now();
};

TEST_F(RegistrationTest, BundleCarriesHubUrlCaAndAHighEntropyTokenStoredOnlyAsAHash) {
  auto bundle = service_->Register("cluster-1", 1h);
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  EXPECT_EQ(bundle->hub_url(), "wss://127.0.0.1:9900");
  EXPECT_THAT(bundle->hub_ca(), StartsWith("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(bundle->token(), StartsWith("vmbt_"));
  EXPECT_GE(bundle->token().size(), 5u + 43u) << "256 bits in base64url";
  EXPECT_NE(service_->Register("cluster-2", 1h)->token(), bundle->token());
  // The database holds the hash, never the token.
  std::ifstream db(dir_ + "/hub.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(db)), {});
  std::ifstream wal(dir_ + "/hub.db-wal", std::ios::binary);
  bytes.append((std::istreambuf_iterator<char>(wal)), {});
  EXPECT_EQ(bytes.find(bundle->token()), std::string::npos);
  EXPECT_NE(bytes.find(HashToken(bundle->token())), std::string::npos);
}

TEST_F(RegistrationTest, BootstrapIssuesAClientIdentityThatVerifiesAgainstTheLinkCa) {
  auto bundle = *service_->Register("cluster-1", 1h);
  auto response = service_->Bootstrap(Request(bundle));
  ASSERT_TRUE(response.ok()) << response.error().message;
  auto cert = *pki::Certificate::FromPem(response->certificate_pem());
  EXPECT_THAT(cert.uri_sans(), ::testing::ElementsAre("spiffe://hub1/cluster/cluster-1"));
  EXPECT_THAT(cert.extended_key_usage(), ::testing::ElementsAre("clientAuth"));
  EXPECT_FALSE(cert.is_ca());
  EXPECT_TRUE(pki::KeyMatchesCertificate(*agent_key_, cert).ok());
  EXPECT_LE(cert.not_after(), now_ + 24h + 1s);
  auto root = *pki::Certificate::FromPem(response->ca_pem());
  EXPECT_TRUE(pki::VerifyChain(cert, {root}, {}, now_).ok());
  EXPECT_EQ(response->hub_name(), "hub1");
  EXPECT_TRUE(service_->CheckPeer("cluster-1", cert.serial_hex()).ok());
  EXPECT_EQ(*ClusterFromSpiffeId("hub1", cert.uri_sans()[0]), "cluster-1");
  EXPECT_FALSE(ClusterFromSpiffeId("hub2", cert.uri_sans()[0]).ok());
}

TEST_F(RegistrationTest, ReplayedExpiredAndForeignTokensAreRefused) {
  auto b1 = *service_->Register("cluster-1", 1h);
  auto b2 = *service_->Register("cluster-2", 1h);
  auto req = Request(b1);
  ASSERT_TRUE(service_->Bootstrap(req).ok());
  EXPECT_THAT(service_->Bootstrap(req).error().message, HasSubstr("already used"));

  auto foreign = Request(b2);
  foreign.set_cluster_name("cluster-1");
  EXPECT_THAT(service_->Bootstrap(foreign).error().message, HasSubstr("invalid bootstrap token"));

  auto forged = Request(b2);
  forged.set_token("vmbt_" + std::string(43, 'A'));
  EXPECT_THAT(service_->Bootstrap(forged).error().message, HasSubstr("invalid bootstrap token"));

  now_ += 2h;
  EXPECT_THAT(service_->Bootstrap(Request(b2)).error().message, HasSubstr("expired"));
}

TEST_F(RegistrationTest, BadCsrDoesNotBurnTheToken) {
  auto bundle = *service_->Register("cluster-1", 1h);
  auto req = Request(bundle);
  std::string pem = req.csr_pem();
  req.set_csr_pem(pem.substr(0, pem.size() / 2));
  EXPECT_THAT(service_->Bootstrap(req).error().message, HasSubstr("identity CSR"));
  EXPECT_TRUE(service_->Bootstrap(Request(bundle)).ok()) << "the token is still good after a refused CSR";
}

TEST_F(RegistrationTest, BadNamesAndTtlsAreRefused) {
  EXPECT_THAT(service_->Register("Cluster_1", 1h).error().message, HasSubstr("cluster name"));
  EXPECT_THAT(service_->Register("c1", 0s).error().message, HasSubstr("--ttl"));
  EXPECT_THAT(service_->Register("c1", 24h * 30).error().message, HasSubstr("at most 168h"));
}

TEST_F(RegistrationTest, DeregisterRevokesAndRenewalRecordsANewIdentity) {
  auto bundle = *service_->Register("cluster-1", 1h);
  auto first = *pki::Certificate::FromPem(service_->Bootstrap(Request(bundle))->certificate_pem());
  auto csr = pki::Csr::Create(*agent_key_, {})->ToPem();
  auto renewed_pem = service_->RenewIdentity("cluster-1", csr);
  ASSERT_TRUE(renewed_pem.ok()) << renewed_pem.error().message;
  auto renewed = *pki::Certificate::FromPem(*renewed_pem);
  EXPECT_NE(renewed.serial_hex(), first.serial_hex());
  EXPECT_TRUE(service_->CheckPeer("cluster-1", renewed.serial_hex()).ok());
  EXPECT_EQ((*store_->GetCluster("cluster-1"))->identity_serial, renewed.serial_hex());

  ASSERT_TRUE(service_->Deregister("cluster-1").ok());
  EXPECT_THAT(service_->CheckPeer("cluster-1", first.serial_hex()).error().message, HasSubstr("deregistered"));
  EXPECT_FALSE(service_->CheckPeer("cluster-1", renewed.serial_hex()).ok());
  EXPECT_FALSE(service_->RenewIdentity("cluster-1", csr).ok());
}

}  // namespace
// Fencing: a replica that lost the lease refuses to sign, and the refusal costs the agent nothing (the token stays
// good for the leader).
TEST_F(RegistrationTest, FencedServiceSignsNoIdentityAndKeepsTheToken) {
  bool leading = false;
  service_->set_signing_guard([&]() -> Status {
    if (leading) return OkStatus();
    return MakeError("not the leader; lease vmesh/vmesh-hub held by hub-b");
  });
  auto bundle = *service_->Register("cluster-1", 1h);
  auto refused = service_->Bootstrap(Request(bundle));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(refused.error().message,
            "refusing to sign the identity of cluster cluster-1: not the leader; lease vmesh/vmesh-hub held by hub-b");
  EXPECT_EQ((*store_->GetCluster("cluster-1"))->identity_serial, "");
  leading = true;
  auto response = service_->Bootstrap(Request(bundle));
  ASSERT_TRUE(response.ok()) << response.error().message;
  leading = false;
  auto renewal = service_->RenewIdentity("cluster-1", pki::Csr::Create(*agent_key_, {})->ToPem());
  ASSERT_FALSE(renewal.ok());
  EXPECT_THAT(renewal.error().message, HasSubstr("refusing to sign the identity of cluster cluster-1"));
}

}  // namespace vmesh::hub
