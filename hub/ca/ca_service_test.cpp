#include "hub/ca/ca_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/pki/aead.h"
#include "common/pki/csr.h"
#include "common/pki/verify.h"

namespace vmesh::hub {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

class CaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-ca-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*OpenSqliteStore(dir_ + "/hub.db"));
    ca_ = std::make_unique<CaService>(*store_, std::nullopt, [this] { return now_; });
    mesh_.mutable_metadata()->set_name("istiod-istio-system-c1");
    mesh_.mutable_spec()->set_cluster("c1");
    mesh_.mutable_spec()->set_installation_namespace("istio-system");
    mesh_.mutable_spec()->set_trust_domain("c1.example");
    mesh_.mutable_spec()->set_istiod_service_account("istiod");
    ecdsa_.set_key_algorithm(api::v1::ECDSA_P256);
    ASSERT_TRUE(store_->BindMeshIfAbsent("istiod-istio-system-c1", "c1", now_).ok());
  }
  void TearDown() override {
    ca_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // What the agent does in its cluster.
  IntermediateRequest Request(const std::string& cluster, const pki::KeySpec& spec = pki::KeySpec::EcdsaP256()) {
    agent_key_ = *pki::PrivateKey::Generate(spec);
    IntermediateRequest r;
    r.virtual_mesh = "vmesh/vm1";
    r.requesting_cluster = cluster;
    r.mesh = mesh_;
    r.csr_pem = pki::Csr::Create(*agent_key_, {.subject = {.common_name = "evil"}})->ToPem();
    r.options = ecdsa_;
    return r;
  }
  std::string FileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

  std::string dir_;
  StorePtr store_;
  std::unique_ptr<CaService> ca_;
  api::v1::Mesh mesh_;
  api::v1::CommonCertOptions ecdsa_;
  std::optional<pki::PrivateKey> agent_key_;
  TimePoint now_ = std::chrono::system_clock::now();
};

TEST_F(CaServiceTest, GeneratedRootFollowsTheSpecAndIsNeverRegenerated) {
  api::v1::CommonCertOptions gen = ecdsa_;
  gen.set_ttl_days(10);
  gen.set_org_name("acme");
  auto root = ca_->EnsureGeneratedRoot("vmesh/vm1", gen);
  ASSERT_TRUE(root.ok()) << root.error().message;
  const auto& cert = root->signer.certificate();
  EXPECT_EQ(cert.subject_name().common_name, "vmesh root CA vmesh/vm1");
  EXPECT_EQ(cert.subject_name().organization, "acme");
  EXPECT_EQ(cert.public_key()->algorithm(), pki::KeyAlgorithm::kEcdsaP256);
  EXPECT_NEAR(std::chrono::duration_cast<std::chrono::hours>(cert.not_after() - now_).count(), 240, 1);
  // A restarted hub (new service over the same store) loads the same root, whatever the options say now.
  CaService restarted(*store_, std::nullopt, [this] { return now_; });
  auto again = restarted.EnsureGeneratedRoot("vmesh/vm1", api::v1::CommonCertOptions());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->signer.certificate().Fingerprint(), cert.Fingerprint());
}

TEST_F(CaServiceTest, RsaRootUsesRsaKeySizeBytesAsBits) {
  api::v1::CommonCertOptions gen;
  gen.set_rsa_key_size_bytes(2048);
  auto root = ca_->EnsureGeneratedRoot("vmesh/rsa", gen);
  ASSERT_TRUE(root.ok()) << root.error().message;
  EXPECT_EQ(root->signer.certificate().public_key()->bits(), 2048);
}

