#include "common/pki/issuer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/pki/pki_test_util.h"
#include "common/pki/verify.h"

namespace vmesh::pki {
namespace {

using std::chrono::days;
using std::chrono::minutes;
using test::CachedKey;
using test::FixedNow;
using test::MakeCsr;
using test::MakeRoot;
using test::TestIntermediateProfile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint32_t kCaUsage = KeyUsage::kKeyCertSign | KeyUsage::kCrlSign | KeyUsage::kDigitalSignature;

// The DER length of the serial's content octets (what "a 128-bit serial" means on the wire).
int SerialOctets(const Certificate& cert) { return ASN1_STRING_length(X509_get0_serialNumber(cert.get())); }

void ExpectRootProfile(const Certificate& root, const PrivateKey& key, TimePoint now, days ttl) {
  EXPECT_EQ(root.version(), 3);
  EXPECT_TRUE(root.IsSelfSigned());
  EXPECT_EQ(root.subject(), "CN=vmesh root CA vmesh/vm1,O=acme");
  EXPECT_EQ(root.issuer(), root.subject());
  EXPECT_EQ(root.subject_name(), (DistinguishedName{"vmesh root CA vmesh/vm1", "acme", ""}));

  EXPECT_TRUE(root.has_basic_constraints());
  EXPECT_TRUE(root.basic_constraints_critical());
  EXPECT_TRUE(root.is_ca());
  EXPECT_EQ(root.path_len(), std::nullopt);

  EXPECT_TRUE(root.has_key_usage());
  EXPECT_TRUE(root.key_usage_critical());
  EXPECT_EQ(root.key_usage(), kCaUsage);
  EXPECT_FALSE(root.has_extended_key_usage());
  EXPECT_THAT(root.extended_key_usage(), IsEmpty());
  EXPECT_EQ(root.subject_key_id().size(), 40u);  // SHA-1
  EXPECT_EQ(root.authority_key_id(), root.subject_key_id());
  EXPECT_THAT(root.uri_sans(), IsEmpty());

  EXPECT_FALSE(root.serial_negative());
  EXPECT_EQ(root.serial_bits(), 127);
  EXPECT_EQ(SerialOctets(root), 16);
  EXPECT_EQ(root.serial_hex().size(), 32u);

  EXPECT_EQ(root.not_before(), now - minutes(1));
  EXPECT_EQ(root.not_after(), now + ttl);
  EXPECT_TRUE(KeyMatchesCertificate(key, root).ok());
}

TEST(pkiIssuer, RootProfileRsa4096) {
  const PrivateKey& key = CachedKey(KeySpec::Rsa(4096));
  Result<Certificate> root = IssueRootCa(key, RootCaProfile{"acme", "vmesh root CA vmesh/vm1", days(365)}, FixedNow());
  ASSERT_TRUE(root.ok()) << root.error().message;
  ExpectRootProfile(*root, key, FixedNow(), days(365));
  EXPECT_EQ(root->signature_algorithm(), "sha256WithRSAEncryption");
  EXPECT_EQ(root->public_key()->spec().ToString(), "RSA 4096");
}

TEST(pkiIssuer, RootProfileEcdsa) {
  for (const KeySpec& spec : {KeySpec::EcdsaP256(), KeySpec::EcdsaP384()}) {
    SCOPED_TRACE(spec.ToString());
    const PrivateKey& key = CachedKey(spec);
    Result<Certificate> root = IssueRootCa(key, RootCaProfile{"acme", "vmesh root CA vmesh/vm1", days(10)}, FixedNow());
    ASSERT_TRUE(root.ok()) << root.error().message;
    ExpectRootProfile(*root, key, FixedNow(), days(10));
    EXPECT_EQ(root->signature_algorithm(),
              spec.algorithm == KeyAlgorithm::kEcdsaP384 ? "ecdsa-with-SHA384" : "ecdsa-with-SHA256");
  }
}

TEST(pkiIssuer, RootDefaultsFollowSpec) {
  RootCaProfile profile;
  profile.common_name = "vmesh root CA vmesh/vm1";
  // Sub-second parts of `now` are dropped: X.509 times have whole seconds.
  TimePoint now = FixedNow() + std::chrono::milliseconds(750);
  Result<Certificate> root = IssueRootCa(CachedKey(KeySpec::EcdsaP256()), profile, now);
  ASSERT_TRUE(root.ok()) << root.error().message;
  EXPECT_EQ(root->subject_name().organization, "vmesh");
  EXPECT_EQ(root->not_after(), FixedNow() + days(365));
}

TEST(pkiIssuer, SerialsAreRandomPositive128Bit) {
  const PrivateKey& key = CachedKey(KeySpec::EcdsaP256());
  std::set<std::string> serials;
  for (int i = 0; i < 32; ++i) {
    Result<Certificate> root = IssueRootCa(key, RootCaProfile{"vmesh", "root", days(1)}, FixedNow());
    ASSERT_TRUE(root.ok());
    EXPECT_FALSE(root->serial_negative());
    EXPECT_EQ(root->serial_bits(), 127);
    EXPECT_EQ(SerialOctets(*root), 16);
    serials.insert(root->serial_hex());
  }
  EXPECT_EQ(serials.size(), 32u);
}

TEST(pkiIssuer, IntermediateProfile) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  const PrivateKey& agent_key = CachedKey(KeySpec::Rsa(2048));
  // The CSR asks for another name and another mesh's identity: both must be ignored.
  Csr csr = MakeCsr(agent_key, "evil", "spiffe://cluster.local/ns/other/sa/other");
  TimePoint now = FixedNow() + days(1);
  Result<Certificate> cert = IssueIntermediate(root, csr, TestIntermediateProfile(), now);
  ASSERT_TRUE(cert.ok()) << cert.error().message;

