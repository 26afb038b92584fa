#include "hub/controller/hub_reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "common/base/base64.h"
#include "common/pki/pki_test_util.h"

namespace vmesh::hub {
namespace {

using ::testing::HasSubstr;

constexpr char kVm[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1}
spec:
  meshes: [{name: istiod-istio-system-c1}, {name: istiod-istio-system-c2}]
  mtlsConfig:
    shared:
      rootCertificateAuthority: {generated: {keyAlgorithm: ECDSA_P256}}
      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}
  federation: {permissive: {}}
)";

api::v1::Mesh MeshOf(const std::string& cluster) {
  api::v1::Mesh m;
  m.mutable_metadata()->set_name("istiod-istio-system-" + cluster);
  m.mutable_metadata()->set_namespace_("vmesh");
  m.mutable_spec()->set_cluster(cluster);
  m.mutable_spec()->set_installation_namespace("istio-system");
  auto* gw = m.mutable_spec()->add_east_west_gateways();
  gw->set_external_tls_port(15443);
  gw->add_external_addresses("172.18.0.1");
  (*gw->mutable_workload_labels())["istio"] = "eastwestgateway";
  auto* egress = m.mutable_spec()->add_egress_gateways();  // used only under limited trust
  egress->mutable_service()->set_name("istio-egressgateway");
  egress->mutable_service()->set_namespace_("istio-system");
  egress->set_external_tls_port(443);
  (*egress->mutable_workload_labels())["istio"] = "egressgateway";
  return m;
}

class HubReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmesh-reconciler-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*OpenSqliteStore(dir_ + "/hub.db"));
    objects_ = std::make_unique<ObjectService>(*store_, "vmesh", [this] { return now_; });
    ca_ = std::make_unique<CaService>(*store_, std::nullopt, [this] { return now_; });
    reconciler_ = std::make_unique<HubReconciler>(*store_, *objects_, *ca_);
    for (const char* c : {"c1", "c2"}) {
      reconciler_->SetDiscovery(c, {MeshOf(c)}, {});
      reconciler_->SetConnected(c, true);
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  api::v1::VirtualMesh Vm() { return **objects_->GetVirtualMesh("vmesh", "vm1"); }

  std::string dir_;
  StorePtr store_;
  std::unique_ptr<ObjectService> objects_;
  std::unique_ptr<CaService> ca_;
  std::unique_ptr<HubReconciler> reconciler_;
  TimePoint now_ = std::chrono::system_clock::now();
};

TEST_F(HubReconcilerTest, ConvergesAndASecondPassChangesNothing) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  auto first = reconciler_->Reconcile();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(reconciler_->status_writes(), 1);
  EXPECT_EQ(Vm().status().state(), api::v1::PENDING) << "certificates not installed yet";
  EXPECT_EQ(Vm().status().observed_generation(), 1);
  ASSERT_TRUE(store_->GetRootCa("vmesh/vm1")->has_value()) << "root created on first need";
  const std::string root = (*store_->GetRootCa("vmesh/vm1"))->certificate_pem;
  EXPECT_EQ(first->resources.at("c1").front()->name(), "cert/istiod-istio-system-c1");

  auto second = reconciler_->Reconcile();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(reconciler_->status_writes(), 1) << "nothing changed: nothing written";
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1"))->certificate_pem, root) << "never regenerated";
  ASSERT_EQ(first->resources.at("c2").size(), second->resources.at("c2").size());

  for (const char* c : {"c1", "c2"}) {
    MeshReport r;
    r.certificate.set_phase(api::v1::INSTALLED);
    r.installed_generation = second->resources.at(c).front()->certificate().generation();
    reconciler_->SetReport(std::string("istiod-istio-system-") + c + ".vmesh", r);
  }
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_EQ(Vm().status().state(), api::v1::ACCEPTED);
  EXPECT_EQ(reconciler_->status_writes(), 2);
}

