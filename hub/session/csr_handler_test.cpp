// CSR answers over the real CA service and a SQLite store in a temp dir, with a fixed clock.
#include "hub/session/csr_handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/pki/pki_test_util.h"

namespace vmesh::hub {
namespace {

using ::testing::HasSubstr;

constexpr char kMesh[] = "istiod-istio-system-c1";

api::v1::Mesh MeshOf(const std::string& cluster) {
  api::v1::Mesh m;
  m.mutable_metadata()->set_name("istiod-istio-system-" + cluster);
  m.mutable_metadata()->set_namespace_("vmesh");
  m.mutable_spec()->set_cluster(cluster);
  m.mutable_spec()->set_installation_namespace("istio-system");
  m.mutable_spec()->set_trust_domain("cluster.local");
  return m;
}

class CsrHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-csr-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*OpenSqliteStore(dir_ + "/hub.db"));
    ca_ = std::make_unique<CaService>(*store_, std::nullopt, clock_);
    registration_ = std::make_unique<RegistrationService>(*store_, pki::test::MakeRoot(pki::KeySpec::EcdsaP256(), now_),
                                                          RegistrationOptions{.hub_name = "hub1"}, clock_);
    facts_.SetDiscovery("c1", {MeshOf("c1")}, {});
    ASSERT_TRUE(store_->BindMeshIfAbsent(kMesh, "c1", now_).ok());  // as the session does at first sight
    handler_ = std::make_unique<CsrHandler>(
        CsrHandler::Deps{*ca_, *registration_, facts_, metrics_, clock_},
        CsrHandler::Options{.csr_rate = {.per_minute = 2, .burst = 2}, .max_series_per_cluster = 1});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Makes kMesh an active member of VirtualMesh vmesh/vm1 with shared trust, whose root exists.
  void MakeTarget() {
    api::v1::CommonCertOptions generated;
    generated.set_key_algorithm(api::v1::ECDSA_P256);
    ASSERT_TRUE(ca_->EnsureGeneratedRoot("vmesh/vm1", generated).ok());
    DesiredState desired;
    VirtualMeshResult result;
    result.key = "vmesh/vm1";
    result.effective_spec.emplace();
    result.effective_spec->mutable_mtls_config()
        ->mutable_shared()
        ->mutable_intermediate_cert_options()
        ->set_key_algorithm(api::v1::ECDSA_P256);
    result.active_meshes = {std::string(kMesh) + ".vmesh"};
    desired.statuses.push_back(result);
    handler_->SetTargets(desired);
  }

  link::v1::CertificateSigningRequest Csr(const std::string& mesh, const std::string& id) {
    link::v1::CertificateSigningRequest csr;
    csr.set_mesh(mesh);
    csr.set_request_id(id);
    csr.set_csr_pem(pki::Csr::Create(pki::test::CachedKey(pki::KeySpec::EcdsaP256()), {})->ToPem());
    return csr;
  }

  std::string dir_;
  TimePoint now_ = std::chrono::system_clock::now();
  std::function<TimePoint()> clock_ = [this] { return now_; };
  StorePtr store_;
  std::unique_ptr<CaService> ca_;
  std::unique_ptr<RegistrationService> registration_;
  AgentFacts facts_;
  metrics::Registry metrics_;
  std::unique_ptr<CsrHandler> handler_;
};

TEST_F(CsrHandlerTest, ACsrIsSignedOnlyForAReportedActiveMeshOfTheCluster) {
  auto unreported = handler_->Sign("c2", 1, Csr(kMesh, "r1"));
  EXPECT_THAT(unreported.issued_certificate().error(), HasSubstr("has not been reported by cluster c2"));
  auto inactive = handler_->Sign("c1", 2, Csr(kMesh, "r2"));
  EXPECT_THAT(inactive.issued_certificate().error(), HasSubstr("not an active member of a VirtualMesh"));
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "rejected"}}), 2);

  MakeTarget();
  now_ += std::chrono::minutes(1);  // tokens again
  auto signed_ = handler_->Sign("c1", 3, Csr(kMesh, "r3"));
  ASSERT_TRUE(signed_.has_issued_certificate());
  EXPECT_EQ(signed_.issued_certificate().error(), "");
  EXPECT_EQ(signed_.issued_certificate().request_id(), "r3");
  EXPECT_FALSE(signed_.issued_certificate().certificate_chain_pem().empty());
  EXPECT_FALSE(signed_.issued_certificate().root_pem().empty());
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "signed"}}), 1);
  EXPECT_GT(metrics_.Value("vmesh_hub_certificate_not_after_seconds", {{"mesh", kMesh}}), 0);
}

TEST_F(CsrHandlerTest, OverTheRateLimitNothingIsSignedAndRenewalsShareTheBudget) {
  MakeTarget();
  EXPECT_EQ(handler_->Sign("c1", 1, Csr(kMesh, "r1")).issued_certificate().error(), "");
  EXPECT_EQ(handler_->Sign("c1", 2, Csr(kMesh, "r2")).issued_certificate().error(), "");
  auto limited = handler_->Sign("c1", 3, Csr(kMesh, "r3"));
  ASSERT_TRUE(limited.has_protocol_nack());
  EXPECT_EQ(limited.protocol_nack().envelope_id(), 3u);
  EXPECT_THAT(limited.protocol_nack().error(), HasSubstr("CSR rate limit of cluster c1 exceeded"));
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "rate_limited"}}), 1);
  link::v1::IdentityRenewalRequest renewal;
  auto refused = handler_->RenewIdentity("c1", renewal);
  EXPECT_THAT(refused.identity_renewal_response().error(), HasSubstr("CSR rate limit"));
  EXPECT_EQ(handler_->Sign("c2", 4, Csr(kMesh, "r4")).has_issued_certificate(), true) << "per cluster";
  now_ += std::chrono::seconds(30);  // one token back (2 a minute)
  EXPECT_EQ(handler_->Sign("c1", 5, Csr(kMesh, "r5")).issued_certificate().error(), "");
}

