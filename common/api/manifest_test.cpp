#include "common/api/manifest.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "common/api/duration.h"

namespace vmesh::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kFullVirtualMesh[] = R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata:
  name: vm1
  namespace: vmesh
  labels: {team: platform}
spec:
  meshes:
  - {name: istiod-istio-system-cluster-1, namespace: vmesh}
  - {name: istiod-istio-system-cluster-2, namespace: vmesh}
  mtlsConfig:
    autoRestartPods: true
    shared:
      rootCertificateAuthority:
        generated: {ttlDays: 365, rsaKeySizeBytes: 4096, orgName: vmesh}
      intermediateCertOptions: {ttlDays: 30, keyAlgorithm: ECDSA_P256}
  federation:
    permissive: {}
    flatNetwork: false
    hostnameSuffix: global
    tcpKeepalive: {probes: 3, time: 4m, interval: 75s}
  globalAccessPolicy: ENABLED
)";

std::vector<std::string> Messages(const DecodeResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.ToString());
  return out;
}

TEST(ManifestDecode, FullVirtualMeshHasEveryField) {
  DecodeResult r = DecodeManifests(kFullVirtualMesh);
  ASSERT_TRUE(r.ok()) << JoinErrors(r.errors);
  ASSERT_THAT(r.objects, SizeIs(1));
  const auto& vm = std::get<v1::VirtualMesh>(r.objects[0].object);
  EXPECT_EQ(vm.metadata().name(), "vm1");
  EXPECT_EQ(vm.metadata().labels().at("team"), "platform");
  ASSERT_EQ(vm.spec().meshes_size(), 2);
  EXPECT_EQ(vm.spec().meshes(1).name(), "istiod-istio-system-cluster-2");
  EXPECT_TRUE(vm.spec().mtls_config().auto_restart_pods());
  const auto& gen = vm.spec().mtls_config().shared().root_certificate_authority().generated();
  EXPECT_EQ(gen.ttl_days(), 365u);
  EXPECT_EQ(gen.rsa_key_size_bytes(), 4096u);
  EXPECT_EQ(gen.org_name(), "vmesh");
  EXPECT_EQ(vm.spec().mtls_config().shared().intermediate_cert_options().key_algorithm(), v1::ECDSA_P256);
  EXPECT_TRUE(vm.spec().federation().has_permissive());
  EXPECT_EQ(vm.spec().federation().hostname_suffix(), "global");
  EXPECT_EQ(vm.spec().federation().tcp_keepalive().probes(), 3u);
  EXPECT_EQ(vm.spec().federation().tcp_keepalive().time().seconds(), 240);
  EXPECT_EQ(vm.spec().federation().tcp_keepalive().interval().seconds(), 75);
  EXPECT_EQ(vm.spec().global_access_policy(), v1::VirtualMeshSpec::ENABLED);
  EXPECT_EQ(r.objects[0].document, 1);
  EXPECT_EQ(r.objects[0].line, 1);
}

TEST(ManifestDecode, RoundTripsThroughYamlAndJson) {
  DecodeResult first = DecodeManifests(kFullVirtualMesh);
  ASSERT_TRUE(first.ok());
  const auto& original = AsMessage(first.objects[0].object);
  for (Format format : {Format::kYaml, Format::kJson}) {
    std::string text = Encode(original, format);
    DecodeResult again = DecodeManifests(text);
    ASSERT_TRUE(again.ok()) << JoinErrors(again.errors) << "\n" << text;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(original, AsMessage(again.objects[0].object)))
        << text;
  }
}

// Found by fuzz_manifest: strings that are not UTF-8 decoded, and then could not be stored or sent (protobuf
// strings must be UTF-8), nor encoded back unchanged.
TEST(ManifestDecode, StringsMustBeUtf8) {
  std::string text = kFullVirtualMesh;
  text.replace(text.find("orgName: vmesh"), 14,
               "orgName: \"vm\xff"
               "esh\"");
  EXPECT_THAT(Messages(DecodeManifests(text)),
              ElementsAre("document 1, line 15: spec.mtlsConfig.shared.rootCertificateAuthority.generated.orgName: "
                          "expected UTF-8 text, got the byte 0xff at character 3 of the value"));

  text = kFullVirtualMesh;
  text.replace(text.find("team: platform"), 14,
               "\"t\xc3"
               "am\": platform");
  EXPECT_THAT(Messages(DecodeManifests(text)),
              ElementsAre(HasSubstr("metadata.labels key: expected UTF-8 text, got the byte 0xc3 at character 2")));

  text = kFullVirtualMesh;
  text.replace(text.find("orgName: vmesh"), 14, "orgName: \"caf\xc3\xa9 \\u20ac\"");
  DecodeResult ok = DecodeManifests(text);
  ASSERT_TRUE(ok.ok()) << JoinErrors(ok.errors);
  EXPECT_EQ(std::get<v1::VirtualMesh>(ok.objects[0].object)
                .spec()
                .mtls_config()
                .shared()
                .root_certificate_authority()
                .generated()
                .org_name(),
            "caf\xc3\xa9 \xe2\x82\xac");
}

