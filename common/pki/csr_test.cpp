#include "common/pki/csr.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>

#include "common/pki/pki_test_util.h"

namespace vmesh::pki {
namespace {

using test::CachedKey;
using test::DerToPem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

CsrRequest AgentRequest() {
  CsrRequest request;
  request.subject = DistinguishedName{"agent-1", "vmesh", "clusters"};
  request.uri_sans = {"spiffe://hub.example/cluster/agent-1"};
  request.dns_sans = {"agent-1.example.com"};
  return request;
}

TEST(pkiCsr, CreateParseRoundTrip) {
  const PrivateKey& key = CachedKey(KeySpec::EcdsaP256());
  Result<Csr> csr = Csr::Create(key, AgentRequest());
  ASSERT_TRUE(csr.ok()) << csr.error().message;
  std::string pem = csr->ToPem();
  EXPECT_THAT(pem, StartsWith("-----BEGIN CERTIFICATE REQUEST-----\n"));

  Result<Csr> parsed = Csr::FromPem(pem);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->VerifySignature().ok());
  EXPECT_EQ(parsed->subject(), "CN=agent-1,OU=clusters,O=vmesh");
  EXPECT_EQ(parsed->subject_name(), (DistinguishedName{"agent-1", "vmesh", "clusters"}));
  EXPECT_THAT(parsed->uri_sans(), ElementsAre("spiffe://hub.example/cluster/agent-1"));
  EXPECT_THAT(parsed->dns_sans(), ElementsAre("agent-1.example.com"));
  Result<PublicKey> pub = parsed->public_key();
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_TRUE(pub->Equals(key.public_key()));
  EXPECT_EQ(parsed->ToDer(), csr->ToDer());

