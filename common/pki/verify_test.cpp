#include "common/pki/verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/pki/issuer.h"
#include "common/pki/pki_test_util.h"

namespace vmesh::pki {
namespace {

using std::chrono::days;
using test::CachedKey;
using test::FixedNow;
using test::MakeCsr;
using test::MakeIntermediate;
using test::MakeRoot;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// root -> intermediate (pathlen 0) -> agent client leaf, all issued at `now`.
struct Chain {
  CaSigner root;
  CaSigner intermediate;
  Certificate leaf;
};

Chain MakeChain(const KeySpec& root_spec, TimePoint now) {
  CaSigner root = MakeRoot(root_spec, now);
  CaSigner intermediate = MakeIntermediate(root, KeySpec::EcdsaP384(), now);
  LeafProfile profile;
  profile.uri_sans = {"spiffe://hub.example/cluster/cluster-1"};
  profile.client_auth = true;
  Result<Certificate> leaf = IssueLeaf(intermediate, MakeCsr(CachedKey(KeySpec::EcdsaP256())), profile, now);
  if (!leaf.ok()) throw std::runtime_error(leaf.error().message);
  return Chain{std::move(root), std::move(intermediate), std::move(leaf).value()};
}

TEST(pkiVerify, IntermediateChainsToRoot) {
  Chain chain = MakeChain(KeySpec::EcdsaP256(), FixedNow());
  Result<std::vector<Certificate>> verified =
      VerifyChain(chain.intermediate.certificate(), {chain.root.certificate()}, {}, FixedNow() + days(1));
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  ASSERT_THAT(*verified, SizeIs(2));
  EXPECT_EQ((*verified)[0].Fingerprint(), chain.intermediate.certificate().Fingerprint());
  EXPECT_EQ((*verified)[1].Fingerprint(), chain.root.certificate().Fingerprint());
}

TEST(pkiVerify, LeafChainsThroughIntermediateStrictly) {
  Chain chain = MakeChain(KeySpec::Rsa(2048), FixedNow());
  Result<std::vector<Certificate>> verified = VerifyChain(
      chain.leaf, {chain.root.certificate()}, {chain.intermediate.certificate()}, FixedNow(), {.x509_strict = true});
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_THAT(*verified, SizeIs(3));
}

TEST(pkiVerify, TrustBundleWithSeveralRoots) {
  // During a root rotation the bundle holds old and new roots (SPEC §5.5).
  Chain chain = MakeChain(KeySpec::EcdsaP256(), FixedNow());
  CaSigner other = MakeRoot(KeySpec::EcdsaP384(), FixedNow(), days(365), "vmesh root CA vmesh/next");
  Result<std::vector<Certificate>> verified =
      VerifyChain(chain.intermediate.certificate(), {other.certificate(), chain.root.certificate()}, {}, FixedNow());
  EXPECT_TRUE(verified.ok()) << verified.error().message;
}

TEST(pkiVerify, WrongRootFails) {
  Chain chain = MakeChain(KeySpec::EcdsaP256(), FixedNow());
  CaSigner other = MakeRoot(KeySpec::EcdsaP384(), FixedNow(), days(365), "vmesh root CA vmesh/other");
  Result<std::vector<Certificate>> verified =
      VerifyChain(chain.intermediate.certificate(), {other.certificate()}, {}, FixedNow());
  ASSERT_FALSE(verified.ok());
  EXPECT_THAT(verified.error().message,
              HasSubstr("certificate CN=vmesh intermediate cluster-1/istiod-istio-system,O=vmesh does not verify"));
  EXPECT_THAT(verified.error().message, HasSubstr("unable to get local issuer certificate"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pkiVerify, ImpostorRootWithTheSameNameFails) {
  // Same subject as the real root, different key: found by name, rejected by signature.
  Chain chain = MakeChain(KeySpec::EcdsaP256(), FixedNow());
  CaSigner impostor = MakeRoot(KeySpec::EcdsaP384(), FixedNow());
  ASSERT_EQ(impostor.certificate().subject(), chain.root.certificate().subject());
  Result<std::vector<Certificate>> verified =
      VerifyChain(chain.intermediate.certificate(), {impostor.certificate()}, {}, FixedNow());
  ASSERT_FALSE(verified.ok());
  EXPECT_THAT(verified.error().message, HasSubstr("does not verify"));
}

TEST(pkiVerify, ExpiredOrNotYetValidAtTheGivenTime) {
  Chain chain = MakeChain(KeySpec::EcdsaP256(), FixedNow());
  // The intermediate lives 30 days, the root 365.
  Result<std::vector<Certificate>> expired =
      VerifyChain(chain.intermediate.certificate(), {chain.root.certificate()}, {}, FixedNow() + days(31));
  ASSERT_FALSE(expired.ok());
  EXPECT_THAT(expired.error().message, HasSubstr("does not verify at 2030-07-02T12:00:00Z: certificate has expired"));
  EXPECT_THAT(expired.error().message, HasSubstr("depth 0"));

  Result<std::vector<Certificate>> early =
      VerifyChain(chain.intermediate.certificate(), {chain.root.certificate()}, {}, FixedNow() - days(1));
  ASSERT_FALSE(early.ok());
  EXPECT_THAT(early.error().message, HasSubstr("certificate is not yet valid"));

  // Valid one second before notAfter, invalid one second after.
  TimePoint not_after = chain.intermediate.certificate().not_after();
  EXPECT_TRUE(
      VerifyChain(chain.intermediate.certificate(), {chain.root.certificate()}, {}, not_after - std::chrono::seconds(1))
          .ok());
  EXPECT_FALSE(
      VerifyChain(chain.intermediate.certificate(), {chain.root.certificate()}, {}, not_after + std::chrono::seconds(1))
          .ok());
}

TEST(pkiVerify, MissingIntermediateFails) {
  Chain chain = MakeChain(KeySpec::EcdsaP256(), FixedNow());
  Result<std::vector<Certificate>> verified = VerifyChain(chain.leaf, {chain.root.certificate()}, {}, FixedNow());
  ASSERT_FALSE(verified.ok());
  EXPECT_THAT(verified.error().message, HasSubstr("unable to get local issuer certificate"));
}

TEST(pkiVerify, IntermediateIsNotATrustAnchorByItself) {
  // Trusting only the root: an untrusted intermediate passed as "root" must not make the leaf trusted.
  Chain chain = MakeChain(KeySpec::EcdsaP256(), FixedNow());
  CaSigner other = MakeRoot(KeySpec::EcdsaP384(), FixedNow(), days(365), "vmesh root CA vmesh/other");
  Result<std::vector<Certificate>> verified =
      VerifyChain(chain.leaf, {other.certificate()}, {chain.intermediate.certificate()}, FixedNow());
  ASSERT_FALSE(verified.ok());
}

TEST(pkiVerify, EmptyTrustBundleFails) {
  Chain chain = MakeChain(KeySpec::EcdsaP256(), FixedNow());
  Result<std::vector<Certificate>> verified = VerifyChain(chain.leaf, {}, {}, FixedNow());
  ASSERT_FALSE(verified.ok());
  EXPECT_THAT(verified.error().message, HasSubstr("the trust bundle is empty"));
}

TEST(pkiVerify, KeyMatchesCertificate) {
  Chain chain = MakeChain(KeySpec::EcdsaP256(), FixedNow());
  EXPECT_TRUE(KeyMatchesCertificate(CachedKey(KeySpec::EcdsaP384()), chain.intermediate.certificate()).ok());
  Status mismatch = KeyMatchesCertificate(CachedKey(KeySpec::EcdsaP256()), chain.intermediate.certificate());
  ASSERT_FALSE(mismatch.ok());
  EXPECT_THAT(mismatch.error().message,
              HasSubstr("the ECDSA P-256 private key does not match certificate CN=vmesh intermediate "
                        "cluster-1/istiod-istio-system,O=vmesh (whose key is ECDSA P-384)"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// Cross-checks with the real `openssl` CLI: an independent implementation reading what we produce. These
// use the real clock, because `openssl verify` does.

TEST(pkiVerify, OpensslCliVerifiesOurChain) {
  if (!test::HaveOpensslCli()) GTEST_SKIP() << "openssl CLI not installed";
  Chain chain = MakeChain(KeySpec::Rsa(2048), Clock::now());
  test::TempDir dir;
  std::string root = dir.Write("root.pem", chain.root.certificate().ToPem());
  std::string intermediate = dir.Write("intermediate.pem", chain.intermediate.certificate().ToPem());
  std::string leaf = dir.Write("leaf.pem", chain.leaf.ToPem());

  test::CommandResult r =
      test::RunCommand("openssl verify -x509_strict -CAfile " + root + " -untrusted " + intermediate + " " + leaf);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("leaf.pem: OK"));

  r = test::RunCommand("openssl verify -x509_strict -CAfile " + root + " " + intermediate);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("intermediate.pem: OK"));

  // ...and it rejects the chain under another root.
  CaSigner other = MakeRoot(KeySpec::EcdsaP384(), Clock::now(), days(365), "vmesh root CA vmesh/other");
  std::string other_root = dir.Write("other.pem", other.certificate().ToPem());
  r = test::RunCommand("openssl verify -CAfile " + other_root + " -untrusted " + intermediate + " " + leaf);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("leaf.pem: OK")));
}

TEST(pkiVerify, OpensslCliReadsTheProfiles) {
  if (!test::HaveOpensslCli()) GTEST_SKIP() << "openssl CLI not installed";
  Chain chain = MakeChain(KeySpec::EcdsaP256(), Clock::now());
  test::TempDir dir;

  test::CommandResult root =
      test::RunCommand("openssl x509 -text -noout -in " + dir.Write("root.pem", chain.root.certificate().ToPem()));
  ASSERT_EQ(root.exit_code, 0) << root.output;
  EXPECT_THAT(root.output, HasSubstr("Subject: O = vmesh, CN = vmesh root CA vmesh/test"));
  EXPECT_THAT(root.output, HasSubstr("X509v3 Basic Constraints: critical\n                CA:TRUE\n"));
  EXPECT_THAT(root.output, HasSubstr("X509v3 Key Usage: critical\n                Digital Signature, Certificate "
                                     "Sign, CRL Sign\n"));
  EXPECT_THAT(root.output, HasSubstr("X509v3 Subject Key Identifier"));
  EXPECT_THAT(root.output, Not(HasSubstr("Extended Key Usage")));
  EXPECT_THAT(root.output, Not(HasSubstr("pathlen")));

  test::CommandResult intermediate = test::RunCommand(
      "openssl x509 -text -noout -in " + dir.Write("intermediate.pem", chain.intermediate.certificate().ToPem()));
  ASSERT_EQ(intermediate.exit_code, 0) << intermediate.output;
  EXPECT_THAT(intermediate.output,
              HasSubstr("Subject: O = vmesh, CN = vmesh intermediate cluster-1/istiod-istio-system"));
  EXPECT_THAT(intermediate.output, HasSubstr("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0"));
  EXPECT_THAT(intermediate.output, HasSubstr("Certificate Sign, CRL Sign"));
  EXPECT_THAT(intermediate.output, HasSubstr("URI:spiffe://cluster.local/ns/istio-system/sa/istiod"));
  EXPECT_THAT(intermediate.output, HasSubstr("X509v3 Authority Key Identifier"));
  EXPECT_THAT(intermediate.output, HasSubstr("Public-Key: (384 bit)"));
  EXPECT_THAT(intermediate.output, Not(HasSubstr("Extended Key Usage")));

  test::CommandResult leaf =
      test::RunCommand("openssl x509 -text -noout -in " + dir.Write("leaf.pem", chain.leaf.ToPem()));
  ASSERT_EQ(leaf.exit_code, 0) << leaf.output;
  EXPECT_THAT(leaf.output, HasSubstr("CA:FALSE"));
  EXPECT_THAT(leaf.output, HasSubstr("X509v3 Extended Key Usage: \n                TLS Web Client Authentication\n"));
  EXPECT_THAT(leaf.output, HasSubstr("X509v3 Subject Alternative Name: critical\n"));
}

}  // namespace
}  // namespace vmesh::pki