// Found by fuzz_manifest: a NUL in a name (not validated on delete) was decoded, and encoded back as a line break.
TEST(ManifestDecode, StringsMustNotHoldControlCharacters) {
  for (bool validate : {true, false}) {
    DecodeOptions options;
    options.validate = validate;
    std::string text = kFullVirtualMesh;
    text.replace(text.find("name: vm1"), 9, "name: \"vm\\0x\"");  // YAML's escape of NUL
    EXPECT_THAT(Messages(DecodeManifests(text, options)),
                ElementsAre("document 1, line 4: metadata.name: expected printable text, got the control character "
                            "U+0000 at byte 3 of the value"));
    text = kFullVirtualMesh;
    text.replace(text.find("name: vm1"), 9, "name: \"vm\\u001b1\"");
    EXPECT_THAT(Messages(DecodeManifests(text, options)),
                ElementsAre("document 1, line 4: metadata.name: expected printable text, got the control character "
                            "U+001B at byte 3 of the value"));
  }
  std::string text = kFullVirtualMesh;
  text.replace(text.find("team: platform"), 14, "team: \"plat\\tform\"");
  DecodeOptions unvalidated;
  unvalidated.validate = false;  // label syntax would refuse it; the decoder does not
  DecodeResult tab = DecodeManifests(text, unvalidated);
  EXPECT_TRUE(tab.ok()) << "a tab is printable text: " << JoinErrors(tab.errors);
}

// Found by fuzz_manifest: a multi-line string without a final line break came back from YAML with one.
TEST(ManifestEncode, MultiLineStringsRoundTripExactly) {
  DecodeOptions unvalidated;
  unvalidated.validate = false;
  for (const char* name :
       {R"("a\nb")", R"("a\nb\n\n")", R"("\na")", R"(" a\nb\n")", R"("a\r\nb\n")", R"("a\tb\nc\n")", R"("a\nb\n")"}) {
    std::string text = kFullVirtualMesh;
    text.replace(text.find("name: vm1"), 9, std::string("name: ") + name);
    DecodeResult first = DecodeManifests(text, unvalidated);
    ASSERT_TRUE(first.ok()) << name << ": " << JoinErrors(first.errors);
    const std::string yaml = Encode(AsMessage(first.objects[0].object), Format::kYaml);
    DecodeResult again = DecodeManifests(yaml, unvalidated);
    ASSERT_TRUE(again.ok()) << yaml << JoinErrors(again.errors);
    EXPECT_EQ(std::get<v1::VirtualMesh>(again.objects[0].object).metadata().name(),
              std::get<v1::VirtualMesh>(first.objects[0].object).metadata().name())
        << yaml;
  }
}

TEST(ManifestDecode, WrongScalarTypeNamesDocumentLineAndPath) {
  std::string text = kFullVirtualMesh;
  text.replace(text.find("ttlDays: 365"), 12, "ttlDays: ten");
  DecodeResult r = DecodeManifests(text);
  EXPECT_TRUE(r.objects.empty());
  EXPECT_THAT(Messages(r),
              ElementsAre("document 1, line 15: spec.mtlsConfig.shared.rootCertificateAuthority.generated.ttlDays: "
                          "expected an unsigned integer, got \"ten\""));
}

TEST(ManifestDecode, ReportsEveryErrorInEveryDocument) {
  const char* text = R"(# leading comment
apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: a}
spec:
  meshes: [{name: m1}]
  globalAccessPolicy: enabled
