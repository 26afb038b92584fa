#include "common/api/secret.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/api/manifest.h"
#include "common/base/base64.h"
#include "common/base/files.h"
#include "common/pki/pki_test_util.h"

namespace vmesh::api {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

namespace test = pki::test;

// A PEM value as a YAML block scalar under `key:` at 4 spaces.
std::string Block(const std::string& key, const std::string& pem) {
  std::string out = "    " + key + ": |\n";
  size_t pos = 0;
  while (pos < pem.size()) {
    size_t eol = pem.find('\n', pos);
    if (eol == std::string::npos) eol = pem.size();
    out += "      " + pem.substr(pos, eol - pos) + "\n";
    pos = eol + 1;
  }
  return out;
}

std::string StringDataSecret(const std::string& cert, const std::string& key, const std::string& chain = "") {
  std::string out = "apiVersion: v1\nkind: Secret\nmetadata: {name: my-root}\ntype: vmesh.dev/root-ca\nstringData:\n" +
                    Block("root-cert.pem", cert) + Block("key.pem", key);
  if (!chain.empty()) out += Block("cert-chain.pem", chain);
  return out;
}

std::string DataSecret(const std::string& cert, const std::string& key) {
  return "apiVersion: v1\nkind: Secret\nmetadata: {name: my-root, namespace: corp}\ntype: vmesh.dev/root-ca\n"
         "data:\n  root-cert.pem: " +
         Base64Encode(cert) + "\n  key.pem: " + Base64Encode(key) + "\n";
}

class SecretTest : public ::testing::Test {
 protected:
  const pki::CaSigner root_ = test::MakeRoot(pki::KeySpec::EcdsaP256(), test::FixedNow());
  const std::string cert_pem_ = root_.certificate().ToPem();
  const std::string key_pem_ = root_.key().ToPem();
};

TEST_F(SecretTest, DecodesARootSecretFromStringDataAndDefaultsTheNamespace) {
  DecodeResult r = DecodeManifests(StringDataSecret(cert_pem_, key_pem_));
  ASSERT_TRUE(r.ok()) << JoinErrors(r.errors);
  ASSERT_THAT(r.objects, SizeIs(1));
  const auto& secret = std::get<v1::Secret>(r.objects[0].object);
  EXPECT_EQ(secret.metadata().namespace_(), "vmesh");
  EXPECT_EQ(secret.type(), "vmesh.dev/root-ca");
  EXPECT_EQ(SecretValue(secret, kRootCertKey), cert_pem_);
  EXPECT_EQ(SecretValue(secret, kRootKeyKey), key_pem_);
  EXPECT_TRUE(IsRootCaSecret(secret));
}

TEST_F(SecretTest, DecodesBase64DataAsKubernetesDoes) {
  DecodeResult r = DecodeManifests(DataSecret(cert_pem_, key_pem_));
  ASSERT_TRUE(r.ok()) << JoinErrors(r.errors);
  const auto& secret = std::get<v1::Secret>(r.objects[0].object);
  EXPECT_EQ(secret.metadata().namespace_(), "corp");
  EXPECT_EQ(secret.data().at("root-cert.pem"), cert_pem_);
  EXPECT_EQ(secret.data().at("key.pem"), key_pem_);

  DecodeResult bad = DecodeManifests("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: '!!!'}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(JoinErrors(bad.errors), HasSubstr("data[a]: expected base64-encoded bytes"));
}

TEST_F(SecretTest, KeyOfAnotherCertificateIsRefusedNamingKeyPem) {
  const std::string other_key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256())->ToPem();
  DecodeResult r = DecodeManifests(DataSecret(cert_pem_, other_key));
  ASSERT_FALSE(r.ok());
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].path, "data[key.pem]");
  EXPECT_EQ(r.errors[0].object, "Secret corp/my-root");
  EXPECT_GT(r.errors[0].line, 0);
  EXPECT_THAT(r.errors[0].message, HasSubstr("does not match root-cert.pem"));
  EXPECT_THAT(r.objects, IsEmpty());

  // Given as stringData, the error names stringData.
  DecodeResult s = DecodeManifests(StringDataSecret(cert_pem_, other_key));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.errors[0].path, "stringData[key.pem]");
}