TEST_F(CaServiceTest, IntermediateContentIsDecidedByTheHub) {
  auto root = *ca_->EnsureGeneratedRoot("vmesh/vm1", ecdsa_);
  auto issued = ca_->IssueIntermediate(root, Request("c1"));
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  auto chain = *pki::ParsePemBundle(issued->certificate_chain_pem);
  ASSERT_EQ(chain.size(), 1u) << "a generated root is the anchor: the chain minus the root is the intermediate";
  const auto& cert = chain[0];
  EXPECT_EQ(cert.subject_name().common_name, "vmesh intermediate c1/istiod-istio-system-c1");
  EXPECT_THAT(cert.uri_sans(), ElementsAre("spiffe://c1.example/ns/istio-system/sa/istiod"));
  EXPECT_TRUE(cert.is_ca());
  EXPECT_EQ(cert.path_len(), 0);
  EXPECT_FALSE(cert.has_extended_key_usage());
  EXPECT_TRUE(pki::KeyMatchesCertificate(*agent_key_, cert).ok());
  EXPECT_NEAR(std::chrono::duration_cast<std::chrono::hours>(cert.not_after() - now_).count(), 24 * 30, 1);
  auto anchor = *pki::Certificate::FromPem(issued->root_pem);
  EXPECT_TRUE(pki::VerifyChain(cert, {anchor}, {}, now_).ok());
  auto records = *store_->ListIssuedCertificates();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].serial, cert.serial_hex());
  EXPECT_EQ(records[0].cluster, "c1");
  EXPECT_EQ(records[0].public_key_fingerprint, agent_key_->public_key().Fingerprint());
}

// Fencing: with the guard failing nothing is signed (no root is generated, no intermediate issued or recorded).
TEST_F(CaServiceTest, FencedServiceSignsNothing) {
  bool leading = true;
  ca_->set_signing_guard([&]() -> Status {
    if (leading) return OkStatus();
    return MakeError("not the leader; lease vmesh/vmesh-hub held by hub-b");
  });
  auto root = ca_->EnsureGeneratedRoot("vmesh/vm1", ecdsa_);
  ASSERT_TRUE(root.ok()) << root.error().message;
  leading = false;
  auto issued = ca_->IssueIntermediate(*root, Request("c1"));
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(issued.error().message,
            "refusing to sign an intermediate for mesh istiod-istio-system-c1: not the leader; lease vmesh/vmesh-hub "
            "held by hub-b");
  EXPECT_TRUE(store_->ListIssuedCertificates()->empty());
  auto other = ca_->EnsureGeneratedRoot("vmesh/vm2", ecdsa_);
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.error().message, HasSubstr("refusing to sign the root CA of vmesh/vm2"));
  EXPECT_FALSE(store_->GetRootCa("vmesh/vm2")->has_value());
  // The existing root still loads (no signature involved).
  EXPECT_TRUE(ca_->EnsureGeneratedRoot("vmesh/vm1", ecdsa_).ok());
}

TEST_F(CaServiceTest, CsrForAnotherClustersMeshIsRefused) {
  auto root = *ca_->EnsureGeneratedRoot("vmesh/vm1", ecdsa_);
  auto issued = ca_->IssueIntermediate(root, Request("c2"));
  ASSERT_FALSE(issued.ok());
  EXPECT_THAT(issued.error().message,
              HasSubstr("cluster c2 may not request a certificate for mesh istiod-istio-system-c1, which belongs to "
                        "cluster c1"));
  EXPECT_TRUE(store_->ListIssuedCertificates()->empty());
}

TEST_F(CaServiceTest, TheStoresMeshBindingDecidesNotTheRequest) {
  auto root = *ca_->EnsureGeneratedRoot("vmesh/vm1", ecdsa_);
  // A request whose discovered mesh claims cluster c2 (as a hub that trusted the report would build it): the
  // name is bound to c1.
  mesh_.mutable_spec()->set_cluster("c2");
  auto issued = ca_->IssueIntermediate(root, Request("c2"));
  ASSERT_FALSE(issued.ok());
  EXPECT_THAT(issued.error().message, HasSubstr("which is bound to cluster c1"));
  // A mesh bound to no cluster gets nothing either.
  mesh_.mutable_metadata()->set_name("istiod-istio-system-c2");
  issued = ca_->IssueIntermediate(root, Request("c2"));
  ASSERT_FALSE(issued.ok());
  EXPECT_THAT(issued.error().message, HasSubstr("which is bound to no cluster"));
  EXPECT_TRUE(store_->ListIssuedCertificates()->empty());
}