  EXPECT_EQ(cert->version(), 3);
  EXPECT_EQ(cert->subject(), "CN=vmesh intermediate cluster-1/istiod-istio-system,O=vmesh");
  EXPECT_EQ(cert->issuer(), root.certificate().subject());
  EXPECT_FALSE(cert->IsSelfSigned());
  EXPECT_THAT(cert->uri_sans(), ElementsAre("spiffe://cluster.local/ns/istio-system/sa/istiod"));
  EXPECT_THAT(cert->dns_sans(), IsEmpty());
  EXPECT_THAT(cert->ip_sans(), IsEmpty());

  EXPECT_TRUE(cert->basic_constraints_critical());
  EXPECT_TRUE(cert->is_ca());
  EXPECT_EQ(cert->path_len(), 0);
  EXPECT_TRUE(cert->key_usage_critical());
  EXPECT_EQ(cert->key_usage(), kCaUsage);
  EXPECT_FALSE(cert->has_extended_key_usage());

  EXPECT_EQ(cert->subject_key_id().size(), 40u);
  EXPECT_NE(cert->subject_key_id(), root.certificate().subject_key_id());
  EXPECT_EQ(cert->authority_key_id(), root.certificate().subject_key_id());

  EXPECT_EQ(cert->serial_bits(), 127);
  EXPECT_FALSE(cert->serial_negative());
  EXPECT_NE(cert->serial_hex(), root.certificate().serial_hex());

  EXPECT_EQ(cert->not_before(), now - minutes(1));
  EXPECT_EQ(cert->not_after(), now + days(30));

  // Only the CSR's key was taken.
  EXPECT_TRUE(cert->public_key()->Equals(agent_key.public_key()));
  EXPECT_TRUE(KeyMatchesCertificate(agent_key, *cert).ok());
  EXPECT_EQ(cert->signature_algorithm(), "ecdsa-with-SHA256");
  Result<std::vector<Certificate>> chain = VerifyChain(*cert, {root.certificate()}, {}, now);
  EXPECT_TRUE(chain.ok()) << chain.error().message;
}

TEST(pkiIssuer, IntermediateNotAfterIsClampedToTheRoot) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow(), days(10));
  Result<Certificate> cert = IssueIntermediate(root, MakeCsr(CachedKey(KeySpec::EcdsaP384())),
                                               TestIntermediateProfile(), FixedNow() + days(1));
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  EXPECT_EQ(cert->not_after(), root.certificate().not_after());
  EXPECT_EQ(cert->not_after(), FixedNow() + days(10));

  // notBefore is never earlier than the issuer's either.
  Result<Certificate> early =
      IssueIntermediate(root, MakeCsr(CachedKey(KeySpec::EcdsaP384())), TestIntermediateProfile(), FixedNow());
  ASSERT_TRUE(early.ok()) << early.error().message;
  EXPECT_EQ(early->not_before(), root.certificate().not_before());
}