// Limited trust (SPEC §8): the gateway CA is generated on first need (and no root), each mesh gets gateway
// certificate directives and no intermediate, and a switch to shared trust is the normal adoption while a switch back
// is refused with the shared configuration kept.
TEST_F(HubReconcilerTest, LimitedTrustGetsAGatewayCaAndGatewayDirectivesOnly) {
  std::string limited = kVm;
  limited.replace(limited.find("  mtlsConfig:"), limited.find("  federation:") - limited.find("  mtlsConfig:"),
                  "  mtlsConfig: {limited: {}}\n");
  ASSERT_TRUE(objects_->Apply(limited).ok());
  auto first = reconciler_->Reconcile();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(store_->GetRootCa("vmesh/vm1")->has_value()) << "no root under limited trust";
  ASSERT_TRUE(store_->GetRootCa(GatewayCaKey("vmesh/vm1"))->has_value()) << "gateway CA created on first need";
  const std::string ca = (*store_->GetRootCa(GatewayCaKey("vmesh/vm1")))->certificate_pem;
  std::vector<std::string> names;
  for (const auto& r : first->resources.at("c1")) names.push_back(r->name());
  EXPECT_THAT(names, ::testing::Contains("gwcert/istiod-istio-system-c1/ingress"));
  EXPECT_THAT(names, ::testing::Not(::testing::Contains("cert/istiod-istio-system-c1")));
  EXPECT_EQ(Vm().status().state(), api::v1::PENDING) << "gateway certificates not installed yet";

  for (const char* c : {"c1", "c2"}) {
    MeshReport r;
    for (const auto& res : first->resources.at(c)) {
      if (res->has_gateway_certificate())
        r.gateway_installed_generations[res->gateway_certificate().role()] = res->gateway_certificate().generation();
    }
    reconciler_->SetReport(std::string("istiod-istio-system-") + c + ".vmesh", r);
  }
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_EQ(Vm().status().state(), api::v1::ACCEPTED);
  EXPECT_EQ((*store_->GetRootCa(GatewayCaKey("vmesh/vm1")))->certificate_pem, ca) << "never regenerated";

  // limited -> shared: the normal adoption (a root, intermediates directed, no gateway directives).
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  auto shared = reconciler_->Reconcile();
  ASSERT_TRUE(shared.ok()) << shared.error().message;
  EXPECT_TRUE(store_->GetRootCa("vmesh/vm1")->has_value());
  EXPECT_EQ(shared->resources.at("c1").front()->name(), "cert/istiod-istio-system-c1");
  for (const auto& r : shared->resources.at("c1")) EXPECT_FALSE(r->has_gateway_certificate()) << r->name();
  // shared -> limited: refused, the shared configuration (and its intermediates) kept.
  ASSERT_TRUE(objects_->Apply(limited).ok());
  auto refused = reconciler_->Reconcile();
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(Vm().status().state(), api::v1::INVALID);
  EXPECT_THAT(Vm().status().errors(0), HasSubstr("spec.mtlsConfig.limited"));
  EXPECT_EQ(refused->resources.at("c1").front()->name(), "cert/istiod-istio-system-c1");
}

TEST_F(HubReconcilerTest, ConflictingVirtualMeshIsInvalidForThatMeshOnly) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  auto good = reconciler_->Reconcile();
  ASSERT_TRUE(good.ok());
  // Mesh conflicts are found only with other objects: a second VirtualMesh claiming c2 stays INVALID for c2.
  ASSERT_TRUE(objects_
                  ->Apply("apiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: {name: vm2}\nspec:\n"
                          "  meshes: [{name: istiod-istio-system-c2}]\n")
                  .ok());
  auto after = reconciler_->Reconcile();
  ASSERT_TRUE(after.ok());
  auto vm2 = **objects_->GetVirtualMesh("vmesh", "vm2");
  EXPECT_EQ(vm2.status().meshes().at("istiod-istio-system-c2.vmesh").state(), api::v1::INVALID);
  EXPECT_THAT(vm2.status().meshes().at("istiod-istio-system-c2.vmesh").errors(0),
              HasSubstr("already a member of VirtualMesh vmesh/vm1"));
  EXPECT_EQ(after->resources.at("c2").size(), good->resources.at("c2").size());
}

TEST_F(HubReconcilerTest, WholeInvalidKeepsTheLastGoodGenerationsOutputs) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  auto good = reconciler_->Reconcile();
  ASSERT_TRUE(good.ok());
  reconciler_->SetDeregistered("c2");
  auto after = reconciler_->Reconcile();
  ASSERT_TRUE(after.ok());
  auto vm = Vm();
  EXPECT_EQ(vm.status().state(), api::v1::INVALID);
  EXPECT_THAT(vm.status().errors(0), HasSubstr("deregistered"));
  EXPECT_THAT(vm.status().errors(1), HasSubstr("keep the configuration of generation 1"));
  EXPECT_EQ(after->resources.at("c1").size(), good->resources.at("c1").size()) << "nothing deleted";
}