TEST_F(CaServiceTest, KeyNotMatchingIntermediateOptionsOrBrokenCsrIsRefused) {
  auto root = *ca_->EnsureGeneratedRoot("vmesh/vm1", ecdsa_);
  auto wrong_key = Request("c1", pki::KeySpec::EcdsaP384());
  EXPECT_FALSE(ca_->IssueIntermediate(root, wrong_key).ok());
  auto broken = Request("c1");
  broken.csr_pem = broken.csr_pem.substr(0, 100);
  EXPECT_THAT(ca_->IssueIntermediate(root, broken).error().message, HasSubstr("CSR for mesh"));
}

TEST_F(CaServiceTest, SealedRootKeysNeedTheKeyEncryptionKey) {
  const std::string kek(32, '\x07');
  CaService sealed(*store_, kek, [this] { return now_; });
  auto root = sealed.EnsureGeneratedRoot("vmesh/secure", ecdsa_);
  ASSERT_TRUE(root.ok()) << root.error().message;
  auto record = **store_->GetRootCa("vmesh/secure");
  EXPECT_TRUE(pki::IsSealed(record.key_pem));
  EXPECT_EQ(FileBytes(dir_ + "/hub.db").find("PRIVATE KEY"), std::string::npos);
  EXPECT_THAT(ca_->LoadRoot("vmesh/secure").error().message, HasSubstr("--root-key-encryption-key-file"));
  CaService wrong(*store_, std::string(32, '\x08'), [this] { return now_; });
  EXPECT_THAT(wrong.LoadRoot("vmesh/secure").error().message, HasSubstr("does not authenticate"));
  EXPECT_TRUE(CaService(*store_, kek, [this] { return now_; }).LoadRoot("vmesh/secure").ok());
}

// Limited trust (SPEC §8): the gateway CA of a VirtualMesh and the gateway leaves it signs.
class GatewayCaTest : public CaServiceTest {
 protected:
  void SetUp() override {
    CaServiceTest::SetUp();
    auto* ew = mesh_.mutable_spec()->add_east_west_gateways();
    ew->mutable_service()->set_name("istio-eastwestgateway");
    ew->mutable_service()->set_namespace_("istio-system");
    auto* eg = mesh_.mutable_spec()->add_egress_gateways();
    eg->mutable_service()->set_name("istio-egressgateway");
    eg->mutable_service()->set_namespace_("istio-system");
  }
  GatewayCertRequest GatewayRequest(const std::string& cluster, api::GatewayRole role,
                                    const pki::KeySpec& spec = pki::KeySpec::EcdsaP256()) {
    agent_key_ = *pki::PrivateKey::Generate(spec);
    // The CSR asks for another identity: the hub decides the SAN.
    auto csr =
        pki::Csr::Create(*agent_key_, {.subject = {.common_name = "evil"},
                                       .uri_sans = {"spiffe://vm1.vmesh.vmesh-gateway/cluster/c2/mesh/x/ingress"}});
    return GatewayCertRequest{"vmesh/vm1", cluster, mesh_, role, csr->ToPem()};
  }
};