TEST(pkiIssuer, IntermediateTtlAndKeyPolicyFromProfile) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  IntermediateProfile profile = TestIntermediateProfile();
  profile.ttl = std::chrono::hours(12);
  profile.required_key = KeySpec::EcdsaP384();
  Result<Certificate> cert = IssueIntermediate(root, MakeCsr(CachedKey(KeySpec::EcdsaP384())), profile, FixedNow());
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  EXPECT_EQ(cert->not_after(), FixedNow() + std::chrono::hours(12));
}

TEST(pkiIssuer, RefusesCsrKeyOfTheWrongType) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  IntermediateProfile profile = TestIntermediateProfile();
  profile.required_key = KeySpec::Rsa(4096);  // intermediateCertOptions asks for RSA; the agent sent ECDSA
  Result<Certificate> cert = IssueIntermediate(root, MakeCsr(CachedKey(KeySpec::EcdsaP256())), profile, FixedNow());
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.error().message, HasSubstr("CSR key is ECDSA P-256, expected RSA 4096"));

  profile.required_key = KeySpec::Rsa(3072);
  cert = IssueIntermediate(root, MakeCsr(CachedKey(KeySpec::Rsa(2048))), profile, FixedNow());
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.error().message, HasSubstr("CSR key is RSA 2048, expected RSA 3072"));
}

TEST(pkiIssuer, RefusesCsrWithBrokenSignature) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  std::string der = MakeCsr(CachedKey(KeySpec::Rsa(2048))).ToDer();
  der[der.size() - 10] ^= 0x40;
  Result<Csr> csr = Csr::FromDer(der);
  ASSERT_TRUE(csr.ok()) << csr.error().message;
  for (bool leaf : {false, true}) {
    LeafProfile leaf_profile;
    leaf_profile.uri_sans = {"spiffe://hub/cluster/c1"};
    leaf_profile.client_auth = true;
    Result<Certificate> cert = leaf ? IssueLeaf(root, *csr, leaf_profile, FixedNow())
                                    : IssueIntermediate(root, *csr, TestIntermediateProfile(), FixedNow());
    ASSERT_FALSE(cert.ok());
    EXPECT_THAT(cert.error().message, HasSubstr("CSR signature does not verify"));
    EXPECT_THAT(cert.error().message, HasSubstr("rsa routines"));  // OpenSSL's reason is kept
    EXPECT_EQ(ERR_peek_error(), 0u);
  }
}

TEST(pkiIssuer, RefusesWeakCsrKey) {
  EvpPkeyPtr rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), rsa1024.get());
  ASSERT_GT(X509_REQ_sign(req.get(), rsa1024.get(), EVP_sha256()), 0);
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  Result<Csr> csr = Csr::FromDer(std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
  OPENSSL_free(der);
  ASSERT_TRUE(csr.ok());

  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  Result<Certificate> cert = IssueIntermediate(root, *csr, TestIntermediateProfile(), FixedNow());
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.error().message, HasSubstr("RSA key of 1024 bits is not supported"));
}

TEST(pkiIssuer, RefusesExpiredOrNotYetValidIssuer) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow(), days(1));
  Csr csr = MakeCsr(CachedKey(KeySpec::EcdsaP256()));

  Result<Certificate> late = IssueIntermediate(root, csr, TestIntermediateProfile(), FixedNow() + days(2));
  ASSERT_FALSE(late.ok());
  EXPECT_THAT(late.error().message,
              HasSubstr("issuer CN=vmesh root CA vmesh/test,O=vmesh expired at 2030-06-02T12:00:00Z"));

  Result<Certificate> early = IssueIntermediate(root, csr, TestIntermediateProfile(), FixedNow() - days(1));
  ASSERT_FALSE(early.ok());
  EXPECT_THAT(early.error().message, HasSubstr("is not valid before 2030-06-01T11:59:00Z"));

  LeafProfile leaf;
  leaf.dns_sans = {"hub.example"};
  leaf.server_auth = true;
  Result<Certificate> late_leaf = IssueLeaf(root, csr, leaf, FixedNow() + days(2));
  ASSERT_FALSE(late_leaf.ok());
  EXPECT_THAT(late_leaf.error().message, HasSubstr("expired at"));
}

