#include "common/pki/key.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>

#include "common/pki/pki_test_util.h"

// Test suites are named pki* so that `ctest -R pki` selects them (CTest names are "<suite>.<test>").
namespace vmesh::pki {
namespace {

using test::CachedKey;
using test::HaveOpensslCli;
using test::RunCommand;
using test::TempDir;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// PEM of a key vmesh cannot generate itself (other type, curve or size), made with OpenSSL directly.
std::string ForeignKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return MemoryBioContents(bio.get());
}

void ExpectGenerated(const KeySpec& spec, int bits) {
  Result<PrivateKey> key = PrivateKey::Generate(spec);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->algorithm(), spec.algorithm);
  EXPECT_EQ(key->bits(), bits);
  EXPECT_EQ(key->public_key().algorithm(), spec.algorithm);
  EXPECT_EQ(key->public_key().bits(), bits);
  EXPECT_THAT(key->ToPem(), StartsWith("-----BEGIN PRIVATE KEY-----\n"));
}

TEST(pkiKey, GeneratesRsa2048) { ExpectGenerated(KeySpec::Rsa(2048), 2048); }
TEST(pkiKey, GeneratesRsa3072) { ExpectGenerated(KeySpec::Rsa(3072), 3072); }
TEST(pkiKey, GeneratesRsa4096) { ExpectGenerated(KeySpec::Rsa(4096), 4096); }
TEST(pkiKey, GeneratesEcdsaP256) { ExpectGenerated(KeySpec::EcdsaP256(), 256); }
TEST(pkiKey, GeneratesEcdsaP384) { ExpectGenerated(KeySpec::EcdsaP384(), 384); }

TEST(pkiKey, GeneratedKeysDiffer) {
  Result<PrivateKey> a = PrivateKey::Generate(KeySpec::EcdsaP256());
  Result<PrivateKey> b = PrivateKey::Generate(KeySpec::EcdsaP256());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->public_key().Equals(b->public_key()));
  EXPECT_NE(a->public_key().Fingerprint(), b->public_key().Fingerprint());
}

TEST(pkiKey, SpecNames) {
  EXPECT_EQ(KeySpec::Rsa(4096).ToString(), "RSA 4096");
  EXPECT_EQ(KeySpec::EcdsaP256().ToString(), "ECDSA P-256");
  EXPECT_EQ(KeySpec::EcdsaP384().ToString(), "ECDSA P-384");
  EXPECT_EQ(CachedKey(KeySpec::EcdsaP384()).spec().ToString(), "ECDSA P-384");
  EXPECT_EQ(CachedKey(KeySpec::Rsa(2048)).spec().ToString(), "RSA 2048");
}

TEST(pkiKey, RejectsRsaSizesOutOfRange) {
  Result<PrivateKey> small = PrivateKey::Generate(KeySpec::Rsa(1024));
  ASSERT_FALSE(small.ok());
  EXPECT_THAT(small.error().message, HasSubstr("RSA key size 1024 bits is out of range (2048 to 8192 bits)"));

  Result<PrivateKey> large = PrivateKey::Generate(KeySpec::Rsa(8200));
  ASSERT_FALSE(large.ok());
  EXPECT_THAT(large.error().message, HasSubstr("8200 bits is out of range"));

  Result<PrivateKey> odd = PrivateKey::Generate(KeySpec::Rsa(2049));
  ASSERT_FALSE(odd.ok());
  EXPECT_THAT(odd.error().message, HasSubstr("not a multiple of 8"));

  // The bounds themselves are allowed (checked without generating an 8192-bit key, which takes minutes).
  EXPECT_TRUE(ValidateKeySpec(KeySpec::Rsa(2048)).ok());
  EXPECT_TRUE(ValidateKeySpec(KeySpec::Rsa(8192)).ok());
}

TEST(pkiKey, PemFormatsRoundTrip) {
  struct Case {
    KeySpec spec;
    const char* traditional_header;
  };
  for (const Case& c : {Case{KeySpec::Rsa(2048), "-----BEGIN RSA PRIVATE KEY-----\n"},
                        Case{KeySpec::EcdsaP256(), "-----BEGIN EC PRIVATE KEY-----\n"},
                        Case{KeySpec::EcdsaP384(), "-----BEGIN EC PRIVATE KEY-----\n"}}) {
    SCOPED_TRACE(c.spec.ToString());
    const PrivateKey& key = CachedKey(c.spec);
    std::string pkcs8 = key.ToPem();
    std::string traditional = key.ToPem(PrivateKeyFormat::kTraditional);
    EXPECT_THAT(pkcs8, StartsWith("-----BEGIN PRIVATE KEY-----\n"));
    EXPECT_EQ(key.ToPem(PrivateKeyFormat::kPkcs8), pkcs8);
    EXPECT_THAT(traditional, StartsWith(c.traditional_header));

    for (const std::string& pem : {pkcs8, traditional}) {
      Result<PrivateKey> parsed = PrivateKey::FromPem(pem);
      ASSERT_TRUE(parsed.ok()) << parsed.error().message;
      EXPECT_EQ(parsed->spec().ToString(), c.spec.ToString());
      EXPECT_TRUE(parsed->public_key().Equals(key.public_key()));
      // Re-encoding is stable, whatever format we read.
      EXPECT_EQ(parsed->ToPem(), pkcs8);
    }
  }
}