TEST_F(GatewayCaTest, GatewayCaIsGeneratedOnceAndKeptApartFromTheRoot) {
  auto ca = ca_->EnsureGatewayCa("vmesh/vm1");
  ASSERT_TRUE(ca.ok()) << ca.error().message;
  const auto& cert = ca->signer.certificate();
  EXPECT_EQ(cert.subject_name().common_name, "vmesh gateway CA vmesh/vm1");
  EXPECT_EQ(cert.subject_name().organization, "vmesh");
  EXPECT_TRUE(cert.is_ca());
  EXPECT_EQ(cert.public_key()->algorithm(), pki::KeyAlgorithm::kEcdsaP256);
  EXPECT_EQ(ca->virtual_mesh, "vmesh/vm1");
  EXPECT_EQ(ca->trust_bundle_pem, cert.ToPem());
  // Stored under its own key: the VirtualMesh has no (shared-trust) root because of it.
  EXPECT_FALSE(store_->GetRootCa("vmesh/vm1")->has_value());
  EXPECT_TRUE(store_->GetRootCa(GatewayCaKey("vmesh/vm1"))->has_value());
  // A restarted hub loads the same CA.
  CaService restarted(*store_, std::nullopt, [this] { return now_; });
  auto again = restarted.EnsureGatewayCa("vmesh/vm1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->signer.certificate().Fingerprint(), cert.Fingerprint());
  EXPECT_EQ(restarted.LoadGatewayCa("vmesh/vm1")->signer.certificate().Fingerprint(), cert.Fingerprint());
  EXPECT_THAT(restarted.LoadGatewayCa("vmesh/other").error().message,
              HasSubstr("VirtualMesh vmesh/other has no gateway CA yet"));
}

TEST_F(GatewayCaTest, GatewayCaKeyIsSealedWithTheKeyEncryptionKey) {
  const std::string kek(32, '\x07');
  CaService sealed(*store_, kek, [this] { return now_; });
  ASSERT_TRUE(sealed.EnsureGatewayCa("vmesh/vm1").ok());
  EXPECT_TRUE(pki::IsSealed((*store_->GetRootCa(GatewayCaKey("vmesh/vm1")))->key_pem));
  EXPECT_EQ(FileBytes(dir_ + "/hub.db").find("PRIVATE KEY"), std::string::npos);
  EXPECT_THAT(ca_->LoadGatewayCa("vmesh/vm1").error().message, HasSubstr("--root-key-encryption-key-file"));
  EXPECT_TRUE(CaService(*store_, kek, [this] { return now_; }).LoadGatewayCa("vmesh/vm1").ok());
}

TEST_F(GatewayCaTest, GatewayLeafContentIsDecidedByTheHub) {
  auto ca = *ca_->EnsureGatewayCa("vmesh/vm1");
  for (api::GatewayRole role : {api::GatewayRole::kIngress, api::GatewayRole::kEgress}) {
    const std::string name(api::GatewayRoleName(role));
    auto issued = ca_->IssueGatewayCertificate(ca, GatewayRequest("c1", role));
    ASSERT_TRUE(issued.ok()) << issued.error().message;
    auto leaf = *pki::Certificate::FromPem(issued->certificate_pem);
    EXPECT_EQ(leaf.subject_name().common_name, "vmesh " + name + " gateway c1/istiod-istio-system-c1");
    EXPECT_THAT(leaf.uri_sans(),
                ElementsAre("spiffe://vm1.vmesh.vmesh-gateway/cluster/c1/mesh/istiod-istio-system-c1/" + name));
    EXPECT_FALSE(leaf.is_ca());
    EXPECT_THAT(leaf.extended_key_usage(), ::testing::UnorderedElementsAre("serverAuth", "clientAuth"));
    EXPECT_TRUE(pki::KeyMatchesCertificate(*agent_key_, leaf).ok());
    EXPECT_NEAR(std::chrono::duration_cast<std::chrono::hours>(leaf.not_after() - now_).count(), 24 * 30, 1);
    EXPECT_EQ(issued->ca_pem, ca.trust_bundle_pem);
    EXPECT_EQ(issued->serial, leaf.serial_hex());
    EXPECT_TRUE(pki::VerifyChain(leaf, {*pki::Certificate::FromPem(issued->ca_pem)}, {}, now_).ok());
  }
  auto records = *store_->ListIssuedCertificates();
  ASSERT_EQ(records.size(), 2u);
  std::set<std::string> meshes{records[0].mesh, records[1].mesh};
  EXPECT_THAT(meshes, ElementsAre("istiod-istio-system-c1/egress", "istiod-istio-system-c1/ingress"));
}

TEST_F(GatewayCaTest, ForeignMeshMissingGatewayWrongKeyOrFencedIsRefused) {
  auto ca = *ca_->EnsureGatewayCa("vmesh/vm1");
  auto foreign = ca_->IssueGatewayCertificate(ca, GatewayRequest("c2", api::GatewayRole::kIngress));
  ASSERT_FALSE(foreign.ok());
  EXPECT_THAT(foreign.error().message,
              HasSubstr("cluster c2 may not request a certificate for mesh istiod-istio-system-c1, which belongs to "
                        "cluster c1"));
  mesh_.mutable_spec()->clear_egress_gateways();
  auto missing = ca_->IssueGatewayCertificate(ca, GatewayRequest("c1", api::GatewayRole::kEgress));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("has no egress gateway, so it gets no egress gateway certificate"));
  auto rsa =
      ca_->IssueGatewayCertificate(ca, GatewayRequest("c1", api::GatewayRole::kIngress, pki::KeySpec::EcdsaP384()));
  EXPECT_FALSE(rsa.ok());
  auto other_vm = GatewayRequest("c1", api::GatewayRole::kIngress);
  other_vm.virtual_mesh = "vmesh/vm2";
  EXPECT_THAT(ca_->IssueGatewayCertificate(ca, other_vm).error().message,
              HasSubstr("the gateway CA of vmesh/vm1 cannot sign for VirtualMesh vmesh/vm2"));
  ca_->set_signing_guard([]() -> Status { return MakeError("not the leader"); });
  auto fenced = ca_->IssueGatewayCertificate(ca, GatewayRequest("c1", api::GatewayRole::kIngress));
  ASSERT_FALSE(fenced.ok());
  EXPECT_EQ(fenced.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(fenced.error().message,
              HasSubstr("refusing to sign the ingress gateway certificate of mesh istiod-istio-system-c1"));
  EXPECT_TRUE(store_->ListIssuedCertificates()->empty());
}

TEST_F(CaServiceTest, UserProvidedRootIsValidatedAndUsed) {
  // An enterprise root, and the intermediate the user hands to vmesh as its "root".
  auto ent_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto ent_root = *pki::IssueRootCa(ent_key, {.organization = "corp", .common_name = "corp root"}, now_);
  auto user_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto user_csr = *pki::Csr::Create(user_key, {});
  auto user_ca = *pki::IssueIntermediate(
      *pki::CaSigner::Create(ent_root, ent_key), user_csr,
      {.organization = "corp", .common_name = "corp mesh CA", .spiffe_uri = "spiffe://corp/mesh"}, now_);
  // pathlen:0 on user_ca means it cannot sign further CAs: refused up front, not at the first CSR.
  auto refused = ca_->ImportRoot("vmesh/ent", user_ca.ToPem(), user_key.ToPem(), ent_root.ToPem());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("pathlen:0"));
  EXPECT_FALSE(store_->GetRootCa("vmesh/ent")->has_value());

  // A plain user root.
  auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto root_cert = *pki::IssueRootCa(key, {.organization = "acme", .common_name = "acme root"}, now_);
  auto root = ca_->ImportRoot("vmesh/vm1", root_cert.ToPem(), key.ToPem(), "");
  ASSERT_TRUE(root.ok()) << root.error().message;
  EXPECT_EQ(root->source, "secret");
  auto issued = ca_->IssueIntermediate(*root, Request("c1"));
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  EXPECT_EQ(issued->root_pem, root_cert.ToPem());

  auto other_key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  EXPECT_THAT(ca_->ImportRoot("vmesh/x", root_cert.ToPem(), other_key.ToPem(), "").error().message,
              HasSubstr("key.pem does not match root-cert.pem"));
  EXPECT_THAT(ca_->ImportRoot("vmesh/x", "garbage", key.ToPem(), "").error().message, HasSubstr("root-cert.pem"));
  auto other_root = *pki::IssueRootCa(other_key, {.organization = "x", .common_name = "x"}, now_);
  EXPECT_THAT(ca_->ImportRoot("vmesh/vm1", other_root.ToPem(), other_key.ToPem(), "").error().message,
              HasSubstr("root rotation"));
}

}  // namespace
}  // namespace vmesh::hub