TEST_F(CsrHandlerTest, ExpirySeriesAreForReportedMeshesOnlyCappedPerClusterAndForgotten) {
  link::v1::DiscoveryReport more;
  *more.add_meshes() = MeshOf("c1");
  auto second = MeshOf("c1");
  second.mutable_metadata()->set_name("istiod-other-c1");
  *more.add_meshes() = second;
  more.set_full_state(true);
  facts_.ApplyDiscovery("c1", more);
  handler_->RecordNotAfter("c1", "made-up", 1);
  handler_->RecordNotAfter("c1", kMesh, 2);
  handler_->RecordNotAfter("c1", "istiod-other-c1", 3);  // over the cap of 1
  EXPECT_EQ(metrics_.Value("vmesh_hub_certificate_not_after_seconds", {{"mesh", kMesh}}), 2);
  const std::string rendered = metrics_.Render();
  EXPECT_THAT(rendered, ::testing::Not(HasSubstr("made-up")));
  EXPECT_THAT(rendered, ::testing::Not(HasSubstr("istiod-other-c1")));
  handler_->Forget("c1");
  EXPECT_THAT(metrics_.Render(), ::testing::Not(HasSubstr(kMesh)));
}

// Limited trust (SPEC §8): gateway CSRs are signed with the gateway CA, only for the cluster's own mesh's gateways of
// a limited-trust VirtualMesh; intermediate CSRs of such a mesh are refused (it keeps its own CA).
TEST_F(CsrHandlerTest, GatewayCsrsAreSignedOnlyUnderLimitedTrust) {
  auto mesh = MeshOf("c1");
  mesh.mutable_spec()->add_east_west_gateways()->mutable_service()->set_namespace_("istio-system");
  facts_.SetDiscovery("c1", {mesh}, {});
  auto gateway_csr = [&](const std::string& id, const std::string& role) {
    auto csr = Csr(kMesh, id);
    csr.set_gateway_role(role);
    return csr;
  };
  // Shared trust: no gateway certificates.
  MakeTarget();
  auto shared = handler_->Sign("c1", 1, gateway_csr("g1", "ingress"));
  EXPECT_THAT(shared.issued_certificate().error(),
              HasSubstr("is not an active member of a VirtualMesh with limited trust (spec.mtlsConfig.limited)"));
  EXPECT_EQ(shared.issued_certificate().gateway_role(), "ingress");

  ASSERT_TRUE(ca_->EnsureGatewayCa("vmesh/vm2").ok());
  DesiredState desired;
  VirtualMeshResult result;
  result.key = "vmesh/vm2";
  result.effective_spec.emplace();
  result.effective_spec->mutable_mtls_config()->mutable_limited();
  result.active_meshes = {std::string(kMesh) + ".vmesh"};
  desired.statuses.push_back(result);
  handler_->SetTargets(desired);
  now_ += std::chrono::minutes(1);

  auto intermediate = handler_->Sign("c1", 2, Csr(kMesh, "r2"));
  EXPECT_THAT(intermediate.issued_certificate().error(),
              HasSubstr("has limited trust (spec.mtlsConfig.limited): the mesh keeps its own CA and gets no "
                        "intermediate"));
  auto signed_ = handler_->Sign("c1", 3, gateway_csr("g3", "ingress"));
  ASSERT_EQ(signed_.issued_certificate().error(), "");
  EXPECT_EQ(signed_.issued_certificate().gateway_role(), "ingress");
  EXPECT_EQ(signed_.issued_certificate().request_id(), "g3");
  auto leaf = pki::Certificate::FromPem(signed_.issued_certificate().certificate_chain_pem());
  ASSERT_TRUE(leaf.ok());
  EXPECT_THAT(leaf->uri_sans(), ::testing::ElementsAre(
                                    "spiffe://vm2.vmesh.vmesh-gateway/cluster/c1/mesh/istiod-istio-system-c1/ingress"));
  EXPECT_EQ(signed_.issued_certificate().root_pem(), ca_->LoadGatewayCa("vmesh/vm2")->trust_bundle_pem);
  now_ += std::chrono::minutes(1);
  // Another cluster, a mesh without an egress gateway, an unknown role: refused, naming why.
  EXPECT_THAT(handler_->Sign("c2", 4, gateway_csr("g4", "ingress")).issued_certificate().error(),
              HasSubstr("has not been reported by cluster c2"));
  EXPECT_THAT(handler_->Sign("c1", 5, gateway_csr("g5", "egress")).issued_certificate().error(),
              HasSubstr("has no egress gateway"));
  now_ += std::chrono::minutes(1);
  EXPECT_THAT(handler_->Sign("c1", 6, gateway_csr("g6", "sideways")).issued_certificate().error(),
              HasSubstr("gateway role \"sideways\" is neither \"ingress\" nor \"egress\""));
  EXPECT_EQ(metrics_.Value("vmesh_hub_csrs_total", {{"result", "signed"}}), 1);
}

}  // namespace
}  // namespace vmesh::hub
