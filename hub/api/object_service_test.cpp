#include "hub/api/object_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/api/secret.h"
#include "common/base/base64.h"
#include "common/pki/aead.h"
#include "common/pki/pki_test_util.h"

namespace vmesh::hub {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kVm[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1}
spec:
  meshes: [{name: istiod-istio-system-c1}, {name: istiod-istio-system-c2}]
  mtlsConfig: {shared: {}}
  federation: {permissive: {}}
---
apiVersion: networking.vmesh.dev/v1
kind: AccessPolicy
metadata: {name: ap1}
spec: {allowedMethods: [GET]}
)";

class ObjectServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-objects-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*OpenSqliteStore(dir_ + "/hub.db"));
    service_ = std::make_unique<ObjectService>(*store_, "vmesh", [this] { return now_; });
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::vector<std::string> Lines(const Result<std::vector<ApplyResult>>& r) {
    std::vector<std::string> out;
    if (!r.ok()) return {r.error().message};
    for (const auto& x : *r) out.push_back(x.ToString());
    return out;
  }
  std::string dir_;
  StorePtr store_;
  std::unique_ptr<ObjectService> service_;
  TimePoint now_ = TimePoint(std::chrono::seconds(1'800'000'000));
};

TEST_F(ObjectServiceTest, ApplyCreatesThenLeavesUnchangedThenConfigures) {
  EXPECT_THAT(Lines(service_->Apply(kVm)),
              ElementsAre("virtualmesh vmesh/vm1 created", "accesspolicy vmesh/ap1 created"));
  auto vm = **service_->GetVirtualMesh("vmesh", "vm1");
  EXPECT_EQ(vm.metadata().generation(), 1);
  EXPECT_EQ(vm.metadata().creation_timestamp(), "2027-01-15T08:00:00Z");
  EXPECT_EQ(vm.metadata().uid().size(), 36u);
  const std::string rv = vm.metadata().resource_version();

  EXPECT_THAT(Lines(service_->Apply(kVm)),
              ElementsAre("virtualmesh vmesh/vm1 unchanged", "accesspolicy vmesh/ap1 unchanged"));
  EXPECT_EQ((**service_->GetVirtualMesh("vmesh", "vm1")).metadata().resource_version(), rv) << "nothing written";

  std::string changed = kVm;
  changed.replace(changed.find("permissive: {}"), 14, "flatNetwork: true, selectors: [{}]");
  EXPECT_THAT(Lines(service_->Apply(changed)),
              ElementsAre("virtualmesh vmesh/vm1 configured", "accesspolicy vmesh/ap1 unchanged"));
  vm = **service_->GetVirtualMesh("vmesh", "vm1");
  EXPECT_EQ(vm.metadata().generation(), 2);
  EXPECT_TRUE(vm.spec().federation().flat_network());

  std::string labelled = changed;
  labelled.replace(labelled.find("metadata: {name: vm1}"), 21, "metadata: {name: vm1, labels: {team: a}}");
  EXPECT_THAT(Lines(service_->Apply(labelled))[0], "virtualmesh vmesh/vm1 configured");
  EXPECT_EQ((**service_->GetVirtualMesh("vmesh", "vm1")).metadata().generation(), 2) << "labels are not spec";
}

TEST_F(ObjectServiceTest, MalformedManifestChangesNothing) {
  std::string bad = std::string(kVm) +
                    "---\napiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: "
                    "{name: vm2}\nspec:\n  meshes: [{name: m}]\n  mtlsConfig:\n    shared:\n"
                    "      rootCertificateAuthority: {generated: {rsaKeySizeBytes: 1024}}\n";
  auto r = service_->Apply(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("rsaKeySizeBytes"));
  EXPECT_TRUE(service_->ListVirtualMeshes()->empty()) << "all or nothing";
}

TEST_F(ObjectServiceTest, StaleResourceVersionIsAConflict) {
  ASSERT_TRUE(service_->Apply(kVm).ok());
  std::string with_rv = kVm;
  with_rv.replace(with_rv.find("metadata: {name: vm1}"), 21, "metadata: {name: vm1, resourceVersion: \"1\"}");
  with_rv.replace(with_rv.find("permissive: {}"), 14, "selectors: [{}]");
  auto ok = service_->Apply(with_rv);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  auto stale = service_->Apply(with_rv.replace(with_rv.find("selectors: [{}]"), 15, "flatNetwork: true"));
  ASSERT_FALSE(stale.ok());
  EXPECT_THAT(stale.error().message, HasSubstr("conflict: VirtualMesh vmesh/vm1 was modified"));
}

TEST_F(ObjectServiceTest, StatusIsKeptAcrossSpecUpdatesAndWrittenOnlyWhenChanged) {
  ASSERT_TRUE(service_->Apply(kVm).ok());
  api::v1::VirtualMeshStatus status;
  status.set_state(api::v1::ACCEPTED);
  status.set_observed_generation(1);
  ASSERT_TRUE(service_->UpdateVirtualMeshStatus("vmesh", "vm1", status, std::nullopt, 0).ok());
  const std::string rv = (**service_->GetVirtualMesh("vmesh", "vm1")).metadata().resource_version();
  ASSERT_TRUE(service_->UpdateVirtualMeshStatus("vmesh", "vm1", status, std::nullopt, 0).ok());
  EXPECT_EQ((**service_->GetVirtualMesh("vmesh", "vm1")).metadata().resource_version(), rv);
  std::string changed = kVm;
  changed.replace(changed.find("permissive: {}"), 14, "selectors: [{}]");
  ASSERT_TRUE(service_->Apply(changed).ok());
  EXPECT_EQ((**service_->GetVirtualMesh("vmesh", "vm1")).status().state(), api::v1::ACCEPTED);
}

TEST_F(ObjectServiceTest, GlooManifestsAreImportedAndDiscoveryKindsRefused) {
  auto r = service_->Apply(
      "apiVersion: networking.mesh.gloo.solo.io/v1\nkind: VirtualMesh\nmetadata: {name: vm, namespace: gloo-mesh}\n"
      "spec: {meshes: [{name: m, namespace: gloo-mesh}]}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT((*r)[0].import_note, HasSubstr("mapped to vmesh"));
  EXPECT_TRUE(service_->GetVirtualMesh("vmesh", "vm")->has_value());
  auto mesh = service_->Apply("apiVersion: discovery.vmesh.dev/v1\nkind: Mesh\nmetadata: {name: m}\nspec: {}\n");
  ASSERT_FALSE(mesh.ok());
  EXPECT_THAT(mesh.error().message, HasSubstr("written by the hub from agent reports"));
}

TEST_F(ObjectServiceTest, DeleteByKindSpellings) {
  ASSERT_TRUE(service_->Apply(kVm).ok());
  EXPECT_TRUE(service_->Delete("virtualmeshes", "vmesh", "vm1").ok());
  EXPECT_THAT(service_->Delete("VirtualMesh", "", "vm1").error().message, HasSubstr("virtualmesh vmesh/vm1 not found"));
  EXPECT_TRUE(service_->Delete("ap", "", "ap1").ok());
  EXPECT_THAT(service_->Delete("pods", "", "x").error().message, HasSubstr("unknown kind"));
}

TEST_F(ObjectServiceTest, ClusterRecordsBecomeClusterObjects) {
  ClusterRecord r;
  r.name = "c1";
  r.state = ClusterState::kConnected;
  r.registered_at = now_;
  r.agent_version = "0.1.0";
  r.connected_since = now_;
  auto c = ClusterObject(r, "vmesh");
  EXPECT_EQ(c.metadata().name(), "c1");
  EXPECT_EQ(c.status().state(), api::v1::CONNECTED);
  EXPECT_EQ(c.status().connected_since().seconds(), 1'800'000'000);
  EXPECT_EQ(c.metadata().creation_timestamp(), "2027-01-15T08:00:00Z");
  r.state = ClusterState::kDeregistered;
  EXPECT_EQ(ClusterObject(r, "vmesh").metadata().labels().at("vmesh.dev/deregistered"), "true");
}

// A root-CA Secret manifest with base64 data, as `vmeshctl create root-secret` sends it.
std::string RootSecretManifest(const std::string& cert, const std::string& key, const std::string& name = "my-root") {
  return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name +
         "}\ntype: vmesh.dev/root-ca\ndata:\n  root-cert.pem: " + Base64Encode(cert) +
         "\n  key.pem: " + Base64Encode(key) + "\n";
}

class SecretServiceTest : public ObjectServiceTest {
 protected:
  const pki::CaSigner root_ =
      pki::test::MakeRoot(pki::KeySpec::EcdsaP256(), now_ - std::chrono::hours(1), std::chrono::days(365));
  const std::string cert_ = root_.certificate().ToPem();
  const std::string key_ = root_.key().ToPem();
};

TEST_F(SecretServiceTest, ApplyStoresARootSecretAndTheApiNeverReturnsItsKey) {
  EXPECT_THAT(Lines(service_->Apply(RootSecretManifest(cert_, key_))), ElementsAre("secret vmesh/my-root created"));
  EXPECT_THAT(Lines(service_->Apply(RootSecretManifest(cert_, key_))), ElementsAre("secret vmesh/my-root unchanged"));

  auto listed = service_->ListSecrets();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  const api::v1::Secret& shown = listed->front();
  EXPECT_EQ(shown.type(), "vmesh.dev/root-ca");
  EXPECT_EQ(shown.metadata().generation(), 1);
  EXPECT_EQ(shown.data().at("root-cert.pem"), cert_);
  EXPECT_EQ(shown.data().at("key.pem"), "") << "redacted";
  EXPECT_EQ(shown.metadata().annotations().at("vmesh.dev/redacted"), "key.pem");
  auto one = service_->GetSecret("vmesh", "my-root");
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->data().at("key.pem"), "");
  EXPECT_FALSE(service_->GetSecret("vmesh", "other")->has_value());

  auto full = service_->GetSecretData("vmesh", "my-root");
  ASSERT_TRUE(full.ok() && full->has_value());
  EXPECT_EQ((*full)->data().at("key.pem"), key_) << "the hub itself reads the key";

  // A new key for another certificate: refused naming key.pem, nothing changes.
  const pki::CaSigner other = pki::test::MakeRoot(pki::KeySpec::EcdsaP384(), now_ - std::chrono::hours(1));
  auto mismatched = service_->Apply(RootSecretManifest(cert_, other.key().ToPem()));
  ASSERT_FALSE(mismatched.ok());
  EXPECT_THAT(mismatched.error().message, HasSubstr("Secret vmesh/my-root: data[key.pem]: does not match"));
  EXPECT_EQ((*service_->GetSecretData("vmesh", "my-root"))->data().at("key.pem"), key_);

  // Another valid root: configured, generation 2.
  EXPECT_THAT(Lines(service_->Apply(RootSecretManifest(other.certificate().ToPem(), other.key().ToPem()))),
              ElementsAre("secret vmesh/my-root configured"));
  EXPECT_EQ((**service_->GetSecret("vmesh", "my-root")).metadata().generation(), 2);
}

TEST_F(SecretServiceTest, KeysAreSealedAtRestWithTheKeyEncryptionKey) {
  const std::string kek(32, 'k');
  ObjectService sealed(
      *store_, "vmesh", [this] { return now_; }, kek);
  ASSERT_TRUE(sealed.Apply(RootSecretManifest(cert_, key_)).ok());
  auto row = store_->GetObject("Secret", "vmesh", "my-root");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->body.find("PRIVATE KEY"), std::string::npos) << "the key is not stored in the clear";
  EXPECT_NE((*row)->body.find("BEGIN CERTIFICATE"), std::string::npos) << "certificates are public";
  EXPECT_EQ((*sealed.GetSecretData("vmesh", "my-root"))->data().at("key.pem"), key_);
  EXPECT_THAT(Lines(sealed.Apply(RootSecretManifest(cert_, key_))), ElementsAre("secret vmesh/my-root unchanged"))
      << "compared unsealed: a fresh nonce is no change";

  // Without the key-encryption key the sealed key cannot be read, and the error says what to do.
  auto unreadable = service_->GetSecretData("vmesh", "my-root");
  ASSERT_FALSE(unreadable.ok());
  EXPECT_THAT(unreadable.error().message, HasSubstr("--root-key-encryption-key-file"));
  EXPECT_EQ(service_->ListSecrets()->front().data().at("key.pem"), "") << "listing needs no key";
}

// Secrets applied before the hub had a key-encryption key: sealed at serve start (SealStoredSecrets), once.
TEST_F(SecretServiceTest, SecretsStoredInPlainAreSealedLater) {
  ASSERT_TRUE(service_->Apply(RootSecretManifest(cert_, key_)).ok());
  ASSERT_NE((*store_->GetObject("Secret", "vmesh", "my-root"))->body.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(*service_->SealStoredSecrets(), 0) << "nothing to do without a key";

  const std::string kek(32, 'k');
  ObjectService sealed(
      *store_, "vmesh", [this] { return now_; }, kek);
  EXPECT_EQ(*sealed.SealStoredSecrets(), 1);
  auto row = *store_->GetObject("Secret", "vmesh", "my-root");
  EXPECT_EQ(row->body.find("PRIVATE KEY"), std::string::npos);
  EXPECT_NE(row->body.find("BEGIN CERTIFICATE"), std::string::npos) << "certificates are public";
  EXPECT_EQ((*sealed.GetSecretData("vmesh", "my-root"))->data().at("key.pem"), key_);
  EXPECT_EQ(*sealed.SealStoredSecrets(), 0) << "already sealed values are left alone";
  ObjectService wrong(
      *store_, "vmesh", [this] { return now_; }, std::string(32, 'w'));
  EXPECT_THAT(wrong.SealStoredSecrets().error().message, HasSubstr("wrong --root-key-encryption-key-file"));
  EXPECT_EQ((*sealed.GetSecretData("vmesh", "my-root"))->data().at("key.pem"), key_);
}

TEST_F(SecretServiceTest, ExpiredRootIsRefusedAtApply) {
  const pki::CaSigner old =
      pki::test::MakeRoot(pki::KeySpec::EcdsaP256(), now_ - std::chrono::days(30), std::chrono::days(1));
  auto r = service_->Apply(RootSecretManifest(old.certificate().ToPem(), old.key().ToPem()) + "---\n" + kVm);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("Secret vmesh/my-root: data[root-cert.pem]: expired at"));
  EXPECT_TRUE(service_->ListVirtualMeshes()->empty()) << "all or nothing";
  EXPECT_TRUE(service_->ListSecrets()->empty());
}

TEST_F(SecretServiceTest, SecretsCanBeDeletedEvenWhileInUse) {
  ASSERT_TRUE(service_->Apply(RootSecretManifest(cert_, key_)).ok());
  std::string vm = kVm;
  vm.replace(vm.find("mtlsConfig: {shared: {}}"), 24,
             "mtlsConfig: {shared: {rootCertificateAuthority: {secret: {name: my-root}}}}");
  ASSERT_TRUE(service_->Apply(vm).ok());
  EXPECT_TRUE(service_->Delete("secrets", "vmesh", "my-root").ok());
  EXPECT_TRUE(service_->ListSecrets()->empty());
  EXPECT_THAT(service_->Delete("secret", "", "my-root").error().message, HasSubstr("secret vmesh/my-root not found"));
}

}  // namespace
}  // namespace vmesh::hub