TEST(pkiIssuer, CaSignerRefusesNonCaCertificate) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  const PrivateKey& leaf_key = CachedKey(KeySpec::EcdsaP384());
  LeafProfile profile;
  profile.subject.common_name = "hub";
  profile.dns_sans = {"hub.example"};
  profile.server_auth = true;
  Result<Certificate> leaf = IssueLeaf(root, MakeCsr(leaf_key), profile, FixedNow());
  ASSERT_TRUE(leaf.ok()) << leaf.error().message;

  Result<CaSigner> signer = CaSigner::Create(*leaf, leaf_key);
  ASSERT_FALSE(signer.ok());
  EXPECT_THAT(signer.error().message, HasSubstr("certificate CN=hub is not a CA"));
}

TEST(pkiIssuer, CaSignerRefusesKeyThatDoesNotMatch) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  Result<CaSigner> signer = CaSigner::Create(root.certificate(), CachedKey(KeySpec::Rsa(2048)));
  ASSERT_FALSE(signer.ok());
  EXPECT_THAT(signer.error().message,
              HasSubstr("the private key does not match certificate CN=vmesh root CA vmesh/test,O=vmesh"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pkiIssuer, CaSignerChecksTheChain) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  CaSigner other_root = MakeRoot(KeySpec::EcdsaP384(), FixedNow(), days(365), "other root");
  CaSigner intermediate = test::MakeIntermediate(root, KeySpec::Rsa(2048), FixedNow());
  EXPECT_THAT(intermediate.chain(), ::testing::SizeIs(1));

  Result<CaSigner> wrong = CaSigner::Create(intermediate.certificate(), intermediate.key(), {other_root.certificate()});
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.error().message, HasSubstr("chain certificate #1 (CN=other root,O=vmesh) did not issue"));
}

TEST(pkiIssuer, PathLenZeroIssuerCannotIssueCaCertificates) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  CaSigner intermediate = test::MakeIntermediate(root, KeySpec::EcdsaP384(), FixedNow());
  Result<Certificate> cert =
      IssueIntermediate(intermediate, MakeCsr(CachedKey(KeySpec::EcdsaP256())), TestIntermediateProfile(), FixedNow());
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.error().message, HasSubstr("has pathlen:0 and cannot issue CA certificates"));
}

TEST(pkiIssuer, RefusesInvalidProfiles) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  Csr csr = MakeCsr(CachedKey(KeySpec::EcdsaP256()));

  Result<Certificate> no_cn = IssueRootCa(CachedKey(KeySpec::EcdsaP256()), RootCaProfile{}, FixedNow());
  ASSERT_FALSE(no_cn.ok());
  EXPECT_THAT(no_cn.error().message, HasSubstr("common name is required"));

  Result<Certificate> zero_ttl =
      IssueRootCa(CachedKey(KeySpec::EcdsaP256()), RootCaProfile{"vmesh", "r", std::chrono::seconds(0)}, FixedNow());
  ASSERT_FALSE(zero_ttl.ok());
  EXPECT_THAT(zero_ttl.error().message, HasSubstr("validity must be positive"));

  IntermediateProfile no_uri = TestIntermediateProfile();
  no_uri.spiffe_uri.clear();
  Result<Certificate> cert = IssueIntermediate(root, csr, no_uri, FixedNow());
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.error().message, HasSubstr("SPIFFE URI is required"));

  IntermediateProfile bad_uri = TestIntermediateProfile();
  bad_uri.spiffe_uri = "spiffe://cluster.local/ns/istio system";
  cert = IssueIntermediate(root, csr, bad_uri, FixedNow());
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.error().message, HasSubstr("must be printable ASCII without spaces"));

  IntermediateProfile long_cn = TestIntermediateProfile();
  long_cn.common_name = "vmesh intermediate " + std::string(60, 'c') + "/mesh";
  cert = IssueIntermediate(root, csr, long_cn, FixedNow());
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.error().message, HasSubstr("longer than 64 characters"));

  LeafProfile no_san;
  no_san.server_auth = true;
  cert = IssueLeaf(root, csr, no_san, FixedNow());
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.error().message, HasSubstr("at least one SAN"));

  LeafProfile no_eku;
  no_eku.dns_sans = {"hub.example"};
  cert = IssueLeaf(root, csr, no_eku, FixedNow());
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.error().message, HasSubstr("at least one of serverAuth and clientAuth"));

  LeafProfile bad_ip;
  bad_ip.ip_sans = {"10.0.0.256"};
  bad_ip.server_auth = true;
  cert = IssueLeaf(root, csr, bad_ip, FixedNow());
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.error().message, HasSubstr("SAN IP address \"10.0.0.256\" is not an IPv4 or IPv6 address"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pkiIssuer, HubServerLeafProfile) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  const PrivateKey& key = CachedKey(KeySpec::EcdsaP384());
  LeafProfile profile;  // no subject: the SANs identify the hub
  profile.uri_sans = {"spiffe://hub.example/hub"};
  profile.dns_sans = {"hub.example", "*.hub.example"};
  profile.ip_sans = {"127.0.0.1", "::1"};
  profile.server_auth = true;
  Result<Certificate> cert = IssueLeaf(root, MakeCsr(key, "evil", "spiffe://evil/x"), profile, FixedNow());
  ASSERT_TRUE(cert.ok()) << cert.error().message;

  EXPECT_EQ(cert->subject(), "");
  EXPECT_THAT(cert->uri_sans(), ElementsAre("spiffe://hub.example/hub"));
  EXPECT_THAT(cert->dns_sans(), ElementsAre("hub.example", "*.hub.example"));
  EXPECT_THAT(cert->ip_sans(), ElementsAre("127.0.0.1", "::1"));
  int san_index = X509_get_ext_by_NID(cert->get(), NID_subject_alt_name, -1);
  ASSERT_GE(san_index, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert->get(), san_index)), 1) << "empty subject => critical SAN";

  EXPECT_TRUE(cert->basic_constraints_critical());
  EXPECT_FALSE(cert->is_ca());
  EXPECT_EQ(cert->path_len(), std::nullopt);
  EXPECT_TRUE(cert->key_usage_critical());
  EXPECT_EQ(cert->key_usage(), KeyUsage::kDigitalSignature);  // ECDSA: no keyEncipherment
  EXPECT_THAT(cert->extended_key_usage(), ElementsAre("serverAuth"));
  EXPECT_EQ(cert->authority_key_id(), root.certificate().subject_key_id());
  EXPECT_EQ(cert->not_after(), FixedNow() + std::chrono::hours(24));
  EXPECT_TRUE(KeyMatchesCertificate(key, *cert).ok());
}

