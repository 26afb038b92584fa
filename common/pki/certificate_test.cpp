#include "common/pki/certificate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <cctype>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/pki/issuer.h"
#include "common/pki/pki_test_util.h"

namespace vmesh::pki {
namespace {

using test::CachedKey;
using test::FixedNow;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::string_literals;

std::vector<Certificate> ThreeCertificates() {
  CaSigner root = test::MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  CaSigner intermediate = test::MakeIntermediate(root, KeySpec::EcdsaP384(), FixedNow());
  LeafProfile profile;
  profile.subject.common_name = "leaf";
  profile.dns_sans = {"leaf.example"};
  profile.server_auth = true;
  Result<Certificate> leaf =
      IssueLeaf(intermediate, test::MakeCsr(CachedKey(KeySpec::EcdsaP256())), profile, FixedNow());
  if (!leaf.ok()) throw std::runtime_error(leaf.error().message);
  return {*leaf, intermediate.certificate(), root.certificate()};
}

TEST(pkiCertificate, PemAndDerRoundTrip) {
  Certificate cert = ThreeCertificates()[0];
  std::string pem = cert.ToPem();
  EXPECT_THAT(pem, StartsWith("-----BEGIN CERTIFICATE-----\n"));
  Result<Certificate> from_pem = Certificate::FromPem(pem);
  ASSERT_TRUE(from_pem.ok()) << from_pem.error().message;
  EXPECT_EQ(from_pem->ToDer(), cert.ToDer());
  Result<Certificate> from_der = Certificate::FromDer(cert.ToDer());
  ASSERT_TRUE(from_der.ok()) << from_der.error().message;
  EXPECT_EQ(from_der->Fingerprint(), cert.Fingerprint());
  EXPECT_EQ(cert.Fingerprint(), *Sha256Hex(cert.ToDer()));

  Certificate copy = cert;
  EXPECT_EQ(copy.get(), cert.get());  // shared, reference-counted
}

TEST(pkiCertificate, IssuedCertificateKeyIsUsableFromSeveralThreads) {
  // Issued certificates carry the CSR's key bytes undecoded; get() decodes them once, on first use.
  CaSigner root = test::MakeRoot(KeySpec::EcdsaP256(), FixedNow());
  const PrivateKey& key = CachedKey(KeySpec::Rsa(2048));
  Result<Certificate> cert = IssueIntermediate(root, test::MakeCsr(key), test::TestIntermediateProfile(), FixedNow());
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  std::string der_before = cert->ToDer();
  Certificate copy = *cert;

  std::vector<X509*> seen(4, nullptr);
  std::vector<int> matches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const Certificate& c = t % 2 == 0 ? *cert : copy;
      seen[t] = c.get();
      matches[t] =
          X509_get0_pubkey(c.get()) != nullptr && c.public_key().ok() && c.public_key()->Equals(key.public_key());
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(seen[t], seen[0]);
    EXPECT_TRUE(matches[t]);
  }
  EXPECT_EQ(cert->ToDer(), der_before);
  EXPECT_EQ(Certificate::FromDer(der_before)->Fingerprint(), cert->Fingerprint());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pkiCertificate, PemBundleParsesEveryCertificateInOrder) {
  std::vector<Certificate> certs = ThreeCertificates();
  std::string bundle =
      "# cert-chain.pem\n" + certs[0].ToPem() + "some comment\n" + certs[1].ToPem() + certs[2].ToPem() + "\n";
  Result<std::vector<Certificate>> parsed = ParsePemBundle(bundle);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*parsed)[i].Fingerprint(), certs[i].Fingerprint());
  EXPECT_EQ(ToPemBundle(*parsed), certs[0].ToPem() + certs[1].ToPem() + certs[2].ToPem());
}