---
apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: b}
spec:
  meshes: [{name: m1}]
  mtlsConfig:
    autoRestartPods: yes
    sharedTrust: {}
)";
  DecodeResult r = DecodeManifests(text);
  EXPECT_TRUE(r.objects.empty());
  EXPECT_THAT(Messages(r),
              ElementsAre("document 1, line 7: spec.globalAccessPolicy: expected one of MESH_DEFAULT, ENABLED, "
                          "DISABLED, got \"enabled\"",
                          "document 2, line 15: spec.mtlsConfig.autoRestartPods: expected true or false, got \"yes\"",
                          HasSubstr("document 2, line 16: spec.mtlsConfig.sharedTrust: unknown field \"sharedTrust\" "
                                    "(known fields: shared, limited, autoRestartPods")));
}

TEST(ManifestDecode, UnknownFieldSuggestsTheRightName) {
  DecodeResult r = DecodeManifests(R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: a}
spec:
  meshes: [{name: m1}]
  global_access_policy: ENABLED
)");
  EXPECT_THAT(Messages(r), ElementsAre("document 1, line 6: spec.global_access_policy: unknown field "
                                       "\"global_access_policy\" (did you mean \"globalAccessPolicy\"?)"));
}

TEST(ManifestDecode, DuplicateFieldIsAnError) {
  DecodeResult r = DecodeManifests(R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: a}
spec:
  meshes: [{name: m1}]
  globalAccessPolicy: ENABLED
  globalAccessPolicy: DISABLED
)");
  EXPECT_THAT(Messages(r), ElementsAre("document 1, line 7: spec.globalAccessPolicy: duplicate field (first set on "
                                       "line 6)"));
}

TEST(ManifestDecode, BothTrustModelsIsAnError) {
  DecodeResult r = DecodeManifests(R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: a}
spec:
  meshes: [{name: m1}]
  mtlsConfig:
    shared: {}
    limited: {}
)");
  EXPECT_THAT(Messages(r), ElementsAre("document 1, line 8: spec.mtlsConfig: only one of shared or limited may be "
                                       "set (both shared and limited are)"));
}

TEST(ManifestDecode, IntegerRangeAndSignAreChecked) {
  DecodeResult r = DecodeManifests(R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: a}
spec:
  meshes: [{name: m1}]
  mtlsConfig:
    shared:
      rootCertificateAuthority:
        generated: {ttlDays: -1, rsaKeySizeBytes: 99999999999}
)");
  EXPECT_THAT(Messages(r),
              ElementsAre(HasSubstr("generated.ttlDays: expected an unsigned integer, got \"-1\" (must not be "
                                    "negative)"),
                          HasSubstr("generated.rsaKeySizeBytes: an unsigned integer is out of range: "
                                    "\"99999999999\" (at most 4294967295)")));
}

TEST(ManifestDecode, WrongShapesAreNamed) {
  DecodeResult r = DecodeManifests(R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: a}
spec:
  meshes: {name: m1}
  federation: permissive
)");
  EXPECT_THAT(Messages(r), ElementsAre("document 1, line 5: spec.meshes: expected a list, got a map",
                                       "document 1, line 6: spec.federation: expected an object (a map of fields), got "
                                       "\"permissive\""));
}

TEST(ManifestDecode, JsonInputWithLineNumbers) {
  const char* json = R"({
  "apiVersion": "networking.vmesh.dev/v1",
  "kind": "AccessPolicy",
  "metadata": {"name": "allow-reviews", "namespace": "vmesh"},
  "spec": {
    "sourceSelector": [{"kubeServiceAccountRefs": {"serviceAccounts": [
      {"name": "productpage", "namespace": "bookinfo", "clusterName": "cluster-1"}]}}],
    "destinationSelector": [{"kubeServiceRefs": {"services": [
      {"name": "reviews", "namespace": "bookinfo", "clusterName": "cluster-2"}]}}],
    "allowedPorts": [9080],
    "allowedMethods": ["GET"],
    "allowedPaths": ["/reviews/*"]
  }
})";
  DecodeResult r = DecodeManifests(json);
  ASSERT_TRUE(r.ok()) << JoinErrors(r.errors);
  const auto& ap = std::get<v1::AccessPolicy>(r.objects[0].object);
  EXPECT_EQ(ap.spec().source_selector(0).kube_service_account_refs().service_accounts(0).cluster_name(), "cluster-1");
  EXPECT_THAT(ap.spec().allowed_ports(), ElementsAre(9080u));

  std::string bad = json;
  bad.replace(bad.find("[9080]"), 6, "[\"http\"]");
  DecodeResult r2 = DecodeManifests(bad);
  EXPECT_THAT(Messages(r2),
              ElementsAre("document 1, line 10: spec.allowedPorts[0]: expected an unsigned integer, got \"http\""));
}