TEST_F(HubReconcilerTest, DisconnectedAgentMakesItsMeshPending) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  reconciler_->SetConnected("c2", false);
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  auto vm = Vm();
  EXPECT_EQ(vm.status().meshes().at("istiod-istio-system-c2.vmesh").state(), api::v1::PENDING);
  EXPECT_THAT(vm.status().meshes().at("istiod-istio-system-c2.vmesh").errors(0), HasSubstr("disconnected"));
}

TEST_F(HubReconcilerTest, DesiredStateNamesTheClustersItChanged) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  auto first = reconciler_->Reconcile();
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->changed_clusters) << "the first reconcile may change every cluster";
  auto second = reconciler_->Reconcile();
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(second->changed_clusters);
  EXPECT_TRUE(second->changed_clusters->empty()) << "nothing changed";

  auto restart = reconciler_->facts().RequestRestart("c1", "istiod-istio-system-c1", "r1");
  ASSERT_TRUE(restart.ok()) << restart.error().message;
  auto directed = reconciler_->Reconcile();
  ASSERT_TRUE(directed.ok());
  EXPECT_THAT(*directed->changed_clusters, ::testing::ElementsAre("c1"));
  const auto& c1 = directed->resources.at("c1");
  auto held = std::find_if(c1.begin(), c1.end(), [](const auto& r) { return r->has_restart(); });
  ASSERT_NE(held, c1.end()) << "the restart directive is part of c1's desired state";
  EXPECT_EQ((*held)->name(), "restart/istiod-istio-system-c1");
  EXPECT_EQ((*held)->restart().request_id(), "r1");
  EXPECT_EQ(directed->resources.at("c2").size(), second->resources.at("c2").size());

  reconciler_->facts().RestartsHeld("c1", {{(*held)->name(), (*held)->version()}});
  auto delivered = reconciler_->Reconcile();
  ASSERT_TRUE(delivered.ok());
  EXPECT_THAT(*delivered->changed_clusters, ::testing::ElementsAre("c1"));
  EXPECT_EQ(delivered->resources.at("c1").size(), second->resources.at("c1").size()) << "delivered: it goes";
}

TEST_F(HubReconcilerTest, PreviewComputesWithTheGivenObjectAndStoresNothing) {
  ASSERT_TRUE(objects_->Apply(kVm).ok());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  const std::int64_t rv = (*store_->GetObject("VirtualMesh", "vmesh", "vm1"))->resource_version;
  // The same object without c2: c2 would hold nothing of vm1 any more.
  api::v1::VirtualMesh vm = Vm();
  vm.mutable_spec()->mutable_meshes()->RemoveLast();
  auto preview = reconciler_->Preview(vm, "vmesh", "2030-01-01T00:00:00Z");
  ASSERT_TRUE(preview.ok()) << preview.error().message;
  ASSERT_EQ(preview->statuses.size(), 1u);
  EXPECT_EQ(preview->statuses[0].status.observed_generation(), 2) << "a changed spec is the next generation";
  EXPECT_TRUE(preview->resources.count("c1"));
  EXPECT_FALSE(preview->resources.count("c2"));
  EXPECT_EQ((*store_->GetObject("VirtualMesh", "vmesh", "vm1"))->resource_version, rv) << "nothing written";

  // A new object comes after the stored ones: it cannot take their meshes.
  vm.mutable_metadata()->set_name("vm0");
  vm.mutable_metadata()->clear_namespace_();
  preview = reconciler_->Preview(vm, "vmesh", "2030-01-01T00:00:00Z");
  ASSERT_TRUE(preview.ok());
  ASSERT_EQ(preview->statuses.size(), 2u);
  EXPECT_EQ(preview->statuses[1].key, "vmesh/vm0");
  EXPECT_EQ(preview->statuses[1].status.meshes().at("istiod-istio-system-c1.vmesh").state(), api::v1::INVALID);
}

constexpr char kSecretVm[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1}
spec:
  meshes: [{name: istiod-istio-system-c1}, {name: istiod-istio-system-c2}]
  mtlsConfig:
    shared:
      rootCertificateAuthority: {secret: {name: corp-root, namespace: pki}}
      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}
  federation: {permissive: {}}
)";

