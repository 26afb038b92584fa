#include "e2e/kubesim/istio_controller.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "common/base/base64.h"
#include "common/base/json_fields.h"
#include "common/pki/csr.h"
#include "common/pki/issuer.h"
#include "e2e/kubesim/cluster_setup.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

// A root and intermediates under it, as vmesh's hub issues them.
struct Ca {
  pki::Certificate cert;
  pki::PrivateKey key;
};

Ca MakeRoot(const std::string& name) {
  auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto cert = pki::IssueRootCa(*key, pki::RootCaProfile{"vmesh", name}, pki::Clock::now());
  return Ca{*cert, *key};
}

std::string MakeIntermediatePem(const Ca& root, const std::string& name) {
  auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  auto csr = pki::Csr::Create(*key, {});
  auto signer = pki::CaSigner::Create(root.cert, root.key);
  pki::IntermediateProfile profile;
  profile.common_name = name;
  profile.spiffe_uri = "spiffe://cluster.local/ns/istio-system/sa/istiod";
  return pki::IssueIntermediate(*signer, *csr, profile, pki::Clock::now())->ToPem();
}

class IstioControllerTest : public ::testing::Test {
 protected:
  IstioControllerTest() : controller_(registry_, store_, "test") {
    EXPECT_TRUE(CreateSystemNamespaces(store_).ok());
    for (const char* ns : {"istio-system", "app"}) {
      EXPECT_TRUE(store_.Create(Type("namespaces"), "", json::object{{"metadata", json::object{{"name", ns}}}}).ok());
    }
  }

  const ResourceType& Type(const char* resource) { return *registry_.Find("", "v1", resource); }

  void CreatePod(const std::string& ns, const std::string& name, json::object labels, const std::string& image,
                 bool ready = true) {
    json::object pod{
        {"metadata", json::object{{"name", name}, {"labels", std::move(labels)}}},
        {"spec", json::object{{"containers", json::array{json::object{{"name", "discovery"}, {"image", image}}}}}}};
    if (ready) {
      pod["status"] = json::object{{"phase", "Running"},
                                   {"conditions", json::array{json::object{{"type", "Ready"}, {"status", "True"}}}}};
    }
    ASSERT_TRUE(store_.Create(Type("pods"), ns, std::move(pod)).ok());
  }

  void WriteCacerts(const std::string& root_pem, const std::string& ca_pem) {
    json::object secret{{"metadata", json::object{{"name", "cacerts"}}},
                        {"data", json::object{{"root-cert.pem", Base64Encode(root_pem)},
                                              {"ca-cert.pem", Base64Encode(ca_pem)},
                                              {"cert-chain.pem", Base64Encode(ca_pem + root_pem)}}}};
    if (store_.Get(Type("secrets"), "istio-system", "cacerts").ok()) {
      ASSERT_TRUE(store_.Update(Type("secrets"), "istio-system", "cacerts", std::move(secret)).ok());
    } else {
      ASSERT_TRUE(store_.Create(Type("secrets"), "istio-system", std::move(secret)).ok());
    }
  }

  void Settle() {
    for (int i = 0; i < 5; ++i) {
      uint64_t before = store_.resource_version();
      controller_.Reconcile();
      if (store_.resource_version() == before) return;
    }
    ADD_FAILURE() << "the controller does not settle";
  }

  std::string Annotation(const std::string& ns, const std::string& pod, const char* key) {
    auto object = store_.Get(Type("pods"), ns, pod);
    return object.ok() ? jsonf::StrAt(**object, {"metadata", "annotations", key}) : "<no pod>";
  }

  std::string MirroredRoot(const std::string& ns) {
    auto cm = store_.Get(Type("configmaps"), ns, "istio-ca-root-cert");
    return cm.ok() ? jsonf::StrAt(**cm, {"data", "root-cert.pem"}) : "<no configmap>";
  }

  ResourceRegistry registry_ = MakeBuiltinRegistry();
  ObjectStore store_;
  IstioController controller_;
};

