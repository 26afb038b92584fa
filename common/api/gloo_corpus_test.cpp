// Runs the whole Gloo Mesh corpus (third_party/gloo-mesh/virtualmesh-examples.yaml) through the compatibility
// import: every document is either imported or rejected with a message naming the field, and this test
// pins which and why for each one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/api/manifest.h"
#include "common/base/test_paths.h"

namespace vmesh::api {
namespace {

using ::testing::HasSubstr;

struct CorpusDocument {
  std::string source;  // the "# SOURCE:" line
  std::string text;
};

std::vector<CorpusDocument> LoadCorpus() {
  std::string path = testpaths::GlooCorpusFile();
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  // Split the stream exactly as a YAML reader would: on "---" lines.
  std::vector<CorpusDocument> docs;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = all.find("\n---\n", pos);
    std::string text = all.substr(pos, next == std::string::npos ? std::string::npos : next - pos + 1);
    pos = next == std::string::npos ? next : next + 5;
    size_t src = text.find("# SOURCE: ");
    if (src == std::string::npos) continue;  // the file header
    docs.push_back({text.substr(src + 10, text.find('\n', src) - src - 10), text});
  }
  return docs;
}

enum class Outcome { kImported, kRejected };

struct Expectation {
  std::string source_prefix;
  Outcome outcome;
  std::string error_path;     // for kRejected: the field the error names
  std::string error_message;  // for kRejected: a substring of the message
};

constexpr char kMtlsRequired[] = "required when a VirtualMesh has 2 or more meshes";

std::vector<Expectation> Expectations() {
  const Expectation kVault{"", Outcome::kRejected, "spec.mtlsConfig.shared.intermediateCertificateAuthority.vault",
                           "Vault"};
  const Expectation kNoMtls{"", Outcome::kRejected, "spec.mtlsConfig", kMtlsRequired};
  auto as = [](Expectation e, std::string source) {
    e.source_prefix = std::move(source);
    return e;
  };
  const Expectation kImported{"", Outcome::kImported, "", ""};
  std::vector<Expectation> e = {
      // A) docs at HEAD
      as(kImported, "docs/content/getting_started/managed_kubernetes.md @ HEAD"),
      as(kImported, "docs/content/guides/access_control_intro.md @ HEAD lines 48-68"),
      as(kImported, "docs/content/guides/access_control_intro.md @ HEAD lines 72-92"),
      as(kImported, "docs/content/guides/federate_identity.md @ HEAD lines 144-163"),
      as(kVault, "docs/content/guides/security/vault.md @ HEAD lines 108-136"),
      as(kVault, "docs/content/guides/security/vault.md @ HEAD lines 142-170"),
  };
  // B) test manifests: two meshes and no mtlsConfig, which SPEC §4 makes INVALID.
  for (const char* f :
       {"security/global-access-policy.yaml", "security/single-cluster-access.yaml",
        "traffic-policy/add-request-header.yaml", "traffic-policy/request-header-matcher.yaml",
        "traffic-policy/request-prefix-header-matcher-and.yaml", "traffic-policy/request-prefix-header-matcher-or.yaml",
        "traffic-policy/request-prefix-matcher.yaml", "traffic-policy/request-timeout-multi-cluster.yaml",
        "traffic-policy/request-timeout.yaml", "virtual-destination/virtual-destination-http.yaml",
        "virtual-destination/virtual-destination-https.yaml",
        "virtual-destination/virtual-destination-single-cluster-http-flat-network.yaml",
        "virtual-destination/virtual-destination-single-cluster-http.yaml",
        "virtual-destination/virtual-destination-single-cluster-https-flat-network.yaml",
        "virtual-destination/virtual-destination-single-cluster-https.yaml",
        "virtual-destination/virtual-destination-single-cluster-tcp-flat-network.yaml",
        "virtual-destination/virtual-destination-single-cluster-tcp.yaml",
        "virtual-destination/virtual-destination-tcp.yaml"}) {
    e.push_back(as(kNoMtls, std::string("pkg/test/manifests/gloo-mesh/") + f));
  }
  // C) docs at v1.0.11 (deprecated federation.permissive form).
  e.push_back(as(kImported, "docs/content/getting_started/managed_kubernetes.md @ v1.0.11"));
  e.push_back(as(kImported, "docs/content/guides/access_control_intro.md @ v1.0.11 lines 48-67"));
  e.push_back(as(kImported, "docs/content/guides/access_control_intro.md @ v1.0.11 lines 71-88"));
  e.push_back(as(kImported, "docs/content/guides/federate_identity.md @ v1.0.11"));
  // D) Go test code rendered as YAML, with unresolved placeholders for mesh and cluster names.
  e.push_back({"test/data/virtual_meshes.go", Outcome::kRejected, "spec.meshes[0].name", "<MgmtMesh.name>"});
  e.push_back({"test/e2e/istio/pkg/tests/federation.go @ HEAD, \"should implement restrictive", Outcome::kRejected,
               "spec.meshes[0].name", "<MgmtMesh.name>"});
  e.push_back({"test/e2e/istio/pkg/tests/federation.go @ HEAD, \"can select a non-default", Outcome::kRejected,
               "spec.meshes[0].name", "<MgmtMesh.name>"});
  e.push_back({"test/e2e/istio/pkg/tests/access_policy.go", Outcome::kRejected, "spec.meshes", "at least one"});
  // E) fragments: not complete objects.
  e.push_back(
      {"docs/content/guides/federate_identity.md @ HEAD lines 175-181", Outcome::kRejected, "apiVersion", "required"});
  e.push_back(
      {"docs/content/guides/federate_identity.md @ HEAD lines 222-242", Outcome::kRejected, "apiVersion", "required"});
  e.push_back({"docs/content/getting_started/managed_kubernetes.md @ HEAD lines 340-347", Outcome::kRejected,
               "apiVersion", "required"});
  // F) from GitHub issues: three (then two) meshes without mtlsConfig.
  e.push_back(as(kNoMtls, "https://github.com/solo-io/gloo-mesh/issues/1581"));
  e.push_back(as(kNoMtls, "https://github.com/solo-io/gloo-mesh/issues/1793"));
  return e;
}

class GlooCorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    docs_ = LoadCorpus();
    ASSERT_FALSE(docs_.empty()) << "the corpus could not be read from " << testpaths::GlooCorpusFile();
  }
  std::vector<CorpusDocument> docs_;
};

