#include "agent/certs/cacerts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/pki/csr.h"
#include "common/pki/issuer.h"

namespace vmesh::agent {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct Pki {
  pki::PrivateKey root_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  pki::TimePoint now = std::chrono::system_clock::now();
  pki::Certificate root = *pki::IssueRootCa(root_key, {.organization = "vmesh", .common_name = "root"}, now);
  pki::PrivateKey key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());

  pki::Certificate Intermediate(const pki::PrivateKey& k, std::chrono::seconds ttl = 24h * 30) {
    return *pki::IssueIntermediate(
        *pki::CaSigner::Create(root, root_key), *pki::Csr::Create(k, {}),
        {.common_name = "i", .spiffe_uri = "spiffe://cluster.local/ns/istio-system/sa/istiod", .ttl = ttl}, now);
  }
};

TEST(Cacerts, HasTheFourFilesInIstiosLayout) {
  Pki p;
  auto inter = p.Intermediate(p.key);
  auto data =
      BuildCacerts({p.key.ToPem(pki::PrivateKeyFormat::kTraditional), inter.ToPem(), p.root.ToPem(), "", p.now});
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(data->size(), 4u);
  EXPECT_EQ(data->count("istio-generated"), 0u);
  EXPECT_EQ(data->at("ca-cert.pem"), inter.ToPem());
  EXPECT_THAT(data->at("ca-key.pem"), HasSubstr("BEGIN PRIVATE KEY")) << "PKCS#8";
  EXPECT_EQ(data->at("cert-chain.pem"), inter.ToPem() + p.root.ToPem()) << "intermediate, then root";
  EXPECT_EQ(data->at("root-cert.pem"), p.root.ToPem());
}

TEST(Cacerts, RootCertStaysByteIdenticalAcrossRotations) {
  Pki p;
  // The installed root-cert.pem has different bytes (e.g. trailing whitespace) for the same certificate.
  std::string installed = p.root.ToPem() + "\n";
  auto next_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto data = BuildCacerts({next_key.ToPem(), p.Intermediate(next_key).ToPem(), p.root.ToPem(), installed, p.now});
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->at("root-cert.pem"), installed);
  // A different root replaces it.
  auto other_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto other_root = *pki::IssueRootCa(other_key, {.common_name = "other"}, p.now);
  data = BuildCacerts({next_key.ToPem(), p.Intermediate(next_key).ToPem(), p.root.ToPem(), other_root.ToPem(), p.now});
  EXPECT_EQ(data->at("root-cert.pem"), p.root.ToPem());
}

TEST(Cacerts, WhatTheHubSentIsVerifiedBeforeInstalling) {
  Pki p;
  auto other_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  EXPECT_THAT(
      BuildCacerts({p.key.ToPem(), p.Intermediate(other_key).ToPem(), p.root.ToPem(), "", p.now}).error().message,
      HasSubstr("does not match the key this agent generated"));
  auto stranger = *pki::IssueRootCa(other_key, {.common_name = "stranger"}, p.now);
  EXPECT_THAT(BuildCacerts({p.key.ToPem(), p.Intermediate(p.key).ToPem(), stranger.ToPem(), "", p.now}).error().message,
              HasSubstr("does not chain to the trust bundle"));
  auto leaf_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto leaf = *pki::IssueLeaf(*pki::CaSigner::Create(p.root, p.root_key), *pki::Csr::Create(leaf_key, {}),
                              {.uri_sans = {"spiffe://x/y"}, .client_auth = true}, p.now);
  EXPECT_THAT(BuildCacerts({leaf_key.ToPem(), leaf.ToPem(), p.root.ToPem(), "", p.now}).error().message,
              HasSubstr("not a CA"));
  EXPECT_FALSE(BuildCacerts({p.key.ToPem(), "garbage", p.root.ToPem(), "", p.now}).ok());
  EXPECT_FALSE(BuildCacerts({"garbage", p.Intermediate(p.key).ToPem(), p.root.ToPem(), "", p.now}).ok());
  EXPECT_THAT(
      BuildCacerts({p.key.ToPem(), p.Intermediate(p.key, 1h).ToPem(), p.root.ToPem(), "", p.now + 2h}).error().message,
      HasSubstr("does not chain"))
      << "expired";
}

TEST(Cacerts, UserManagedCacertsIsNeverOverwritten) {
  EXPECT_TRUE(CheckCacertsOwnership({{kManagedByLabel, kManagedByValue}}, "istio-system").ok());
  Status s = CheckCacertsOwnership({{"team", "security"}}, "istio-system");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("not managed by vmesh"));
  EXPECT_THAT(s.error().message,
              HasSubstr("kubectl -n istio-system label secret cacerts app.kubernetes.io/managed-by=vmesh"));
}

TEST(Cacerts, RenewalAtTwoThirdsOfTheLifetime) {
  Pki p;
  auto inter = p.Intermediate(p.key, 30h);
  auto lifetime = inter.not_after() - inter.not_before();
  EXPECT_EQ(RenewalTime(inter), inter.not_before() + lifetime * 2 / 3);
  EXPECT_GT(RenewalTime(inter), p.now + 19h);
  EXPECT_LT(RenewalTime(inter), p.now + 21h);
}

// notBefore is backdated by a minute for clock skew; for a short-lived intermediate the lifetime that counts
// starts when the agent received it (moments after it was issued).
TEST(Cacerts, RenewalOfShortLivedCertificatesCountsFromReceipt) {
  Pki p;
  auto inter = p.Intermediate(p.key, 60s);
  ASSERT_EQ(inter.not_before(), std::chrono::floor<std::chrono::seconds>(p.now) - pki::kClockSkewAllowance);
  const pki::TimePoint received = std::chrono::floor<std::chrono::seconds>(p.now);
  EXPECT_EQ(RenewalTime(inter, received), received + 40s);
  // Counted from notBefore it would be 20 s after issue.
  EXPECT_EQ(RenewalTime(inter), received + 20s);
  // A receipt time outside the validity is clamped: an agent clock behind the hub's changes nothing.
  EXPECT_EQ(RenewalTime(inter, inter.not_before() - 1h), RenewalTime(inter));
  EXPECT_EQ(RenewalTime(inter, inter.not_after() + 1h), inter.not_after());
}

}  // namespace
}  // namespace vmesh::agent