TEST(ManifestDecode, InvalidYamlIsReportedWithItsLineAndOtherDocumentsStillChecked) {
  DecodeResult r = DecodeManifests(R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: a
spec: {}
---
apiVersion: networking.vmesh.dev/v1
kind: Nope
)");
  ASSERT_THAT(r.errors, SizeIs(2));
  EXPECT_EQ(r.errors[0].document, 1);
  EXPECT_THAT(r.errors[0].message, HasSubstr("invalid YAML/JSON"));
  EXPECT_GE(r.errors[0].line, 3);
  EXPECT_EQ(r.errors[1].ToString().substr(0, 19), "document 2, line 7:");
  EXPECT_THAT(r.errors[1].message, HasSubstr("unsupported kind \"Nope\""));
}

TEST(ManifestDecode, FragmentsWithoutApiVersionAreRejected) {
  DecodeResult r = DecodeManifests("federation:\n  hostnameSuffix: soloio\n");
  EXPECT_THAT(Messages(r), ElementsAre(HasSubstr("apiVersion: required"), HasSubstr("kind: required")));
  DecodeResult scalar = DecodeManifests("just a string\n");
  EXPECT_THAT(Messages(scalar), ElementsAre(HasSubstr("expected an object with apiVersion and kind")));
  DecodeResult empty = DecodeManifests("# nothing here\n---\n");
  EXPECT_THAT(Messages(empty), ElementsAre("manifest contains no objects"));
}

TEST(ManifestDecode, OneBadDocumentRejectsTheWholeManifest) {
  std::string text = std::string(kFullVirtualMesh) +
                     "---\napiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\n"
                     "metadata: {name: b}\nspec: {meshes: [{name: m}], bogus: 1}\n";
  DecodeResult r = DecodeManifests(text);
  EXPECT_TRUE(r.objects.empty());
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].document, 2);
  EXPECT_EQ(r.errors[0].path, "spec.bogus");
}

TEST(ManifestDecode, ListKindIsExpanded) {
  DecodeResult r = DecodeManifests(R"(apiVersion: v1
kind: List
items:
- apiVersion: networking.vmesh.dev/v1
  kind: VirtualMesh
  metadata: {name: a}
  spec: {meshes: [{name: m1}]}
- apiVersion: networking.vmesh.dev/v1
  kind: VirtualMesh
  metadata: {name: b}
  spec: {meshes: [{name: m1}], flatNetwork: true}
)");
  EXPECT_THAT(Messages(r), ElementsAre(HasSubstr("line 11: items[1].spec.flatNetwork: unknown field")));
}

TEST(ManifestDecode, DefaultsNamespaceToTheHubNamespace) {
  DecodeOptions options;
  options.hub_namespace = "fleet";
  DecodeResult r = DecodeManifests(
      "apiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: {name: a}\nspec: {meshes: [{name: m1}]}\n",
      options);
  ASSERT_TRUE(r.ok()) << JoinErrors(r.errors);
  EXPECT_EQ(std::get<v1::VirtualMesh>(r.objects[0].object).metadata().namespace_(), "fleet");
}

TEST(ManifestDecode, ValidationErrorsCarryTheFieldsLine) {
  std::string text = kFullVirtualMesh;
  text.replace(text.find("rsaKeySizeBytes: 4096"), 21, "rsaKeySizeBytes: 1024");
  DecodeResult r = DecodeManifests(text);
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].path, "spec.mtlsConfig.shared.rootCertificateAuthority.generated.rsaKeySizeBytes");
  EXPECT_EQ(r.errors[0].line, 15);
  EXPECT_EQ(r.errors[0].object, "VirtualMesh vmesh/vm1");
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("document 1, line 15: VirtualMesh vmesh/vm1: spec.mtlsConfig."));
  EXPECT_THAT(r.errors[0].message, HasSubstr("2048"));
}