std::string RootSecret(const pki::CaSigner& root) {
  return "apiVersion: v1\nkind: Secret\nmetadata: {name: corp-root, namespace: pki}\ntype: vmesh.dev/root-ca\n"
         "data:\n  root-cert.pem: " +
         Base64Encode(root.certificate().ToPem()) + "\n  key.pem: " + Base64Encode(root.key().ToPem()) + "\n";
}

class SecretRootTest : public HubReconcilerTest {
 protected:
  pki::CaSigner MakeUserRoot(const pki::KeySpec& spec, const std::string& cn) {
    return pki::test::MakeRoot(spec, now_ - std::chrono::hours(1), std::chrono::days(365), cn);
  }
  std::vector<std::string> Errors() {
    auto st = Vm().status();
    return {st.errors().begin(), st.errors().end()};
  }
};

TEST_F(SecretRootTest, MissingSecretIsInvalidThenTheRootIsImportedFromIt) {
  ASSERT_TRUE(objects_->Apply(kSecretVm).ok());
  auto first = reconciler_->Reconcile();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(Vm().status().state(), api::v1::INVALID);
  ASSERT_FALSE(Errors().empty());
  EXPECT_THAT(Errors()[0], HasSubstr("spec.mtlsConfig.shared.rootCertificateAuthority.secret: secret pki/corp-root "
                                     "does not exist: create it with `vmeshctl create root-secret corp-root"));
  EXPECT_FALSE(store_->GetRootCa("vmesh/vm1")->has_value());

  const pki::CaSigner user_root = MakeUserRoot(pki::KeySpec::EcdsaP256(), "Corp Root CA");
  ASSERT_TRUE(objects_->Apply(RootSecret(user_root)).ok());
  auto second = reconciler_->Reconcile();
  ASSERT_TRUE(second.ok()) << second.error().message;
  auto record = store_->GetRootCa("vmesh/vm1");
  ASSERT_TRUE(record.ok() && record->has_value()) << "imported on first need";
  EXPECT_EQ((*record)->source, "secret");
  EXPECT_EQ((*record)->certificate_pem, user_root.certificate().ToPem());
  EXPECT_EQ(Vm().status().state(), api::v1::PENDING) << "certificates not installed yet";
  EXPECT_TRUE(Errors().empty());
  const link::v1::Resource& directive = *second->resources.at("c1").front();
  ASSERT_TRUE(directive.has_certificate());
  EXPECT_EQ(directive.certificate().trust_bundle_pem(), user_root.certificate().ToPem()) << "the user's root";

  // The imported root signs intermediates.
  auto root = ca_->LoadRoot("vmesh/vm1");
  ASSERT_TRUE(root.ok()) << root.error().message;
  EXPECT_EQ(root->signer.certificate().Fingerprint(), user_root.certificate().Fingerprint());

  const int writes = reconciler_->status_writes();
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_EQ(reconciler_->status_writes(), writes) << "nothing changed: nothing written";
}

TEST_F(SecretRootTest, AChangedOrDeletedSecretLeavesTheImportedRootInUse) {
  const pki::CaSigner user_root = MakeUserRoot(pki::KeySpec::EcdsaP256(), "Corp Root CA");
  ASSERT_TRUE(objects_->Apply(RootSecret(user_root)).ok());
  ASSERT_TRUE(objects_->Apply(kSecretVm).ok());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  const std::string imported = (*store_->GetRootCa("vmesh/vm1"))->certificate_pem;
  ASSERT_EQ(imported, user_root.certificate().ToPem());

  const pki::CaSigner next_root = MakeUserRoot(pki::KeySpec::EcdsaP384(), "Corp Root CA 2");
  ASSERT_TRUE(objects_->Apply(RootSecret(next_root)).ok());
  auto desired = reconciler_->Reconcile();
  ASSERT_TRUE(desired.ok()) << desired.error().message;
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1"))->certificate_pem, imported) << "the stored root stays";
  // ... until the root rotation the changed Secret started completes (SPEC §5.5).
  EXPECT_EQ(desired->resources.at("c2").front()->certificate().trust_bundle_pem(),
            imported + next_root.certificate().ToPem());
  EXPECT_EQ(Vm().status().state(), api::v1::PENDING) << "not INVALID: the VirtualMesh keeps working";
  EXPECT_TRUE(Errors().empty());
  EXPECT_EQ(Vm().status().root_rotation().phase(), api::v1::TRUST_BOTH);
  EXPECT_EQ(Vm().status().root_rotation().reason(), "secret pki/corp-root changed");
  const int writes = reconciler_->status_writes();
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_EQ(reconciler_->status_writes(), writes);

  ASSERT_TRUE(objects_->Delete("secret", "pki", "corp-root").ok());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1"))->certificate_pem, imported);
  EXPECT_NE(Vm().status().state(), api::v1::INVALID);
  ASSERT_EQ(Errors().size(), 1u);
  EXPECT_THAT(Errors()[0], HasSubstr("secret pki/corp-root does not exist"));
  EXPECT_THAT(Errors()[0], HasSubstr("the root CA already in use stays"));
}