TEST_F(GlooCorpusTest, EveryDocumentHasAnExpectation) {
  auto expectations = Expectations();
  ASSERT_EQ(docs_.size(), expectations.size());
  for (size_t i = 0; i < docs_.size(); ++i) {
    EXPECT_EQ(docs_[i].source.rfind(expectations[i].source_prefix, 0), 0u)
        << "document " << i << " is " << docs_[i].source;
  }
}

TEST_F(GlooCorpusTest, EachDocumentIsImportedOrRejectedNamingTheField) {
  auto expectations = Expectations();
  ASSERT_EQ(docs_.size(), expectations.size());
  int imported = 0, rejected = 0;
  for (size_t i = 0; i < docs_.size(); ++i) {
    const CorpusDocument& doc = docs_[i];
    const Expectation& want = expectations[i];
    SCOPED_TRACE("corpus document " + std::to_string(i) + ": " + doc.source);
    DecodeResult r = DecodeManifests(doc.text);
    if (want.outcome == Outcome::kImported) {
      ASSERT_TRUE(r.ok()) << JoinErrors(r.errors);
      ASSERT_EQ(r.objects.size(), 1u);
      const auto& vm = std::get<v1::VirtualMesh>(r.objects[0].object);
      EXPECT_EQ(vm.api_version(), "networking.vmesh.dev/v1");
      EXPECT_EQ(vm.metadata().namespace_(), "vmesh");
      for (const auto& ref : vm.spec().meshes()) EXPECT_EQ(ref.namespace_(), "vmesh");
      EXPECT_THAT(r.objects[0].import_note, HasSubstr("namespace gloo-mesh mapped to vmesh"));
      ++imported;
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_TRUE(r.objects.empty());
      bool found = false;
      for (const auto& e : r.errors) {
        if (e.path == want.error_path && e.message.find(want.error_message) != std::string::npos) found = true;
        EXPECT_GT(e.line, 0) << e.ToString();
      }
      EXPECT_TRUE(found) << "want an error at \"" << want.error_path << "\" containing \"" << want.error_message
                         << "\"; got:\n"
                         << JoinErrors(r.errors);
      ++rejected;
    }
  }
  EXPECT_EQ(imported, 8);
  EXPECT_EQ(rejected, 29);
}