TEST(ManifestDecode, AnchorsAndAliasesAreResolved) {
  DecodeResult r = DecodeManifests(R"(apiVersion: networking.vmesh.dev/v1
kind: AccessPolicy
metadata: {name: a}
spec:
  allowedPaths: &paths ["/x", "/y"]
  destinationSelector:
  - kubeServiceMatcher: {namespaces: [bookinfo]}
  - kubeServiceMatcher: {namespaces: [shop]}
)");
  ASSERT_TRUE(r.ok()) << JoinErrors(r.errors);
  EXPECT_THAT(std::get<v1::AccessPolicy>(r.objects[0].object).spec().allowed_paths(), ElementsAre("/x", "/y"));
}

TEST(ManifestEncode, YamlQuotesStringsThatWouldReadAsOtherTypes) {
  v1::VirtualMesh vm;
  vm.set_api_version("networking.vmesh.dev/v1");
  vm.set_kind("VirtualMesh");
  vm.mutable_metadata()->set_name("vm");
  (*vm.mutable_metadata()->mutable_labels())["version"] = "1.20";
  (*vm.mutable_metadata()->mutable_labels())["enabled"] = "true";
  vm.mutable_metadata()->set_generation(7);
  std::string yaml = Encode(vm, Format::kYaml);
  EXPECT_THAT(yaml, HasSubstr("version: \"1.20\""));
  EXPECT_THAT(yaml, HasSubstr("enabled: \"true\""));
  EXPECT_THAT(yaml, HasSubstr("generation: 7"));
  std::string json = Encode(vm, Format::kJson);
  EXPECT_THAT(json, HasSubstr("\"generation\": 7"));
  EXPECT_EQ(yaml.find("spec"), std::string::npos) << "unset fields are omitted";
}

TEST(ManifestEncode, EncodeAllProducesDocumentsOrAList) {
  v1::VirtualMesh a, b;
  a.set_kind("VirtualMesh");
  b.set_kind("VirtualMesh");
  a.mutable_metadata()->set_name("a");
  b.mutable_metadata()->set_name("b");
  EXPECT_EQ(EncodeAll({&a, &b}, Format::kYaml),
            "kind: VirtualMesh\nmetadata:\n  name: a\n---\nkind: "
            "VirtualMesh\nmetadata:\n  name: b\n");
  EXPECT_THAT(EncodeAll({&a, &b}, Format::kJson), HasSubstr("\"kind\": \"List\""));
}

TEST(Duration, ParsesProtoAndGoForms) {
  EXPECT_EQ(ParseDuration("240s")->count(), 240'000'000'000);
  EXPECT_EQ(ParseDuration("4m")->count(), 240'000'000'000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5'400'000'000'000);
  EXPECT_EQ(ParseDuration("1.5s")->count(), 1'500'000'000);
  EXPECT_EQ(ParseDuration("500ms")->count(), 500'000'000);
  EXPECT_EQ(ParseDuration("0")->count(), 0);
  EXPECT_THAT(ParseDuration("4x").error().message, HasSubstr("unknown unit \"x\""));
  EXPECT_THAT(ParseDuration("-1s").error().message, HasSubstr("must not be negative"));
  EXPECT_THAT(ParseDuration("10").error().message, HasSubstr("missing unit"));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("1..5s").ok());
  EXPECT_EQ(FormatDuration(240, 0), "240s");
  EXPECT_EQ(FormatDuration(1, 500000000), "1.500s");
}

}  // namespace
}  // namespace vmesh::api

namespace vmesh::api {
namespace {

// Bad input never crashes the decoder: every truncation of a valid manifest, and byte-level garbage,
// yields objects or errors.
TEST(ManifestDecode, TruncatedAndGarbageInputNeverCrashes) {
  std::string text = kFullVirtualMesh;
  for (size_t n = 0; n <= text.size(); ++n) {
    DecodeResult r = DecodeManifests(std::string_view(text).substr(0, n));
    // Exactly one of: some objects, some errors.
    EXPECT_NE(r.objects.empty(), r.errors.empty()) << "prefix of " << n << " bytes";
  }
  std::uint32_t state = 12345;
  for (int round = 0; round < 200; ++round) {
    std::string garbage = text;
    for (int k = 0; k < 8; ++k) {
      state = state * 1664525u + 1013904223u;
      garbage[state % garbage.size()] = static_cast<char>(state >> 24);
    }
    DecodeResult r = DecodeManifests(garbage);
    EXPECT_NE(r.objects.empty(), r.errors.empty());
  }
}

}  // namespace
}  // namespace vmesh::api