  Result<Csr> from_der = Csr::FromDer(csr->ToDer());
  ASSERT_TRUE(from_der.ok()) << from_der.error().message;
  EXPECT_TRUE(from_der->VerifySignature().ok());
}

TEST(pkiCsr, EveryKeyTypeSignsVerifiableCsrs) {
  for (const KeySpec& spec : {KeySpec::Rsa(2048), KeySpec::EcdsaP256(), KeySpec::EcdsaP384()}) {
    SCOPED_TRACE(spec.ToString());
    Result<Csr> csr = Csr::Create(CachedKey(spec), CsrRequest{});
    ASSERT_TRUE(csr.ok()) << csr.error().message;
    EXPECT_TRUE(csr->VerifySignature().ok());
    EXPECT_THAT(csr->uri_sans(), IsEmpty());
    EXPECT_EQ(csr->subject(), "");
    Csr copy = *csr;  // deep copy (X509_REQ has no reference count)
    EXPECT_TRUE(copy.VerifySignature().ok());
    EXPECT_EQ(copy.ToDer(), csr->ToDer());
  }
}

TEST(pkiCsr, TamperedSignatureFailsVerification) {
  for (const KeySpec& spec : {KeySpec::Rsa(2048), KeySpec::EcdsaP256()}) {
    SCOPED_TRACE(spec.ToString());
    Result<Csr> csr = Csr::Create(CachedKey(spec), AgentRequest());
    ASSERT_TRUE(csr.ok());
    std::string der = csr->ToDer();
    der[der.size() - 1] ^= 0x01;  // the signature is the last field of the CSR
    Result<Csr> tampered = Csr::FromPem(DerToPem(der, "CERTIFICATE REQUEST"));
    ASSERT_TRUE(tampered.ok()) << tampered.error().message;
    Status verified = tampered->VerifySignature();
    ASSERT_FALSE(verified.ok());
    EXPECT_THAT(verified.error().message, HasSubstr("CSR signature does not verify with the CSR's public key"));
    EXPECT_EQ(ERR_peek_error(), 0u);
  }
}

TEST(pkiCsr, TamperedContentFailsVerification) {
  Result<Csr> csr = Csr::Create(CachedKey(KeySpec::Rsa(2048)), AgentRequest());
  ASSERT_TRUE(csr.ok());
  std::string der = csr->ToDer();
  size_t at = der.find("spiffe://hub.example/cluster/agent-1");
  ASSERT_NE(at, std::string::npos);
  der[at + std::string("spiffe://hub.example/cluster/agent-").size()] = '2';  // ask for agent-2's identity
  Result<Csr> tampered = Csr::FromDer(der);
  ASSERT_TRUE(tampered.ok()) << tampered.error().message;
  EXPECT_THAT(tampered->uri_sans(), ElementsAre("spiffe://hub.example/cluster/agent-2"));
  Status verified = tampered->VerifySignature();
  ASSERT_FALSE(verified.ok());
  EXPECT_THAT(verified.error().message, HasSubstr("CSR signature does not verify"));
}

TEST(pkiCsr, RejectsGarbageAndTruncatedInput) {
  Result<Csr> garbage = Csr::FromPem("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.error().message, HasSubstr("cannot parse CSR PEM"));

  std::string pem = Csr::Create(CachedKey(KeySpec::EcdsaP256()), AgentRequest())->ToPem();
  Result<Csr> truncated = Csr::FromPem(pem.substr(0, pem.size() - 40));
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(truncated.error().message, HasSubstr("cannot parse CSR PEM"));

  EXPECT_FALSE(Csr::FromPem("").ok());
  std::string der = Csr::Create(CachedKey(KeySpec::EcdsaP256()), AgentRequest())->ToDer();
  Result<Csr> trailing = Csr::FromDer(der + "x");
  ASSERT_FALSE(trailing.ok());
  EXPECT_THAT(trailing.error().message, HasSubstr("trailing data"));
  EXPECT_FALSE(Csr::FromDer(der.substr(0, 100)).ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pkiCsr, RejectsInvalidRequestFields) {
  const PrivateKey& key = CachedKey(KeySpec::EcdsaP256());
  CsrRequest bad_uri = AgentRequest();
  bad_uri.uri_sans = {"spiffe://a b"};
  Result<Csr> csr = Csr::Create(key, bad_uri);
  ASSERT_FALSE(csr.ok());
  EXPECT_THAT(csr.error().message, HasSubstr("SAN URI \"spiffe://a b\" must be printable ASCII without spaces"));

  CsrRequest relative_uri = AgentRequest();
  relative_uri.uri_sans = {"/ns/default"};
  csr = Csr::Create(key, relative_uri);
  ASSERT_FALSE(csr.ok());
  EXPECT_THAT(csr.error().message, HasSubstr("is not an absolute URI"));

  CsrRequest bad_dns = AgentRequest();
  bad_dns.dns_sans = {"under_score.example"};
  csr = Csr::Create(key, bad_dns);
  ASSERT_FALSE(csr.ok());
  EXPECT_THAT(csr.error().message, HasSubstr("SAN DNS name \"under_score.example\" is not a valid host name"));

  CsrRequest long_cn = AgentRequest();
  long_cn.subject.common_name = std::string(65, 'x');
  csr = Csr::Create(key, long_cn);
  ASSERT_FALSE(csr.ok());
  EXPECT_THAT(csr.error().message, HasSubstr("CN \"xxxx"));
  EXPECT_THAT(csr.error().message, HasSubstr("longer than 64 characters"));

  CsrRequest bad_utf8 = AgentRequest();
  bad_utf8.subject.organization = "\xff\xfe";
  csr = Csr::Create(key, bad_utf8);
  ASSERT_FALSE(csr.ok());
  EXPECT_THAT(csr.error().message, HasSubstr("O is not valid UTF-8"));
}

TEST(pkiCsr, UnsupportedKeyIsReportedByPublicKey) {
  // A CSR can carry a key vmesh refuses to certify; parsing and verifying it works, using the key does not.
  EvpPkeyPtr rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), rsa1024.get());
  ASSERT_GT(X509_REQ_sign(req.get(), rsa1024.get(), EVP_sha256()), 0);
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());

  Result<Csr> csr = Csr::FromPem(MemoryBioContents(bio.get()));
  ASSERT_TRUE(csr.ok()) << csr.error().message;
  EXPECT_TRUE(csr->VerifySignature().ok());
  Result<PublicKey> key = csr->public_key();
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.error().message, HasSubstr("CSR public key: RSA key of 1024 bits is not supported"));
}

TEST(pkiCsr, OpensslCliAcceptsOurCsr) {
  if (!test::HaveOpensslCli()) GTEST_SKIP() << "openssl CLI not installed";
  Result<Csr> csr = Csr::Create(CachedKey(KeySpec::Rsa(2048)), AgentRequest());
  ASSERT_TRUE(csr.ok());
  test::TempDir dir;
  std::string path = dir.Write("csr.pem", csr->ToPem());
  test::CommandResult r = test::RunCommand("openssl req -in " + path + " -verify -noout -text");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("verify OK"));
  EXPECT_THAT(r.output, HasSubstr("URI:spiffe://hub.example/cluster/agent-1"));
  EXPECT_THAT(r.output, HasSubstr("Subject: O = vmesh, OU = clusters, CN = agent-1"));
}

}  // namespace
}  // namespace vmesh::pki