TEST(pkiCertificate, PemBundleErrorsNameTheCertificate) {
  std::vector<Certificate> certs = ThreeCertificates();
  Result<std::vector<Certificate>> empty = ParsePemBundle("nothing here");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.error().message, HasSubstr("PEM bundle contains no certificate"));

  std::string second = certs[1].ToPem();
  Result<std::vector<Certificate>> truncated = ParsePemBundle(certs[0].ToPem() + second.substr(0, second.size() / 2));
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(truncated.error().message, HasSubstr("certificate #2 of the PEM bundle has no END line"));

  std::string corrupt = second;
  corrupt.replace(100, 8, "********");
  Result<std::vector<Certificate>> bad = ParsePemBundle(certs[0].ToPem() + corrupt);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("certificate #2 of the PEM bundle: cannot parse certificate PEM"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pkiCertificate, RejectsGarbageTruncatedAndTrailingInput) {
  Result<Certificate> garbage = Certificate::FromPem("garbage");
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.error().message, HasSubstr("cannot parse certificate PEM"));
  EXPECT_THAT(garbage.error().message, HasSubstr("no start line"));  // OpenSSL's reason is kept

  std::string pem = ThreeCertificates()[0].ToPem();
  Result<Certificate> truncated = Certificate::FromPem(pem.substr(0, pem.size() - 60));
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(truncated.error().message, HasSubstr("cannot parse certificate PEM"));

  std::string der = ThreeCertificates()[0].ToDer();
  Result<Certificate> short_der = Certificate::FromDer(der.substr(0, der.size() - 1));
  ASSERT_FALSE(short_der.ok());
  EXPECT_THAT(short_der.error().message, HasSubstr("cannot parse certificate DER"));
  Result<Certificate> trailing = Certificate::FromDer(der + "\0"s);
  ASSERT_FALSE(trailing.ok());
  EXPECT_THAT(trailing.error().message, HasSubstr("trailing data"));
  EXPECT_FALSE(Certificate::FromDer("").ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pkiCertificate, ReadsACertificateMadeByTheOpensslCli) {
  // An independent producer, to check our accessors against what `openssl` itself wrote.
  if (!test::HaveOpensslCli()) GTEST_SKIP() << "openssl CLI not installed";
  test::TempDir dir;
  std::string cert_path = (dir.path() / "cert.pem").string();
  std::string key_path = (dir.path() / "key.pem").string();
  test::CommandResult r = test::RunCommand(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout " + key_path + " -out " +
      cert_path + " -days 10 -subj '/O=acme/OU=mesh/CN=hand made' -set_serial 0x0123456789abcdef" +
      " -addext 'subjectAltName=URI:spiffe://acme/ns/a/sa/b,DNS:a.example,IP:10.1.2.3,IP:fd00::1'" +
      " -addext 'basicConstraints=critical,CA:TRUE,pathlen:2'" +
      " -addext 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyAgreement'" +
      " -addext 'extendedKeyUsage=serverAuth,1.3.6.1.4.1.99999.1'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Result<std::vector<Certificate>> certs = ParsePemBundle(test::RunCommand("cat " + cert_path).output);
  ASSERT_TRUE(certs.ok()) << certs.error().message;
  const Certificate& cert = (*certs)[0];

  EXPECT_EQ(cert.serial_hex(), "123456789abcdef");
  EXPECT_EQ(cert.subject(), "CN=hand made,OU=mesh,O=acme");
  EXPECT_EQ(cert.subject_name(), (DistinguishedName{"hand made", "acme", "mesh"}));
  EXPECT_EQ(cert.issuer_name(), cert.subject_name());
  EXPECT_TRUE(cert.IsSelfSigned());
  EXPECT_THAT(cert.uri_sans(), ElementsAre("spiffe://acme/ns/a/sa/b"));
  EXPECT_THAT(cert.dns_sans(), ElementsAre("a.example"));
  EXPECT_THAT(cert.ip_sans(), ElementsAre("10.1.2.3", "fd00::1"));
  EXPECT_TRUE(cert.is_ca());
  EXPECT_EQ(cert.path_len(), 2);
  EXPECT_EQ(cert.key_usage(),
            KeyUsage::kKeyCertSign | KeyUsage::kCrlSign | KeyUsage::kDigitalSignature | KeyUsage::kKeyAgreement);
  EXPECT_THAT(cert.extended_key_usage(), ElementsAre("serverAuth", "1.3.6.1.4.1.99999.1"));
  EXPECT_EQ(cert.not_after() - cert.not_before(), std::chrono::days(10));
  EXPECT_EQ(cert.public_key()->spec().ToString(), "ECDSA P-384");
  EXPECT_EQ(cert.signature_algorithm(), "ecdsa-with-SHA256");

  // Fingerprint, SKI and the key match what the CLI computes.
  r = test::RunCommand("openssl x509 -in " + cert_path + " -noout -fingerprint -sha256");
  std::string cli = r.output.substr(r.output.find('=') + 1);
  std::erase(cli, ':');
  std::erase(cli, '\n');
  for (char& c : cli) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(cert.Fingerprint(), cli);
  r = test::RunCommand("openssl x509 -in " + cert_path + " -noout -ext subjectKeyIdentifier");
  std::string ski = cert.subject_key_id();
  std::string ski_colons;
  for (size_t i = 0; i < ski.size(); i += 2) ski_colons += (i ? ":" : "") + ski.substr(i, 2);
  for (char& c : ski_colons) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_THAT(r.output, HasSubstr(ski_colons));
  Result<PrivateKey> key = PrivateKey::FromPem(test::RunCommand("cat " + key_path).output);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_TRUE(cert.public_key()->Equals(key->public_key()));
}

}  // namespace
}  // namespace vmesh::pki