TEST(IstioVersionTest, HotReloadFrom119) {
  EXPECT_TRUE(IstiodHotReloads("docker.io/istio/pilot:1.20.3"));
  EXPECT_TRUE(IstiodHotReloads("docker.io/istio/pilot:1.19.0"));
  EXPECT_TRUE(IstiodHotReloads("gcr.io/istio-release/pilot:2.0.0-distroless"));
  EXPECT_TRUE(IstiodHotReloads("localhost:5000/pilot"));
  EXPECT_TRUE(IstiodHotReloads("pilot:latest"));
  EXPECT_FALSE(IstiodHotReloads("docker.io/istio/pilot:1.18.2"));
  EXPECT_FALSE(IstiodHotReloads("localhost:5000/istio/pilot:1.9.9"));
}

TEST_F(IstioControllerTest, SelfSignedRootWithoutCacertsIsMirroredAndTrusted) {
  CreatePod("istio-system", "istiod-1", json::object{{"app", "istiod"}}, "docker.io/istio/pilot:1.20.3");
  CreatePod("app", "web-1", json::object{{"security.istio.io/tlsMode", "istio"}}, "web:1");
  Settle();
  const std::string root = MirroredRoot("app");
  ASSERT_NE(root.find("BEGIN CERTIFICATE"), std::string::npos) << root;
  EXPECT_EQ(MirroredRoot("istio-system"), root);
  EXPECT_EQ(MirroredRoot("default"), root);
  EXPECT_EQ(MirroredRoot("kube-system"), "<no configmap>");
  const std::string fingerprint = FirstCertificateFingerprint(root);
  EXPECT_EQ(fingerprint.size(), 64u);
  EXPECT_EQ(Annotation("istio-system", "istiod-1", kLoadedRootAnnotation), fingerprint);
  EXPECT_EQ(Annotation("istio-system", "istiod-1", kLoadedCaCertAnnotation), fingerprint);
  EXPECT_EQ(Annotation("app", "web-1", kTrustedRootAnnotation), fingerprint);
  EXPECT_NE(pki::Certificate::FromPem(root)->subject().find("O=cluster.local"), std::string::npos);
}

TEST_F(IstioControllerTest, Istio120HotReloadsTheSameRootOnly) {
  Ca root = MakeRoot("root one");
  const std::string root_pem = root.cert.ToPem();
  const std::string first = MakeIntermediatePem(root, "first");
  WriteCacerts(root_pem, first);
  CreatePod("istio-system", "istiod-1", json::object{{"app", "istiod"}}, "docker.io/istio/pilot:1.20.3");
  Settle();
  EXPECT_EQ(Annotation("istio-system", "istiod-1", kLoadedRootAnnotation), root.cert.Fingerprint());
  EXPECT_EQ(Annotation("istio-system", "istiod-1", kLoadedCaCertAnnotation), FirstCertificateFingerprint(first));
  EXPECT_EQ(MirroredRoot("app"), root_pem);

  const std::string second = MakeIntermediatePem(root, "second");
  WriteCacerts(root_pem, second);
  Settle();
  EXPECT_EQ(Annotation("istio-system", "istiod-1", kLoadedCaCertAnnotation), FirstCertificateFingerprint(second));

  Ca other = MakeRoot("root two");
  WriteCacerts(other.cert.ToPem(), MakeIntermediatePem(other, "third"));
  Settle();
  EXPECT_EQ(Annotation("istio-system", "istiod-1", kLoadedRootAnnotation), root.cert.Fingerprint());
  EXPECT_EQ(Annotation("istio-system", "istiod-1", kLoadedCaCertAnnotation), FirstCertificateFingerprint(second));
  EXPECT_EQ(MirroredRoot("app"), root_pem);

  // A replacement istiod loads the new root once Ready; until then the old one is the running one.
  CreatePod("istio-system", "istiod-2", json::object{{"app", "istiod"}}, "docker.io/istio/pilot:1.20.3", false);
  Settle();
  EXPECT_EQ(Annotation("istio-system", "istiod-2", kLoadedRootAnnotation), other.cert.Fingerprint());
  EXPECT_EQ(MirroredRoot("app"), root_pem);
  ASSERT_TRUE(store_.Delete(Type("pods"), "istio-system", "istiod-2").ok());
  CreatePod("istio-system", "istiod-3", json::object{{"app", "istiod"}}, "docker.io/istio/pilot:1.20.3");
  Settle();
  EXPECT_EQ(MirroredRoot("app"), other.cert.ToPem());
}