TEST_F(SecretRootTest, AnAbortedRotationToTheSecretsRootIsNotStartedAgainByItself) {
  ASSERT_TRUE(objects_->Apply(RootSecret(MakeUserRoot(pki::KeySpec::EcdsaP256(), "Corp Root CA"))).ok());
  ASSERT_TRUE(objects_->Apply(kSecretVm).ok());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  const std::string imported = (*store_->GetRootCa("vmesh/vm1"))->certificate_pem;
  ASSERT_TRUE(objects_->Apply(RootSecret(MakeUserRoot(pki::KeySpec::EcdsaP256(), "Corp Root CA 2"))).ok());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  ASSERT_EQ(Vm().status().root_rotation().phase(), api::v1::TRUST_BOTH);
  ASSERT_TRUE(reconciler_->AbortRootRotation("vmesh/vm1").ok());
  // The agents report the certificate of the rollback phase installed: the rollback ends.
  for (int i = 0; i < 3 && Vm().status().has_root_rotation(); ++i) {
    auto desired = reconciler_->Reconcile();
    ASSERT_TRUE(desired.ok());
    for (const char* c : {"c1", "c2"}) {
      MeshReport r;
      r.certificate.set_phase(api::v1::INSTALLED);
      r.installed_generation = desired->resources.at(c).front()->certificate().generation();
      reconciler_->SetReport(std::string("istiod-istio-system-") + c + ".vmesh", r);
    }
  }
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_FALSE(Vm().status().has_root_rotation()) << "rolled back, and not started again";
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1"))->certificate_pem, imported);
  ASSERT_EQ(Errors().size(), 1u);
  EXPECT_THAT(Errors()[0], HasSubstr("a rotation to it was aborted"));
  EXPECT_THAT(Errors()[0], HasSubstr("`vmeshctl rotate root vm1 -n vmesh` starts one"));
  // Asked for explicitly, it starts.
  EXPECT_TRUE(reconciler_->StartRootRotation("vmesh/vm1", "vmeshctl rotate root").ok());
}

TEST_F(SecretRootTest, SecretWithoutRootMaterialIsInvalidNamingWhatIsMissing) {
  ASSERT_TRUE(objects_
                  ->Apply("apiVersion: v1\nkind: Secret\nmetadata: {name: corp-root, namespace: pki}\n"
                          "stringData: {token: abc}\n---\n" +
                          std::string(kSecretVm))
                  .ok());
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_EQ(Vm().status().state(), api::v1::INVALID);
  ASSERT_FALSE(Errors().empty());
  EXPECT_THAT(Errors()[0],
              HasSubstr("secret pki/corp-root is not a valid root CA secret: data: missing root-cert.pem"));
  EXPECT_FALSE(store_->GetRootCa("vmesh/vm1")->has_value());
}

TEST_F(SecretRootTest, PreviewImportsNothing) {
  const pki::CaSigner user_root = MakeUserRoot(pki::KeySpec::EcdsaP256(), "Corp Root CA");
  ASSERT_TRUE(objects_->Apply(RootSecret(user_root)).ok());
  api::DecodeResult decoded = api::DecodeManifests(kSecretVm);
  ASSERT_TRUE(decoded.ok());
  auto preview =
      reconciler_->Preview(std::get<api::v1::VirtualMesh>(decoded.objects[0].object), "vmesh", "2030-01-01T00:00:00Z");
  ASSERT_TRUE(preview.ok()) << preview.error().message;
  EXPECT_FALSE(store_->GetRootCa("vmesh/vm1")->has_value());
}

}  // namespace
}  // namespace vmesh::hub