TEST(pkiIssuer, AgentClientLeafProfile) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  const PrivateKey& key = CachedKey(KeySpec::Rsa(2048));
  LeafProfile profile;
  profile.subject = DistinguishedName{"cluster-1", "vmesh", ""};
  profile.uri_sans = {"spiffe://hub.example/cluster/cluster-1"};
  profile.client_auth = true;
  profile.ttl = std::chrono::hours(1);
  Result<Certificate> cert = IssueLeaf(root, MakeCsr(key), profile, FixedNow());
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  EXPECT_EQ(cert->subject(), "CN=cluster-1,O=vmesh");
  EXPECT_THAT(cert->uri_sans(), ElementsAre("spiffe://hub.example/cluster/cluster-1"));
  EXPECT_FALSE(cert->is_ca());
  EXPECT_EQ(cert->key_usage(), KeyUsage::kDigitalSignature | KeyUsage::kKeyEncipherment);  // RSA
  EXPECT_THAT(cert->extended_key_usage(), ElementsAre("clientAuth"));
  EXPECT_EQ(cert->not_after(), FixedNow() + std::chrono::hours(1));
  int san_index = X509_get_ext_by_NID(cert->get(), NID_subject_alt_name, -1);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert->get(), san_index)), 0);

  profile.server_auth = true;
  Result<Certificate> both = IssueLeaf(root, MakeCsr(key), profile, FixedNow());
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_THAT(both->extended_key_usage(), ElementsAre("serverAuth", "clientAuth"));
}

TEST(pkiIssuer, ConcurrentIssuanceFromOneSigner) {
  CaSigner root = MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  Csr csr = MakeCsr(CachedKey(KeySpec::EcdsaP384()));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::vector<Certificate>> issued(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Result<Certificate> cert = IssueIntermediate(root, csr, TestIntermediateProfile(), FixedNow());
        if (!cert.ok()) {
          errors[t] = cert.error().message;
          return;
        }
        issued[t].push_back(std::move(cert).value());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> serials;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "");
    for (const Certificate& cert : issued[t]) {
      serials.insert(cert.serial_hex());
      EXPECT_TRUE(VerifyChain(cert, {root.certificate()}, {}, FixedNow()).ok());
    }
  }
  EXPECT_EQ(serials.size(), static_cast<size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace vmesh::pki