// The documents rejected only for lacking mtlsConfig use nothing else vmesh lacks: with shared trust added
// they import, including the Go-style tcpKeepalive durations of issue 1793.
TEST_F(GlooCorpusTest, DocumentsMissingOnlyMtlsConfigImportOnceItIsAdded) {
  auto expectations = Expectations();
  int checked = 0;
  for (size_t i = 0; i < docs_.size(); ++i) {
    if (expectations[i].error_message != kMtlsRequired) continue;
    std::string text = docs_[i].text;
    size_t spec = text.find("\nspec:\n");
    ASSERT_NE(spec, std::string::npos);
    text.insert(spec + 7, "  mtlsConfig: {shared: {rootCertificateAuthority: {generated: {}}}}\n");
    DecodeResult r = DecodeManifests(text);
    ASSERT_TRUE(r.ok()) << docs_[i].source << "\n" << JoinErrors(r.errors);
    const auto& vm = std::get<v1::VirtualMesh>(r.objects[0].object);
    if (docs_[i].source.find("issues/1793") != std::string::npos) {
      EXPECT_EQ(vm.spec().federation().tcp_keepalive().time().seconds(), 240);
      EXPECT_EQ(vm.spec().federation().tcp_keepalive().interval().seconds(), 60);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 20);
}

TEST(GlooImport, LaterGlooFieldNameForIngressGatewaySelectorsIsAccepted) {
  DecodeResult r = DecodeManifests(R"(apiVersion: networking.mesh.gloo.solo.io/v1
kind: VirtualMesh
metadata: {name: vm, namespace: gloo-mesh}
spec:
  meshes: [{name: istiod-istio-system-c1, namespace: gloo-mesh}]
  federation:
    ingressGatewaySelectors:
    - portName: tls
      meshes: [{name: istiod-istio-system-c1, namespace: gloo-mesh}]
)");
  ASSERT_TRUE(r.ok()) << JoinErrors(r.errors);
  const auto& vm = std::get<v1::VirtualMesh>(r.objects[0].object);
  ASSERT_EQ(vm.spec().federation().east_west_ingress_gateway_selectors_size(), 1);
  EXPECT_EQ(vm.spec().federation().east_west_ingress_gateway_selectors(0).meshes(0).namespace_(), "vmesh");
}

TEST(GlooImport, AccessPolicyIsImportedAndStatusDropped) {
  DecodeResult r = DecodeManifests(R"(apiVersion: networking.mesh.gloo.solo.io/v1
kind: AccessPolicy
metadata: {name: reviews, namespace: gloo-mesh}
spec:
  sourceSelector:
  - kubeServiceAccountRefs:
      serviceAccounts: [{name: productpage, namespace: bookinfo, clusterName: cluster-1}]
  allowedMethods: [GET]
status:
  state: ACCEPTED
)");
  ASSERT_TRUE(r.ok()) << JoinErrors(r.errors);
  const auto& ap = std::get<v1::AccessPolicy>(r.objects[0].object);
  EXPECT_EQ(ap.api_version(), "networking.vmesh.dev/v1");
  EXPECT_EQ(ap.metadata().namespace_(), "vmesh");
  EXPECT_FALSE(ap.has_status());
}

TEST(GlooImport, OtherGlooKindsAreRejectedByName) {
  DecodeResult r = DecodeManifests(
      "apiVersion: networking.mesh.gloo.solo.io/v1\nkind: TrafficPolicy\nmetadata: {name: t}\nspec: {}\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].path, "kind");
  EXPECT_THAT(r.errors[0].message, HasSubstr("unsupported kind \"TrafficPolicy\""));
}

}  // namespace
}  // namespace vmesh::api