TEST_F(IstioControllerTest, Istio118NeedsARestartEvenForTheSameRoot) {
  Ca root = MakeRoot("root");
  const std::string root_pem = root.cert.ToPem();
  const std::string first = MakeIntermediatePem(root, "first");
  WriteCacerts(root_pem, first);
  CreatePod("istio-system", "istiod-1", json::object{{"app", "istiod"}}, "docker.io/istio/pilot:1.18.2");
  Settle();
  WriteCacerts(root_pem, MakeIntermediatePem(root, "second"));
  Settle();
  EXPECT_EQ(Annotation("istio-system", "istiod-1", kLoadedCaCertAnnotation), FirstCertificateFingerprint(first));
}

// Each sidecar keeps, for its life, the bundle and the chain of the istiod that served it when it started; a
// restarted workload (a new pod) picks up what istiod holds then. The pairwise check sees the difference.
TEST_F(IstioControllerTest, SidecarsRecordTheRootsTheyTrustAndTheChainTheyPresent) {
  Ca old_root = MakeRoot("old");
  Ca new_root = MakeRoot("new");
  const std::string both = old_root.cert.ToPem() + new_root.cert.ToPem();
  const std::string old_ca = MakeIntermediatePem(old_root, "old intermediate");
  WriteCacerts(both, old_ca);  // TRUST_BOTH: the bundle holds both, the intermediate is the old root's
  CreatePod("istio-system", "istiod-1", json::object{{"app", "istiod"}}, "docker.io/istio/pilot:1.20.3");
  CreatePod("app", "web-1", json::object{{"security.istio.io/tlsMode", "istio"}}, "web:1");
  Settle();
  EXPECT_EQ(Annotation("app", "web-1", kTrustedRootsAnnotation), both);
  EXPECT_EQ(Annotation("app", "web-1", kPresentedChainAnnotation), old_ca + both);

  // ISSUE_NEW: same bundle bytes, so istiod 1.20 hot-reloads the new intermediate; only new pods get it.
  const std::string new_ca = MakeIntermediatePem(new_root, "new intermediate");
  json::object secret{{"metadata", json::object{{"name", "cacerts"}}},
                      {"data", json::object{{"root-cert.pem", Base64Encode(both)},
                                            {"ca-cert.pem", Base64Encode(new_ca)},
                                            {"cert-chain.pem", Base64Encode(new_ca + new_root.cert.ToPem())}}}};
  ASSERT_TRUE(store_.Update(Type("secrets"), "istio-system", "cacerts", std::move(secret)).ok());
  CreatePod("app", "web-2", json::object{{"security.istio.io/tlsMode", "istio"}}, "web:1");
  Settle();
  EXPECT_EQ(Annotation("app", "web-1", kPresentedChainAnnotation), old_ca + both) << "kept for the pod's life";
  EXPECT_EQ(Annotation("app", "web-2", kPresentedChainAnnotation), new_ca + new_root.cert.ToPem());
  EXPECT_EQ(Annotation("app", "web-2", kTrustedRootsAnnotation), both);

  auto pod = [&](const std::string& name) {
    auto object = store_.Get(Type("pods"), "app", name);
    return *WorkloadTrustOf(**object, name == "web-1" ? "c1" : "c2");
  };
  EXPECT_TRUE(CheckMutualTls({pod("web-1"), pod("web-2")}, pki::Clock::now()).failures.empty());
}

}  // namespace
}  // namespace vmesh::kubesim