TEST_F(SecretTest, RootCertificateMustBeACaThatCanSignCas) {
  // A leaf certificate.
  pki::LeafProfile leaf_profile;
  leaf_profile.subject.common_name = "leaf";
  leaf_profile.server_auth = true;
  leaf_profile.dns_sans = {"leaf.example"};
  const pki::PrivateKey& leaf_key = test::CachedKey(pki::KeySpec::EcdsaP256());
  auto leaf = pki::IssueLeaf(root_, test::MakeCsr(leaf_key), leaf_profile, test::FixedNow());
  ASSERT_TRUE(leaf.ok()) << leaf.error().message;
  v1::Secret secret;
  secret.set_type(std::string(kRootCaSecretType));
  (*secret.mutable_data())["root-cert.pem"] = leaf->ToPem();
  (*secret.mutable_data())["key.pem"] = leaf_key.ToPem();
  auto errors = ValidateRootCaSecret(secret);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].path, "data[root-cert.pem]");
  EXPECT_THAT(errors[0].message, HasSubstr("is not a CA certificate"));

  // An intermediate with pathlen:0 cannot sign the per-mesh intermediates.
  pki::CaSigner intermediate = test::MakeIntermediate(root_, pki::KeySpec::EcdsaP256(), test::FixedNow());
  (*secret.mutable_data())["root-cert.pem"] = intermediate.certificate().ToPem();
  (*secret.mutable_data())["key.pem"] = intermediate.key().ToPem();
  errors = ValidateRootCaSecret(secret);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0].message, HasSubstr("pathlen:0"));
}

TEST_F(SecretTest, MissingAndMalformedEntriesAreNamed) {
  v1::Secret secret;
  secret.set_type(std::string(kRootCaSecretType));
  auto errors = ValidateRootCaSecret(secret);
  ASSERT_THAT(errors, SizeIs(2));
  EXPECT_THAT(errors[0].message, HasSubstr("missing root-cert.pem"));
  EXPECT_THAT(errors[1].message, HasSubstr("missing key.pem"));

  (*secret.mutable_data())["root-cert.pem"] = "not a certificate";
  (*secret.mutable_data())["key.pem"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  errors = ValidateRootCaSecret(secret);
  ASSERT_THAT(errors, SizeIs(2));
  EXPECT_EQ(errors[0].path, "data[root-cert.pem]");
  EXPECT_THAT(errors[0].message, HasSubstr("not a PEM certificate"));
  EXPECT_EQ(errors[1].path, "data[key.pem]");
  EXPECT_THAT(errors[1].message, HasSubstr("not a usable private key"));

  // Two certificates in root-cert.pem: the upstream ones belong in cert-chain.pem.
  (*secret.mutable_data())["root-cert.pem"] = cert_pem_ + cert_pem_;
  (*secret.mutable_data())["key.pem"] = key_pem_;
  errors = ValidateRootCaSecret(secret);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0].message, HasSubstr("cert-chain.pem"));
}

TEST_F(SecretTest, CertChainMustLeadToItsLastCertificate) {
  const pki::CaSigner other =
      test::MakeRoot(pki::KeySpec::EcdsaP256(), test::FixedNow(), std::chrono::days(365), "some other root");
  v1::Secret secret;
  (*secret.mutable_data())["root-cert.pem"] = cert_pem_;
  (*secret.mutable_data())["key.pem"] = key_pem_;
  (*secret.mutable_data())["cert-chain.pem"] = other.certificate().ToPem();
  auto errors = ValidateRootCaSecret(secret);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].path, "data[cert-chain.pem]");
  EXPECT_THAT(errors[0].message, HasSubstr("does not chain"));

  (*secret.mutable_data())["cert-chain.pem"] = "garbage";
  errors = ValidateRootCaSecret(secret);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0].message, HasSubstr("not a PEM certificate bundle"));
}