namespace vmesh::hub {
namespace {

// SPEC §5.5 through the reconciler: phases directed, gated on every member's report, persisted, resumed by a new
// reconciler (a restarted hub) without advancing on missing reports, completed or rolled back in the store.
class RootRotationReconcileTest : public HubReconcilerTest {
 protected:
  void SetUp() override {
    HubReconcilerTest::SetUp();
    ASSERT_TRUE(objects_->Apply(kVm).ok());
    auto desired = reconciler_->Reconcile();
    ASSERT_TRUE(desired.ok()) << desired.error().message;
    AckAll(*desired);
    ASSERT_EQ(Vm().status().state(), api::v1::ACCEPTED);
    old_root_ = (*store_->GetRootCa("vmesh/vm1"))->certificate_pem;
  }

  static const link::v1::CertificateDirective& Directive(const DesiredState& d, const std::string& cluster) {
    return d.resources.at(cluster).front()->certificate();
  }

  // The cluster's agent reports the directed certificate installed (and a restart still owed, if given).
  void Ack(const DesiredState& d, const std::string& cluster, const std::string& owed = "") {
    MeshReport r;
    r.certificate.set_phase(api::v1::INSTALLED);
    r.installed_generation = Directive(d, cluster).generation();
    r.restart_owed_for = owed;
    reconciler_->SetReport("istiod-istio-system-" + cluster + ".vmesh", r);
  }
  DesiredState AckAll(const DesiredState& d) {
    Ack(d, "c1");
    Ack(d, "c2");
    auto next = reconciler_->Reconcile();
    EXPECT_TRUE(next.ok()) << next.error().message;
    return next.ok() ? *next : DesiredState{};
  }
  std::string Phase() { return api::v1::RootRotationPhase_Name(Vm().status().root_rotation().phase()); }
  static size_t Roots(const std::string& bundle) { return pki::ParsePemBundle(bundle)->size(); }