TEST(pkiKey, PublicKeyPemAndFingerprint) {
  const PrivateKey& key = CachedKey(KeySpec::EcdsaP256());
  PublicKey pub = key.public_key();
  std::string pem = pub.ToPem();
  EXPECT_THAT(pem, StartsWith("-----BEGIN PUBLIC KEY-----\n"));
  EXPECT_EQ(pem.find("PRIVATE"), std::string::npos);

  Result<PublicKey> parsed = PublicKey::FromPem(pem);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->Equals(pub));
  EXPECT_EQ(parsed->algorithm(), KeyAlgorithm::kEcdsaP256);
  EXPECT_EQ(parsed->bits(), 256);

  std::string fingerprint = pub.Fingerprint();
  EXPECT_EQ(fingerprint.size(), 64u);
  EXPECT_EQ(fingerprint.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(fingerprint, *Sha256Hex(pub.ToDer()));
  EXPECT_EQ(parsed->Fingerprint(), fingerprint);
  EXPECT_NE(CachedKey(KeySpec::EcdsaP384()).public_key().Fingerprint(), fingerprint);
}

TEST(pkiKey, FingerprintMatchesOpensslCli) {
  if (!HaveOpensslCli()) GTEST_SKIP() << "openssl CLI not installed";
  const PrivateKey& key = CachedKey(KeySpec::Rsa(2048));
  TempDir dir;
  std::string path = dir.Write("key.pem", key.ToPem(PrivateKeyFormat::kTraditional));
  test::CommandResult r = RunCommand("openssl pkey -in " + path + " -pubout -outform DER | openssl dgst -sha256 -r");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, StartsWith(key.public_key().Fingerprint() + " "));
}

TEST(pkiKey, CopiesShareTheKey) {
  PrivateKey key = CachedKey(KeySpec::EcdsaP256());
  PrivateKey copy = key;
  PrivateKey assigned = CachedKey(KeySpec::EcdsaP384());
  assigned = key;
  EXPECT_EQ(copy.get(), key.get());
  EXPECT_TRUE(assigned.public_key().Equals(key.public_key()));
  PublicKey pub = key.public_key();
  PublicKey pub_copy = pub;
  EXPECT_TRUE(pub_copy.Equals(pub));
}

TEST(pkiKey, RejectsGarbageAndTruncatedPem) {
  Result<PrivateKey> garbage = PrivateKey::FromPem("this is not a key");
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.error().message, HasSubstr("cannot parse private key PEM"));
  EXPECT_EQ(ERR_peek_error(), 0u) << "the OpenSSL error queue must be drained";

  std::string pem = CachedKey(KeySpec::EcdsaP256()).ToPem();
  Result<PrivateKey> truncated = PrivateKey::FromPem(pem.substr(0, pem.size() / 2));
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(truncated.error().message, HasSubstr("cannot parse private key PEM"));

  std::string corrupt = pem;
  corrupt[40] = '!';  // not base64
  EXPECT_FALSE(PrivateKey::FromPem(corrupt).ok());

  EXPECT_FALSE(PrivateKey::FromPem("").ok());
  Result<PublicKey> not_public = PublicKey::FromPem(pem);  // a private key PEM is not a public key PEM
  ASSERT_FALSE(not_public.ok());
  EXPECT_THAT(not_public.error().message, HasSubstr("cannot parse public key PEM"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pkiKey, RefusesEncryptedKeysWithoutPrompting) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  char pass[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), CachedKey(KeySpec::EcdsaP256()).get(), EVP_aes_256_cbc(), pass, 6,
                                          nullptr, nullptr),
            1);
  Result<PrivateKey> key = PrivateKey::FromPem(MemoryBioContents(bio.get()));
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.error().message, HasSubstr("encrypted private keys are not supported"));
}

TEST(pkiKey, RejectsUnsupportedKeyTypes) {
  EvpPkeyPtr ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  Result<PrivateKey> ed = PrivateKey::FromPem(ForeignKeyPem(ed25519.get()));
  ASSERT_FALSE(ed.ok());
  EXPECT_THAT(ed.error().message, HasSubstr("key type ED25519 is not supported"));

  EvpPkeyPtr k256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1"));
  Result<PrivateKey> curve = PrivateKey::FromPem(ForeignKeyPem(k256.get()));
  ASSERT_FALSE(curve.ok());
  EXPECT_THAT(curve.error().message, HasSubstr("EC curve secp256k1 is not supported"));

  EvpPkeyPtr rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  Result<PrivateKey> weak = PrivateKey::FromPem(ForeignKeyPem(rsa1024.get()));
  ASSERT_FALSE(weak.ok());
  EXPECT_THAT(weak.error().message, HasSubstr("RSA key of 1024 bits is not supported"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pkiKey, PublicKeyIsNotAPrivateKey) {
  EvpPkeyPtr pub_only(EVP_PKEY_dup(CachedKey(KeySpec::EcdsaP256()).public_key().get()));
  Result<PrivateKey> key = PrivateKey::FromOpenSsl(std::move(pub_only));
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.error().message, HasSubstr("no private part"));
}

}  // namespace
TEST(PrivateKeyTest, RsaGenerationStopsWhenCancelled) {
  std::atomic<bool> cancel{true};
  auto key = PrivateKey::Generate(KeySpec::Rsa(4096), &cancel);
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.error().message, ::testing::HasSubstr("cancelled"));
  cancel = false;
  auto fine = PrivateKey::Generate(KeySpec::Rsa(2048), &cancel);
  ASSERT_TRUE(fine.ok()) << fine.error().message;
  EXPECT_EQ(fine->bits(), 2048);
}

}  // namespace vmesh::pki