TEST_F(SecretTest, EnterpriseIntermediateWithItsChainIsAccepted) {
  if (!test::HaveOpensslCli()) GTEST_SKIP() << "no openssl CLI";
  test::TempDir dir;
  const std::string d = dir.path().string();
  auto run = [&](const std::string& cmd) {
    auto r = test::RunCommand("cd " + d + " && " + cmd);
    ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
  };
  run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ent.key -out ent.pem "
      "-days 30 -subj /O=Corp/CN=Corp-Root -addext basicConstraints=critical,CA:TRUE "
      "-addext keyUsage=critical,keyCertSign,cRLSign 2>&1");
  run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout sub.key -out sub.csr "
      "-subj /O=Corp/CN=Corp-Mesh-CA 2>&1");
  dir.Write("ext.cnf", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  run("openssl x509 -req -in sub.csr -CA ent.pem -CAkey ent.key -CAcreateserial -days 30 -extfile ext.cnf "
      "-out sub.pem 2>&1");
  auto read = [&](const std::string& name) { return *ReadFile(d + "/" + name); };
  v1::Secret secret;
  (*secret.mutable_string_data())["root-cert.pem"] = read("sub.pem");
  (*secret.mutable_string_data())["key.pem"] = read("sub.key");
  (*secret.mutable_string_data())["cert-chain.pem"] = read("ent.pem");
  EXPECT_THAT(ValidateRootCaSecret(secret), IsEmpty());
  secret.mutable_metadata()->set_name("corp-root");
  EXPECT_THAT(ValidateSecret(secret), IsEmpty());
}

TEST_F(SecretTest, OpaqueSecretsAreNotRootsButKeysAreChecked) {
  DecodeResult r = DecodeManifests(
      "apiVersion: v1\nkind: Secret\nmetadata: {name: misc}\nstringData: {token: abc, \"bad key\": x}\n");
  ASSERT_FALSE(r.ok());
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].path, "stringData[bad key]");
  EXPECT_THAT(r.errors[0].message, HasSubstr("is not a valid key"));

  r = DecodeManifests("apiVersion: v1\nkind: Secret\nmetadata: {name: misc}\nstringData: {token: abc}\n");
  ASSERT_TRUE(r.ok()) << JoinErrors(r.errors);
  EXPECT_FALSE(IsRootCaSecret(std::get<v1::Secret>(r.objects[0].object)));

  r = DecodeManifests("apiVersion: v1\nkind: Secret\nmetadata: {name: misc}\nspec: {}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(JoinErrors(r.errors), HasSubstr("unknown field \"spec\""));
}

TEST_F(SecretTest, RedactionKeepsCertificatesAndWithholdsEverythingElse) {
  v1::Secret secret;
  secret.mutable_metadata()->set_name("my-root");
  (*secret.mutable_data())["root-cert.pem"] = cert_pem_;
  (*secret.mutable_data())["key.pem"] = key_pem_;
  (*secret.mutable_string_data())["bundle.pem"] = cert_pem_ + key_pem_;  // a key hidden behind a certificate
  v1::Secret shown = RedactSecret(secret);
  EXPECT_TRUE(shown.string_data().empty());
  EXPECT_EQ(shown.data().at("root-cert.pem"), cert_pem_);
  EXPECT_EQ(shown.data().at("key.pem"), "");
  EXPECT_EQ(shown.data().at("bundle.pem"), "");
  EXPECT_EQ(shown.metadata().annotations().at(std::string(kRedactedAnnotation)), "bundle.pem,key.pem");
  EXPECT_EQ(SecretKeysList(secret), "bundle.pem, key.pem, root-cert.pem");

  const std::string encoded = Encode(shown, Format::kJson);
  EXPECT_EQ(encoded.find("PRIVATE KEY"), std::string::npos) << encoded;
  EXPECT_EQ(encoded.find(Base64Encode(key_pem_)), std::string::npos);

  EXPECT_TRUE(IsPublicSecretValue(cert_pem_));
  EXPECT_FALSE(IsPublicSecretValue(key_pem_));
  EXPECT_FALSE(IsPublicSecretValue("plain text"));
}

TEST_F(SecretTest, MergeStringDataLetsStringDataWin) {
  v1::Secret secret;
  (*secret.mutable_data())["a"] = "from data";
  (*secret.mutable_data())["b"] = "only data";
  (*secret.mutable_string_data())["a"] = "from stringData";
  EXPECT_EQ(SecretValue(secret, "a"), "from stringData");
  MergeStringData(&secret);
  EXPECT_TRUE(secret.string_data().empty());
  EXPECT_EQ(secret.data().at("a"), "from stringData");
  EXPECT_EQ(secret.data().at("b"), "only data");
  EXPECT_EQ(SecretValue(secret, "c"), std::nullopt);
}

}  // namespace
}  // namespace vmesh::api