  std::string old_root_;
};

TEST_F(RootRotationReconcileTest, PhasesAdvanceOnlyWhenEveryMemberAcknowledged) {
  auto started = reconciler_->StartRootRotation("vmesh/vm1", "test");
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_THAT(*started, HasSubstr("phase TRUST_BOTH"));
  EXPECT_EQ(reconciler_->StartRootRotation("vmesh/vm1", "test").error().code, ErrorCode::kConflict);

  auto both = reconciler_->Reconcile();
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(Phase(), "TRUST_BOTH");
  EXPECT_EQ(Roots(Directive(*both, "c1").trust_bundle_pem()), 2u) << "old + new";
  EXPECT_EQ(Vm().status().root_rotation().progress(), "0/2");
  EXPECT_TRUE(Vm().status().root_rotation().abortable());
  // TRUST_BOTH signs with the old root still.
  EXPECT_EQ(ca_->SigningRoot("vmesh/vm1")->signer.certificate().ToPem(), old_root_);

  // One member acknowledged: the phase holds, naming the other.
  Ack(*both, "c1");
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_EQ(Phase(), "TRUST_BOTH");
  EXPECT_EQ(Vm().status().root_rotation().progress(), "1/2");
  ASSERT_EQ(Vm().status().root_rotation().waiting_for_size(), 1);
  EXPECT_THAT(Vm().status().root_rotation().waiting_for(0), HasSubstr("(cluster c2)"));
  EXPECT_TRUE(Vm().status().meshes().at("istiod-istio-system-c1.vmesh").root_rotation().acknowledged());
  EXPECT_FALSE(Vm().status().meshes().at("istiod-istio-system-c2.vmesh").root_rotation().acknowledged());
  // Installed but a restart still owed: holds.
  Ack(*both, "c2", "0abc");
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_EQ(Phase(), "TRUST_BOTH");
  EXPECT_THAT(Vm().status().root_rotation().waiting_for(0),
              HasSubstr("its workloads need a restart for certificate 0abc"));

  Ack(*both, "c2");
  auto issue = reconciler_->Reconcile();
  ASSERT_TRUE(issue.ok());
  EXPECT_EQ(Phase(), "ISSUE_NEW");
  EXPECT_NE(Directive(*issue, "c1").generation(), Directive(*both, "c1").generation());
  EXPECT_EQ(Directive(*issue, "c1").trust_bundle_pem(), Directive(*both, "c1").trust_bundle_pem());
  EXPECT_NE(ca_->SigningRoot("vmesh/vm1")->signer.certificate().ToPem(), old_root_) << "the new root signs";

  // A restarted hub: a new reconciler over the same store, no reports and no discovery yet. It holds ISSUE_NEW.
  reconciler_ = std::make_unique<HubReconciler>(*store_, *objects_, *ca_);
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  EXPECT_EQ(Phase(), "ISSUE_NEW");
  EXPECT_THAT(Vm().status().root_rotation().waiting_for(0), HasSubstr("has not been discovered"));
  for (const char* c : {"c1", "c2"}) {
    reconciler_->SetDiscovery(c, {MeshOf(c)}, {});
    reconciler_->SetConnected(c, true);
  }
  auto resumed = reconciler_->Reconcile();
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(Phase(), "ISSUE_NEW");
  EXPECT_EQ(Directive(*resumed, "c1").generation(), Directive(*issue, "c1").generation()) << "the same directive";

  auto last = AckAll(*resumed);
  EXPECT_EQ(Phase(), "TRUST_NEW");
  EXPECT_EQ(Roots(Directive(last, "c1").trust_bundle_pem()), 1u) << "the new root only";
  EXPECT_FALSE(Vm().status().root_rotation().abortable());
  EXPECT_EQ(reconciler_->AbortRootRotation("vmesh/vm1").error().code, ErrorCode::kConflict);

  auto done = AckAll(last);
  EXPECT_FALSE(Vm().status().has_root_rotation());
  EXPECT_FALSE(store_->GetRootRotation("vmesh/vm1")->has_value());
  const std::string new_root = (*store_->GetRootCa("vmesh/vm1"))->certificate_pem;
  EXPECT_NE(new_root, old_root_);
  EXPECT_EQ(Directive(done, "c1").trust_bundle_pem(), new_root);
  EXPECT_EQ(Directive(done, "c1").generation(), Directive(last, "c1").generation())
      << "the last phase already directed the final certificate: nothing is re-issued";
  EXPECT_EQ(Vm().status().state(), api::v1::ACCEPTED);
}

TEST_F(RootRotationReconcileTest, AnAbortRollsBackToTheOldRoot) {
  ASSERT_TRUE(reconciler_->StartRootRotation("vmesh/vm1", "test").ok());
  auto both = reconciler_->Reconcile();
  ASSERT_TRUE(both.ok());
  auto issue = AckAll(*both);
  ASSERT_EQ(Phase(), "ISSUE_NEW");
  Ack(issue, "c1");  // c1 presents a chain of the new root already; c2 still one of the old
  ASSERT_TRUE(reconciler_->Reconcile().ok());
  ASSERT_EQ(Phase(), "ISSUE_NEW");
  auto aborted = reconciler_->AbortRootRotation("vmesh/vm1");
  ASSERT_TRUE(aborted.ok()) << aborted.error().message;
  EXPECT_THAT(*aborted, HasSubstr("ROLLBACK_ISSUE_OLD"));
  auto back = reconciler_->Reconcile();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(Phase(), "ROLLBACK_ISSUE_OLD");
  EXPECT_EQ(Vm().status().root_rotation().progress(), "1/2") << "c2 never left the old root's intermediate";
  EXPECT_THAT(Vm().status().root_rotation().waiting_for(0), HasSubstr("(cluster c1)"));
  EXPECT_EQ(Roots(Directive(*back, "c1").trust_bundle_pem()), 2u);
  EXPECT_EQ(ca_->SigningRoot("vmesh/vm1")->signer.certificate().ToPem(), old_root_);
  auto trust_old = AckAll(*back);
  EXPECT_EQ(Phase(), "ROLLBACK_TRUST_OLD");
  EXPECT_EQ(Directive(trust_old, "c1").trust_bundle_pem(), old_root_);
  AckAll(trust_old);
  EXPECT_FALSE(Vm().status().has_root_rotation());
  EXPECT_EQ((*store_->GetRootCa("vmesh/vm1"))->certificate_pem, old_root_);
  EXPECT_EQ(reconciler_->AbortRootRotation("vmesh/vm1").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace vmesh::hub
