#include "common/api/validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace vmesh::api {

// Readable failure output; the real ToString lives with the codec.
void PrintTo(const FieldError& e, std::ostream* os) { *os << "{" << e.path << ": " << e.message << "}"; }

namespace {

using ::testing::AllOf;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Matcher;

Matcher<const FieldError&> ErrorAt(const std::string& path, Matcher<const std::string&> message) {
  return AllOf(Field(&FieldError::path, path), Field(&FieldError::message, message));
}

std::vector<std::string> Paths(const std::vector<FieldError>& errors) {
  std::vector<std::string> paths;
  for (const auto& e : errors) paths.push_back(e.path);
  return paths;
}

void AddMesh(v1::VirtualMesh& vm, const std::string& name, const std::string& ns = "vmesh") {
  v1::ObjectRef* ref = vm.mutable_spec()->add_meshes();
  ref->set_name(name);
  ref->set_namespace_(ns);
}

// One mesh, no mtlsConfig, no federation: the smallest valid VirtualMesh.
v1::VirtualMesh MinimalVirtualMesh() {
  v1::VirtualMesh vm;
  vm.mutable_metadata()->set_name("vm1");
  vm.mutable_metadata()->set_namespace_("vmesh");
  AddMesh(vm, "istiod-istio-system-cluster-1");
  return vm;
}

// Two meshes sharing a generated root, permissive-equivalent federation.
v1::VirtualMesh TwoMeshVirtualMesh() {
  v1::VirtualMesh vm = MinimalVirtualMesh();
  AddMesh(vm, "istiod-istio-system-cluster-2");
  vm.mutable_spec()->mutable_mtls_config()->set_auto_restart_pods(true);
  vm.mutable_spec()->mutable_mtls_config()->mutable_shared()->mutable_root_certificate_authority()->mutable_generated();
  vm.mutable_spec()->mutable_federation()->add_selectors();
  return vm;
}

v1::CommonCertOptions* RootOptions(v1::VirtualMesh& vm) {
  return vm.mutable_spec()
      ->mutable_mtls_config()
      ->mutable_shared()
      ->mutable_root_certificate_authority()
      ->mutable_generated();
}

v1::CommonCertOptions* IntermediateOptions(v1::VirtualMesh& vm) {
  return vm.mutable_spec()->mutable_mtls_config()->mutable_shared()->mutable_intermediate_cert_options();
}

v1::VirtualMeshSpec::Federation* Federation(v1::VirtualMesh& vm) { return vm.mutable_spec()->mutable_federation(); }

void AddServiceRef(v1::DestinationSelector* selector, const std::string& name, const std::string& ns,
                   const std::string& cluster) {
  v1::ClusterObjectRef* ref = selector->mutable_kube_service_refs()->add_services();
  ref->set_name(name);
  ref->set_namespace_(ns);
  ref->set_cluster_name(cluster);
}

// Every optional part of a VirtualMesh set to a valid value.
v1::VirtualMesh FullVirtualMesh() {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  (*vm.mutable_metadata()->mutable_labels())["app.kubernetes.io/part-of"] = "bookinfo";
  v1::CommonCertOptions* root = RootOptions(vm);
  root->set_ttl_days(365);
  root->set_rsa_key_size_bytes(4096);
  root->set_org_name("vmesh");
  root->set_secret_rotation_grace_period_ratio(0.25f);
  v1::CommonCertOptions* intermediate = IntermediateOptions(vm);
  intermediate->set_ttl_days(30);
  intermediate->set_key_algorithm(v1::ECDSA_P256);
  vm.mutable_spec()->mutable_mtls_config()->mutable_rotation_verification_method()->mutable_none();

  v1::VirtualMeshSpec::Federation* federation = Federation(vm);
  federation->clear_selectors();
  federation->set_hostname_suffix("soloio");
  auto* to_cluster_2 = federation->add_selectors();
  AddServiceRef(to_cluster_2->add_destination_selectors(), "reviews", "bookinfo", "cluster-1");
  to_cluster_2->add_meshes()->set_name("istiod-istio-system-cluster-2");  // namespace defaults to vmesh
  auto* to_cluster_1 = federation->add_selectors();
  auto* matcher = to_cluster_1->add_destination_selectors()->mutable_kube_service_matcher();
  (*matcher->mutable_labels())["app"] = "ratings";
  matcher->add_namespaces("bookinfo");
  matcher->add_clusters("cluster-2");
  auto* ref = to_cluster_1->add_meshes();
  ref->set_name("istiod-istio-system-cluster-1");
  ref->set_namespace_("vmesh");

  auto* gateway = federation->add_east_west_ingress_gateway_selectors();
  (*gateway->add_destination_selectors()->mutable_kube_service_matcher()->mutable_labels())["traffic"] = "east-west";
  gateway->set_port_name("tls");
  gateway->add_meshes()->set_name("istiod-istio-system-cluster-1");

  federation->mutable_tcp_keepalive()->set_probes(3);
  federation->mutable_tcp_keepalive()->mutable_time()->set_seconds(240);
  federation->mutable_tcp_keepalive()->mutable_interval()->set_seconds(60);
  vm.mutable_spec()->set_global_access_policy(v1::VirtualMeshSpec::ENABLED);
  return vm;
}

// ---------------------------------------------------------------------------------------------------------
// Name helpers

TEST(DnsNamesTest, Dns1123Label) {
  EXPECT_TRUE(IsDns1123Label("a"));
  EXPECT_TRUE(IsDns1123Label("istio-system"));
  EXPECT_TRUE(IsDns1123Label("0abc9"));
  EXPECT_TRUE(IsDns1123Label(std::string(63, 'a')));
  EXPECT_FALSE(IsDns1123Label(""));
  EXPECT_FALSE(IsDns1123Label(std::string(64, 'a')));
  EXPECT_FALSE(IsDns1123Label("Istio"));
  EXPECT_FALSE(IsDns1123Label("-a"));
  EXPECT_FALSE(IsDns1123Label("a-"));
  EXPECT_FALSE(IsDns1123Label("a.b"));
  EXPECT_FALSE(IsDns1123Label("a_b"));
  EXPECT_THAT(Dns1123LabelProblem("Istio").value_or(""), HasSubstr("uppercase 'I'"));
  EXPECT_THAT(Dns1123LabelProblem("a.b").value_or(""), HasSubstr("'.'"));
}

TEST(DnsNamesTest, Dns1123Subdomain) {
  EXPECT_TRUE(IsDns1123Subdomain("istiod-istio-system-cluster-1"));
  EXPECT_TRUE(IsDns1123Subdomain("a.b.c"));
  EXPECT_TRUE(IsDns1123Subdomain("solo.io"));
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(i == 3 ? 61 : 63, 'a') + (i == 3 ? "" : ".");
  ASSERT_EQ(long_name.size(), 253u);
  EXPECT_TRUE(IsDns1123Subdomain(long_name));
  EXPECT_FALSE(IsDns1123Subdomain(long_name + "a"));
  // As in Kubernetes, object names limit only the total length, not each label.
  EXPECT_TRUE(IsDns1123Subdomain("istiod-istio-system-" + std::string(60, 'c')));
  EXPECT_FALSE(IsValidHostnameSuffix(std::string(64, 'c')));
  EXPECT_FALSE(IsDns1123Subdomain(""));
  EXPECT_FALSE(IsDns1123Subdomain(".a"));
  EXPECT_FALSE(IsDns1123Subdomain("a."));
  EXPECT_FALSE(IsDns1123Subdomain("a..b"));
  EXPECT_FALSE(IsDns1123Subdomain("a.-b"));
  EXPECT_TRUE(IsDns1123Subdomain("a." + std::string(64, 'b')));  // no per-label limit, as in Kubernetes
  EXPECT_FALSE(IsDns1123Subdomain("<MgmtMesh.name>"));
  EXPECT_THAT(Dns1123SubdomainProblem("a.-b").value_or(""), HasSubstr("label \"-b\" that starts with '-'"));
}

TEST(DnsNamesTest, HostnameSuffixAcceptsDnsNames) {
  for (const char* suffix : {"global", "solo.io", "corp", "soloio", "mesh.example.com", "a1-b2"}) {
    SCOPED_TRACE(suffix);
    EXPECT_TRUE(IsValidHostnameSuffix(suffix));
  }
}

TEST(DnsNamesTest, HostnameSuffixRejectsMalformedAndShadowingNames) {
  const std::string long_label(64, 'a');
  for (const std::string& suffix :
       {std::string(""), std::string("Corp"), std::string("-a"), std::string("a-"), std::string("a..b"),
        std::string("a_b"), std::string(".global"), std::string("global."), long_label, std::string("cluster.local"),
        std::string("foo.cluster.local"), std::string("svc"), std::string("mesh.svc")}) {
    SCOPED_TRACE(suffix);
    EXPECT_FALSE(IsValidHostnameSuffix(suffix));
  }
}

TEST(DnsNamesTest, LabelKeysAndValues) {
  EXPECT_FALSE(LabelKeyProblem("app").has_value());
  EXPECT_FALSE(LabelKeyProblem("topology.istio.io/network").has_value());
  EXPECT_FALSE(LabelKeyProblem("Some_Key.v1").has_value());
  EXPECT_TRUE(LabelKeyProblem("").has_value());
  EXPECT_TRUE(LabelKeyProblem("a/b/c").has_value());
  EXPECT_TRUE(LabelKeyProblem("Example.com/app").has_value());
  EXPECT_TRUE(LabelKeyProblem("example.com/").has_value());
  EXPECT_TRUE(LabelKeyProblem("bad key").has_value());
  EXPECT_TRUE(LabelKeyProblem("_app").has_value());
  EXPECT_FALSE(LabelValueProblem("").has_value());
  EXPECT_FALSE(LabelValueProblem("east-west").has_value());
  EXPECT_TRUE(LabelValueProblem("east west").has_value());
  EXPECT_TRUE(LabelValueProblem("-x").has_value());
  EXPECT_TRUE(LabelValueProblem(std::string(64, 'v')).has_value());
}

TEST(DnsNamesTest, TrustDomainsFollowSpiffe) {
  for (const char* ok : {"cluster.local", "example.org", "td_1", "a-b.c"}) {
    EXPECT_FALSE(TrustDomainProblem(ok).has_value()) << ok;
  }
  EXPECT_THAT(TrustDomainProblem("evil.org/ns/x").value_or(""), HasSubstr("'/'"));
  EXPECT_THAT(TrustDomainProblem("Cluster.local").value_or(""), HasSubstr("uppercase"));
  EXPECT_TRUE(TrustDomainProblem("").has_value());
  EXPECT_TRUE(TrustDomainProblem("a:8080").has_value());
  EXPECT_TRUE(TrustDomainProblem(".local").has_value());
  EXPECT_TRUE(TrustDomainProblem(std::string(256, 'a')).has_value());
}

TEST(DnsNamesTest, AddressesAndPorts) {
  for (const char* ok : {"172.18.0.1", "fd00::1", "gw.example.com", "IP-10-0-0-1.EC2.internal"}) {
    EXPECT_FALSE(HostOrIpProblem(ok).has_value()) << ok;
  }
  for (const char* bad : {"", "172.18.0.1:15443", "a b", "gw..example", "-gw.example", "http://gw"}) {
    EXPECT_TRUE(HostOrIpProblem(bad).has_value()) << bad;
  }
  EXPECT_TRUE(HostOrIpProblem(std::string(64, 'a') + ".example").has_value()) << "a DNS label is at most 63";
  EXPECT_FALSE(IpAddressProblem("10.0.0.1").has_value());
  EXPECT_TRUE(IpAddressProblem("10.0.0.256").has_value());
  EXPECT_TRUE(IpAddressProblem("pod.example").has_value());
  EXPECT_FALSE(PortProblem(1).has_value());
  EXPECT_FALSE(PortProblem(65535).has_value());
  EXPECT_TRUE(PortProblem(0).has_value());
  EXPECT_TRUE(PortProblem(65536).has_value());
}

TEST(DnsNamesTest, IanaServiceNames) {
  for (const std::string& name : {std::string("tls"), std::string("http-web"), std::string("h2c"),
                                  std::string("tls-15443"), std::string(15, 'a')}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(IanaServiceNameProblem(name).has_value());
  }
  for (const std::string& name :
       {std::string(""), std::string("TLS"), std::string("-tls"), std::string("tls-"), std::string("a--b"),
        std::string("15443"), std::string(16, 'a'), std::string("tls_port")}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(IanaServiceNameProblem(name).has_value());
  }
}

TEST(DnsNamesTest, QuoteValueEscapesAndTruncates) {
  EXPECT_EQ(QuoteValue("a\"b\n"), "\"a\\\"b\\x0a\"");
  EXPECT_EQ(QuoteValue(std::string(150, 'x')), "\"" + std::string(100, 'x') + "...\"");
}

// ---------------------------------------------------------------------------------------------------------
// VirtualMesh: valid objects

TEST(ValidateVirtualMeshTest, MinimalOneMeshWithoutMtlsConfigIsValid) {
  EXPECT_THAT(ValidateVirtualMesh(MinimalVirtualMesh()), IsEmpty());
}

TEST(ValidateVirtualMeshTest, TwoMeshesWithSharedGeneratedRootIsValid) {
  EXPECT_THAT(ValidateVirtualMesh(TwoMeshVirtualMesh()), IsEmpty());
}

TEST(ValidateVirtualMeshTest, FullyPopulatedVirtualMeshIsValid) {
  EXPECT_THAT(ValidateVirtualMesh(FullVirtualMesh()), IsEmpty());
}

TEST(ValidateVirtualMeshTest, LimitedTrustAndDefaultedRootAreValid) {
  v1::VirtualMesh limited = TwoMeshVirtualMesh();
  limited.mutable_spec()->mutable_mtls_config()->mutable_limited();
  EXPECT_THAT(ValidateVirtualMesh(limited), IsEmpty());

  v1::VirtualMesh empty_shared = TwoMeshVirtualMesh();  // shared: {} generates a root with defaults
  empty_shared.mutable_spec()->mutable_mtls_config()->mutable_shared()->Clear();
  EXPECT_THAT(ValidateVirtualMesh(empty_shared), IsEmpty());

  v1::VirtualMesh secret_root = TwoMeshVirtualMesh();
  auto* secret = secret_root.mutable_spec()
                     ->mutable_mtls_config()
                     ->mutable_shared()
                     ->mutable_root_certificate_authority()
                     ->mutable_secret();
  secret->set_name("root-ca-name");
  secret->set_namespace_("root-ca-namespace");
  EXPECT_THAT(ValidateVirtualMesh(secret_root), IsEmpty());
}

// ---------------------------------------------------------------------------------------------------------
// VirtualMesh: metadata and meshes

TEST(ValidateVirtualMeshTest, NameIsRequired) {
  v1::VirtualMesh vm = MinimalVirtualMesh();
  vm.mutable_metadata()->clear_name();
  EXPECT_THAT(ValidateVirtualMesh(vm), ElementsAre(ErrorAt("metadata.name", HasSubstr("required"))));
}

TEST(ValidateVirtualMeshTest, NameAndNamespaceMustBeDnsNames) {
  v1::VirtualMesh vm = MinimalVirtualMesh();
  vm.mutable_metadata()->set_name("Virtual_Mesh");
  vm.mutable_metadata()->set_namespace_("vmesh.dev");
  (*vm.mutable_metadata()->mutable_labels())["bad key"] = "ok";
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("metadata.name", AllOf(HasSubstr("\"Virtual_Mesh\""), HasSubstr("uppercase 'V'"))),
                          ErrorAt("metadata.namespace", AllOf(HasSubstr("\"vmesh.dev\""), HasSubstr("'.'"))),
                          ErrorAt("metadata.labels[bad key]", HasSubstr("not a valid label key"))));
}

TEST(ValidateVirtualMeshTest, AtLeastOneMeshIsRequired) {
  v1::VirtualMesh vm = MinimalVirtualMesh();
  vm.mutable_spec()->clear_meshes();
  EXPECT_THAT(ValidateVirtualMesh(vm), ElementsAre(ErrorAt("spec.meshes", HasSubstr("at least one mesh"))));
}

TEST(ValidateVirtualMeshTest, PlaceholderMeshRefsAreRejectedNamingTheValue) {
  // test/data/virtual_meshes.go in Gloo Mesh, rendered with its template placeholders left in.
  v1::VirtualMesh vm = MinimalVirtualMesh();
  vm.mutable_spec()->clear_meshes();
  AddMesh(vm, "<MgmtMesh.name>", "<MgmtMesh.namespace>");
  EXPECT_THAT(
      ValidateVirtualMesh(vm),
      ElementsAre(
          ErrorAt("spec.meshes[0].name", AllOf(HasSubstr("\"<MgmtMesh.name>\""), HasSubstr("not a valid mesh name"),
                                               HasSubstr("placeholder"))),
          ErrorAt("spec.meshes[0].namespace", AllOf(HasSubstr("\"<MgmtMesh.namespace>\""), HasSubstr("placeholder")))));
}

TEST(ValidateVirtualMeshTest, MeshRefNameIsRequired) {
  v1::VirtualMesh vm = MinimalVirtualMesh();
  vm.mutable_spec()->mutable_meshes(0)->clear_name();
  EXPECT_THAT(ValidateVirtualMesh(vm), ElementsAre(ErrorAt("spec.meshes[0].name", HasSubstr("required"))));
}

TEST(ValidateVirtualMeshTest, DuplicateMeshRefsAreRejected) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  AddMesh(vm, "istiod-istio-system-cluster-1", "");  // empty namespace = the VirtualMesh's (vmesh)
  AddMesh(vm, "istiod-istio-system-cluster-1", "other");
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("spec.meshes[2]", AllOf(HasSubstr("listed twice"), HasSubstr("spec.meshes[0]")))));
}

// ---------------------------------------------------------------------------------------------------------
// VirtualMesh: mtlsConfig

TEST(ValidateVirtualMeshTest, TwoMeshesWithoutMtlsConfigAreRejected) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  vm.mutable_spec()->clear_mtls_config();
  EXPECT_THAT(
      ValidateVirtualMesh(vm),
      ElementsAre(ErrorAt("spec.mtlsConfig",
                          HasSubstr("required when a VirtualMesh has 2 or more meshes: set shared or limited"))));
}

TEST(ValidateVirtualMeshTest, MtlsConfigWithoutTrustModelIsRejected) {
  v1::VirtualMesh vm = MinimalVirtualMesh();
  vm.mutable_spec()->mutable_mtls_config()->set_auto_restart_pods(true);
  EXPECT_THAT(ValidateVirtualMesh(vm), ElementsAre(ErrorAt("spec.mtlsConfig", HasSubstr("set shared or limited"))));
}

TEST(ValidateVirtualMeshTest, VaultIntermediatesAreRejected) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  auto* vault = vm.mutable_spec()
                    ->mutable_mtls_config()
                    ->mutable_shared()
                    ->mutable_intermediate_certificate_authority()
                    ->mutable_vault();
  vault->set_ca_path("pki/root/sign-intermediate");
  vault->set_server("http://vault.vault:8200");
  vault->mutable_kubernetes_auth()->set_role("gen-int-ca-istio");
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("spec.mtlsConfig.shared.intermediateCertificateAuthority.vault",
                                  AllOf(HasSubstr("not supported"), HasSubstr("rootCertificateAuthority.generated"),
                                        HasSubstr("rootCertificateAuthority.secret")))));
}

TEST(ValidateVirtualMeshTest, RsaKeySizeIsABitLengthOfAtLeast2048) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  RootOptions(vm)->set_rsa_key_size_bytes(1024);
  const auto errors = ValidateVirtualMesh(vm);
  EXPECT_THAT(errors, ElementsAre(ErrorAt("spec.mtlsConfig.shared.rootCertificateAuthority.generated.rsaKeySizeBytes",
                                          "1024 is too small: RSA keys must be at least 2048 bits (the field is a bit "
                                          "length despite its name)")));
}

TEST(ValidateVirtualMeshTest, RsaKeySizeBounds) {
  for (std::uint32_t bits : {0u, 2048u, 3072u, 4096u, 8192u}) {
    SCOPED_TRACE(bits);
    v1::VirtualMesh vm = TwoMeshVirtualMesh();
    RootOptions(vm)->set_rsa_key_size_bytes(bits);
    IntermediateOptions(vm)->set_rsa_key_size_bytes(bits);
    EXPECT_THAT(ValidateVirtualMesh(vm), IsEmpty());
  }
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  RootOptions(vm)->set_rsa_key_size_bytes(16384);
  IntermediateOptions(vm)->set_rsa_key_size_bytes(2050);
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("spec.mtlsConfig.shared.rootCertificateAuthority.generated.rsaKeySizeBytes",
                                  HasSubstr("at most 8192 bits")),
                          ErrorAt("spec.mtlsConfig.shared.intermediateCertOptions.rsaKeySizeBytes",
                                  HasSubstr("multiple of 8"))));
}

TEST(ValidateVirtualMeshTest, RsaKeySizeWithEcdsaIsRejected) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  RootOptions(vm)->set_key_algorithm(v1::ECDSA_P384);
  RootOptions(vm)->set_rsa_key_size_bytes(4096);
  IntermediateOptions(vm)->set_key_algorithm(v1::ECDSA_P256);
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("spec.mtlsConfig.shared.rootCertificateAuthority.generated.rsaKeySizeBytes",
                                  AllOf(HasSubstr("only to RSA"), HasSubstr("ECDSA_P384")))));
}

TEST(ValidateVirtualMeshTest, UnknownKeyAlgorithmIsRejected) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  RootOptions(vm)->set_key_algorithm(static_cast<v1::KeyAlgorithm>(7));
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("spec.mtlsConfig.shared.rootCertificateAuthority.generated.keyAlgorithm",
                                  HasSubstr("unknown value 7"))));
}

TEST(ValidateVirtualMeshTest, IntermediateMustNotOutliveRoot) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  RootOptions(vm)->set_ttl_days(90);
  IntermediateOptions(vm)->set_ttl_days(120);
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("spec.mtlsConfig.shared.intermediateCertOptions.ttlDays",
                                  AllOf(HasSubstr("120 days"), HasSubstr("root's 90 days"), HasSubstr("outlive")))));

  // Root ttlDays 0 means 365.
  v1::VirtualMesh defaulted = TwoMeshVirtualMesh();
  IntermediateOptions(defaulted)->set_ttl_days(400);
  EXPECT_THAT(ValidateVirtualMesh(defaulted),
              ElementsAre(ErrorAt("spec.mtlsConfig.shared.intermediateCertOptions.ttlDays",
                                  HasSubstr("root's 365 days (the default)"))));

  // The same ttl is fine; a Secret root's lifetime is not known from the object alone.
  v1::VirtualMesh equal = TwoMeshVirtualMesh();
  RootOptions(equal)->set_ttl_days(90);
  IntermediateOptions(equal)->set_ttl_days(90);
  EXPECT_THAT(ValidateVirtualMesh(equal), IsEmpty());
  v1::VirtualMesh secret = TwoMeshVirtualMesh();
  secret.mutable_spec()
      ->mutable_mtls_config()
      ->mutable_shared()
      ->mutable_root_certificate_authority()
      ->mutable_secret()
      ->set_name("root");
  IntermediateOptions(secret)->set_ttl_days(4000);
  EXPECT_THAT(ValidateVirtualMesh(secret), IsEmpty());
}

TEST(ValidateVirtualMeshTest, TtlDaysUpperBound) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  RootOptions(vm)->set_ttl_days(100000);
  EXPECT_THAT(
      ValidateVirtualMesh(vm),
      ElementsAre(ErrorAt("spec.mtlsConfig.shared.rootCertificateAuthority.generated.ttlDays", HasSubstr("too long"))));
}

TEST(ValidateVirtualMeshTest, GracePeriodRatioMustBeAFraction) {
  for (float ok : {0.0f, 0.1f, 0.5f, 0.99f}) {
    SCOPED_TRACE(ok);
    v1::VirtualMesh vm = TwoMeshVirtualMesh();
    RootOptions(vm)->set_secret_rotation_grace_period_ratio(ok);
    EXPECT_THAT(ValidateVirtualMesh(vm), IsEmpty());
  }
  for (float bad : {-0.1f, 1.0f, 1.5f}) {
    SCOPED_TRACE(bad);
    v1::VirtualMesh vm = TwoMeshVirtualMesh();
    IntermediateOptions(vm)->set_secret_rotation_grace_period_ratio(bad);
    EXPECT_THAT(ValidateVirtualMesh(vm),
                ElementsAre(ErrorAt("spec.mtlsConfig.shared.intermediateCertOptions.secretRotationGracePeriodRatio",
                                    HasSubstr("between 0 and 1"))));
  }
}

TEST(ValidateVirtualMeshTest, OrgNameMustBePrintableAndAtMost64Characters) {
  v1::VirtualMesh ok = TwoMeshVirtualMesh();
  RootOptions(ok)->set_org_name(std::string(64, 'o'));
  IntermediateOptions(ok)->set_org_name("Société Générale");  // UTF-8 counts characters, not bytes
  EXPECT_THAT(ValidateVirtualMesh(ok), IsEmpty());

  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  RootOptions(vm)->set_org_name(std::string(65, 'o'));
  IntermediateOptions(vm)->set_org_name("line\nbreak");
  EXPECT_THAT(
      ValidateVirtualMesh(vm),
      ElementsAre(ErrorAt("spec.mtlsConfig.shared.rootCertificateAuthority.generated.orgName", HasSubstr("at most 64")),
                  ErrorAt("spec.mtlsConfig.shared.intermediateCertOptions.orgName", HasSubstr("control character"))));
}

TEST(ValidateVirtualMeshTest, RootSecretRefNeedsAValidName) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  auto* secret = vm.mutable_spec()
                     ->mutable_mtls_config()
                     ->mutable_shared()
                     ->mutable_root_certificate_authority()
                     ->mutable_secret();
  secret->set_namespace_("Root-CA");
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("spec.mtlsConfig.shared.rootCertificateAuthority.secret.name", HasSubstr("required")),
                          ErrorAt("spec.mtlsConfig.shared.rootCertificateAuthority.secret.namespace",
                                  HasSubstr("\"Root-CA\""))));
}

TEST(ValidateVirtualMeshTest, ManualRotationVerificationIsNotSupported) {
  v1::VirtualMesh none = TwoMeshVirtualMesh();
  none.mutable_spec()->mutable_mtls_config()->mutable_rotation_verification_method()->mutable_none();
  EXPECT_THAT(ValidateVirtualMesh(none), IsEmpty());

  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  vm.mutable_spec()->mutable_mtls_config()->mutable_rotation_verification_method()->mutable_manual();
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("spec.mtlsConfig.rotationVerificationMethod.manual",
                                  AllOf(HasSubstr("not supported"), HasSubstr("acknowledges")))));
}

// ---------------------------------------------------------------------------------------------------------
// VirtualMesh: federation

TEST(ValidateVirtualMeshTest, PermissiveTogetherWithSelectorsIsRejected) {
  v1::VirtualMesh permissive_only = TwoMeshVirtualMesh();
  Federation(permissive_only)->clear_selectors();
  Federation(permissive_only)->mutable_permissive();
  EXPECT_THAT(ValidateVirtualMesh(permissive_only), IsEmpty());

  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  Federation(vm)->mutable_permissive();
  EXPECT_THAT(
      ValidateVirtualMesh(vm),
      ElementsAre(ErrorAt("spec.federation.permissive", HasSubstr("set one of permissive (deprecated) or selectors"))));
}

TEST(ValidateVirtualMeshTest, HostnameSuffixMustBeADnsName) {
  for (const char* ok : {"global", "solo.io", "corp"}) {
    SCOPED_TRACE(ok);
    v1::VirtualMesh vm = TwoMeshVirtualMesh();
    Federation(vm)->set_hostname_suffix(ok);
    EXPECT_THAT(ValidateVirtualMesh(vm), IsEmpty());
  }
  struct Case {
    std::string suffix;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"Corp", "uppercase 'C'"},
      {"-a", "starts with '-'"},
      {"a..b", "empty label"},
      {"a_b", "'_'"},
      {std::string(64, 'x'), "64 characters long (at most 63)"},
      {"mesh." + std::string(64, 'x'), "64 characters long (at most 63)"},
      {".global", "starts with '.'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.suffix);
    v1::VirtualMesh vm = TwoMeshVirtualMesh();
    Federation(vm)->set_hostname_suffix(c.suffix);
    EXPECT_THAT(ValidateVirtualMesh(vm),
                ElementsAre(ErrorAt("spec.federation.hostnameSuffix",
                                    AllOf(HasSubstr("not a valid hostname suffix"), HasSubstr(c.reason)))));
  }
}

TEST(ValidateVirtualMeshTest, HostnameSuffixMustNotShadowInClusterDns) {
  for (const char* suffix : {"cluster.local", "svc.cluster.local", "svc", "corp.svc"}) {
    SCOPED_TRACE(suffix);
    v1::VirtualMesh vm = TwoMeshVirtualMesh();
    Federation(vm)->set_hostname_suffix(suffix);
    EXPECT_THAT(ValidateVirtualMesh(vm),
                ElementsAre(ErrorAt("spec.federation.hostnameSuffix",
                                    AllOf(HasSubstr("in-cluster"), HasSubstr("e.g. global")))));
  }
}

TEST(ValidateVirtualMeshTest, SelectorMeshesMustBeMembers) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  auto* selector = Federation(vm)->add_selectors();
  selector->add_meshes()->set_name("istiod-istio-system-cluster-2");  // member via the default namespace
  auto* other_namespace = selector->add_meshes();
  other_namespace->set_name("istiod-istio-system-cluster-2");
  other_namespace->set_namespace_("gloo-mesh");
  selector->add_meshes()->set_name("istiod-istio-system-cluster-3");
  selector->add_meshes()->set_name("<RemoteMesh.name>");
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("spec.federation.selectors[1].meshes[1]",
                                  AllOf(HasSubstr("\"istiod-istio-system-cluster-2.gloo-mesh\""),
                                        HasSubstr("not a member"), HasSubstr("spec.meshes"))),
                          ErrorAt("spec.federation.selectors[1].meshes[2]",
                                  HasSubstr("\"istiod-istio-system-cluster-3.vmesh\"")),
                          ErrorAt("spec.federation.selectors[1].meshes[3].name", HasSubstr("placeholder"))));
}

TEST(ValidateVirtualMeshTest, DestinationSelectorsSetExactlyOneMatcher) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  auto* selector = Federation(vm)->add_selectors();
  selector->add_destination_selectors();  // neither
  auto* both = selector->add_destination_selectors();
  both->mutable_kube_service_matcher();
  AddServiceRef(both, "reviews", "bookinfo", "cluster-1");
  selector->add_destination_selectors()->mutable_kube_service_matcher();  // {} selects everything: fine
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt("spec.federation.selectors[1].destinationSelectors[0]",
                                  HasSubstr("set one of kubeServiceMatcher")),
                          ErrorAt("spec.federation.selectors[1].destinationSelectors[1]",
                                  HasSubstr("only one of kubeServiceMatcher or kubeServiceRefs"))));
}

TEST(ValidateVirtualMeshTest, KubeServiceRefsNeedNameNamespaceAndCluster) {
  // Gloo Mesh's restrictive-federation e2e manifest with its placeholders left in.
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  Federation(vm)->clear_selectors();
  auto* selector = Federation(vm)->add_selectors()->add_destination_selectors();
  AddServiceRef(selector, "reviews", "bookinfo", "<MgmtClusterName>");
  AddServiceRef(selector, "", "", "cluster-2");
  AddServiceRef(selector, "Reviews", "bookinfo", "cluster-2");
  EXPECT_THAT(
      ValidateVirtualMesh(vm),
      ElementsAre(
          ErrorAt("spec.federation.selectors[0].destinationSelectors[0].kubeServiceRefs.services[0].clusterName",
                  AllOf(HasSubstr("\"<MgmtClusterName>\""), HasSubstr("not a valid cluster name"),
                        HasSubstr("placeholder"))),
          ErrorAt("spec.federation.selectors[0].destinationSelectors[0].kubeServiceRefs.services[1].name",
                  HasSubstr("required")),
          ErrorAt("spec.federation.selectors[0].destinationSelectors[0].kubeServiceRefs.services[1].namespace",
                  HasSubstr("required")),
          ErrorAt("spec.federation.selectors[0].destinationSelectors[0].kubeServiceRefs.services[2].name",
                  HasSubstr("\"Reviews\""))));

  v1::VirtualMesh empty = TwoMeshVirtualMesh();
  Federation(empty)->add_selectors()->add_destination_selectors()->mutable_kube_service_refs();
  EXPECT_THAT(ValidateVirtualMesh(empty),
              ElementsAre(ErrorAt("spec.federation.selectors[1].destinationSelectors[0].kubeServiceRefs.services",
                                  HasSubstr("at least one Service"))));
}

TEST(ValidateVirtualMeshTest, KubeServiceMatcherNamesAndLabels) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  auto* matcher = Federation(vm)->add_selectors()->add_destination_selectors()->mutable_kube_service_matcher();
  (*matcher->mutable_labels())["app"] = "not ok";
  (*matcher->mutable_labels())["-bad"] = "v";
  matcher->add_namespaces("Bookinfo");
  matcher->add_clusters("cluster_1");
  const std::string base = "spec.federation.selectors[1].destinationSelectors[0].kubeServiceMatcher";
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt(base + ".labels[-bad]", HasSubstr("not a valid label key")),
                          ErrorAt(base + ".labels[app]", AllOf(HasSubstr("\"not ok\""), HasSubstr("label value"))),
                          ErrorAt(base + ".namespaces[0]", HasSubstr("\"Bookinfo\"")),
                          ErrorAt(base + ".clusters[0]", HasSubstr("\"cluster_1\""))));
}

TEST(ValidateVirtualMeshTest, EastWestGatewaySelectors) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  auto* gateway = Federation(vm)->add_east_west_ingress_gateway_selectors();
  gateway->add_destination_selectors();
  gateway->set_port_name("TLS_port");
  gateway->add_meshes()->set_name("istiod-istio-system-cluster-9");
  auto* ok = Federation(vm)->add_east_west_ingress_gateway_selectors();  // all omitted: discovered gateway
  ok->set_port_name("tls");
  const std::string base = "spec.federation.eastWestIngressGatewaySelectors[0]";
  EXPECT_THAT(ValidateVirtualMesh(vm),
              ElementsAre(ErrorAt(base + ".destinationSelectors[0]", HasSubstr("set one of kubeServiceMatcher")),
                          ErrorAt(base + ".portName", AllOf(HasSubstr("\"TLS_port\""), HasSubstr("port name"))),
                          ErrorAt(base + ".meshes[0]", HasSubstr("not a member"))));
}

TEST(ValidateVirtualMeshTest, TcpKeepaliveTakesWholeSeconds) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  auto* keepalive = Federation(vm)->mutable_tcp_keepalive();
  keepalive->set_probes(1000);
  keepalive->mutable_time()->set_nanos(500000000);  // 0.5s
  keepalive->mutable_interval()->set_seconds(1);
  keepalive->mutable_interval()->set_nanos(500000000);  // 1.5s
  EXPECT_THAT(
      ValidateVirtualMesh(vm),
      ElementsAre(ErrorAt("spec.federation.tcpKeepalive.probes", HasSubstr("at most 127")),
                  ErrorAt("spec.federation.tcpKeepalive.time", AllOf(HasSubstr("0.5s"), HasSubstr("at least 1s"))),
                  ErrorAt("spec.federation.tcpKeepalive.interval",
                          AllOf(HasSubstr("1.5s"), HasSubstr("whole number of seconds")))));

  v1::VirtualMesh zero = TwoMeshVirtualMesh();
  Federation(zero)->mutable_tcp_keepalive()->mutable_time();  // set but 0s
  Federation(zero)->mutable_tcp_keepalive()->mutable_interval()->set_seconds(-5);
  EXPECT_THAT(ValidateVirtualMesh(zero),
              ElementsAre(ErrorAt("spec.federation.tcpKeepalive.time", HasSubstr("0s is not positive")),
                          ErrorAt("spec.federation.tcpKeepalive.interval", HasSubstr("-5s is not positive"))));

  v1::VirtualMesh ok = TwoMeshVirtualMesh();  // from Gloo Mesh issue 1793: time 4m, interval 1m
  Federation(ok)->mutable_tcp_keepalive()->mutable_time()->set_seconds(240);
  Federation(ok)->mutable_tcp_keepalive()->mutable_interval()->set_seconds(60);
  EXPECT_THAT(ValidateVirtualMesh(ok), IsEmpty());
}

TEST(ValidateVirtualMeshTest, UnknownGlobalAccessPolicyIsRejected) {
  v1::VirtualMesh vm = MinimalVirtualMesh();
  vm.mutable_spec()->set_global_access_policy(static_cast<v1::VirtualMeshSpec::GlobalAccessPolicy>(9));
  EXPECT_THAT(ValidateVirtualMesh(vm), ElementsAre(ErrorAt("spec.globalAccessPolicy", HasSubstr("unknown value 9"))));
}

TEST(ValidateVirtualMeshTest, ReportsEveryErrorInFieldOrder) {
  v1::VirtualMesh vm = TwoMeshVirtualMesh();
  vm.mutable_metadata()->clear_name();
  vm.mutable_spec()->mutable_meshes(1)->set_name("<RemoteMesh.name>");
  RootOptions(vm)->set_rsa_key_size_bytes(1024);
  vm.mutable_spec()->mutable_mtls_config()->mutable_rotation_verification_method()->mutable_manual();
  Federation(vm)->mutable_permissive();
  Federation(vm)->set_hostname_suffix("Corp");
  EXPECT_THAT(Paths(ValidateVirtualMesh(vm)),
              ElementsAre("metadata.name", "spec.meshes[1].name",
                          "spec.mtlsConfig.shared.rootCertificateAuthority.generated.rsaKeySizeBytes",
                          "spec.mtlsConfig.rotationVerificationMethod.manual", "spec.federation.permissive",
                          "spec.federation.hostnameSuffix"));
}

TEST(ValidateVirtualMeshTest, ErrorsNameTheObjectButCarryNoManifestLocation) {
  v1::VirtualMesh vm = MinimalVirtualMesh();
  vm.mutable_spec()->clear_meshes();
  const auto errors = ValidateVirtualMesh(vm);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].object, "VirtualMesh vmesh/vm1");
  EXPECT_EQ(errors[0].document, 0);
  EXPECT_EQ(errors[0].line, 0);
  EXPECT_EQ(errors[0].column, 0);

  vm.mutable_metadata()->clear_namespace_();
  EXPECT_EQ(ValidateVirtualMesh(vm).at(0).object, "VirtualMesh vm1");
  vm.mutable_metadata()->clear_name();  // nothing to name it by
  EXPECT_THAT(ValidateVirtualMesh(vm), Each(Field(&FieldError::object, "")));
}

// ---------------------------------------------------------------------------------------------------------
// AccessPolicy

v1::AccessPolicy ValidAccessPolicy() {
  v1::AccessPolicy ap;
  ap.mutable_metadata()->set_name("reviews-from-productpage");
  ap.mutable_metadata()->set_namespace_("vmesh");
  auto* account = ap.mutable_spec()->add_source_selector()->mutable_kube_service_account_refs()->add_service_accounts();
  account->set_name("productpage");
  account->set_namespace_("bookinfo");
  account->set_cluster_name("cluster-1");
  auto* identity = ap.mutable_spec()->add_source_selector()->mutable_kube_identity_matcher();
  identity->add_namespaces("bookinfo");
  identity->add_clusters("cluster-2");
  AddServiceRef(ap.mutable_spec()->add_destination_selector(), "reviews", "bookinfo", "cluster-2");
  ap.mutable_spec()->add_allowed_ports(9080);
  ap.mutable_spec()->add_allowed_methods("GET");
  ap.mutable_spec()->add_allowed_paths("/reviews/*");
  return ap;
}

TEST(ValidateAccessPolicyTest, ValidPolicyHasNoErrors) {
  EXPECT_THAT(ValidateAccessPolicy(ValidAccessPolicy()), IsEmpty());
  v1::AccessPolicy minimal;  // any source to any destination
  minimal.mutable_metadata()->set_name("allow-all");
  EXPECT_THAT(ValidateAccessPolicy(minimal), IsEmpty());
}

TEST(ValidateAccessPolicyTest, MetadataIsChecked) {
  v1::AccessPolicy ap = ValidAccessPolicy();
  ap.mutable_metadata()->clear_name();
  ap.mutable_metadata()->set_namespace_("-vmesh");
  EXPECT_THAT(ValidateAccessPolicy(ap), ElementsAre(ErrorAt("metadata.name", HasSubstr("required")),
                                                    ErrorAt("metadata.namespace", HasSubstr("starts with '-'"))));

  v1::AccessPolicy named = ValidAccessPolicy();
  named.mutable_spec()->add_allowed_ports(0);
  EXPECT_THAT(ValidateAccessPolicy(named),
              ElementsAre(Field(&FieldError::object, "AccessPolicy vmesh/reviews-from-productpage")));
}

TEST(ValidateAccessPolicyTest, SourceSelectorsSetExactlyOneMatcher) {
  v1::AccessPolicy ap = ValidAccessPolicy();
  ap.mutable_spec()->add_source_selector();
  auto* both = ap.mutable_spec()->add_source_selector();
  both->mutable_kube_identity_matcher();
  both->mutable_kube_service_account_refs()->add_service_accounts()->set_name("productpage");
  EXPECT_THAT(ValidateAccessPolicy(ap),
              ElementsAre(ErrorAt("spec.sourceSelector[2]", HasSubstr("set one of kubeIdentityMatcher")),
                          ErrorAt("spec.sourceSelector[3]",
                                  HasSubstr("only one of kubeIdentityMatcher or kubeServiceAccountRefs"))));
}

TEST(ValidateAccessPolicyTest, ServiceAccountRefsCheckOnlySetFields) {
  v1::AccessPolicy ap = ValidAccessPolicy();
  auto* refs = ap.mutable_spec()->add_source_selector()->mutable_kube_service_account_refs();
  refs->add_service_accounts()->set_namespace_("bookinfo");  // any account in bookinfo on any cluster: fine
  auto* bad = refs->add_service_accounts();
  bad->set_name("Product_Page");
  bad->set_cluster_name("<RemoteClusterName>");
  auto* identity = ap.mutable_spec()->add_source_selector()->mutable_kube_identity_matcher();
  identity->add_namespaces("");
  ap.mutable_spec()->add_source_selector()->mutable_kube_service_account_refs();
  EXPECT_THAT(ValidateAccessPolicy(ap),
              ElementsAre(ErrorAt("spec.sourceSelector[2].kubeServiceAccountRefs.serviceAccounts[1].name",
                                  HasSubstr("\"Product_Page\" is not a valid service account name")),
                          ErrorAt("spec.sourceSelector[2].kubeServiceAccountRefs.serviceAccounts[1].clusterName",
                                  HasSubstr("placeholder")),
                          ErrorAt("spec.sourceSelector[3].kubeIdentityMatcher.namespaces[0]", HasSubstr("required")),
                          ErrorAt("spec.sourceSelector[4].kubeServiceAccountRefs.serviceAccounts",
                                  HasSubstr("at least one service account"))));
}

TEST(ValidateAccessPolicyTest, DestinationSelectorsAreChecked) {
  v1::AccessPolicy ap = ValidAccessPolicy();
  ap.mutable_spec()->add_destination_selector();
  AddServiceRef(ap.mutable_spec()->add_destination_selector(), "reviews", "", "cluster-2");
  EXPECT_THAT(
      ValidateAccessPolicy(ap),
      ElementsAre(ErrorAt("spec.destinationSelector[1]", HasSubstr("set one of kubeServiceMatcher")),
                  ErrorAt("spec.destinationSelector[2].kubeServiceRefs.services[0].namespace", HasSubstr("required"))));
}

TEST(ValidateAccessPolicyTest, AllowedPortsAreInRange) {
  v1::AccessPolicy ap = ValidAccessPolicy();
  ap.mutable_spec()->add_allowed_ports(0);
  ap.mutable_spec()->add_allowed_ports(65535);
  ap.mutable_spec()->add_allowed_ports(65536);
  EXPECT_THAT(ValidateAccessPolicy(ap),
              ElementsAre(ErrorAt("spec.allowedPorts[1]", HasSubstr("0 is not a port number: use 1 to 65535")),
                          ErrorAt("spec.allowedPorts[3]", HasSubstr("65536 is not a port number"))));
}

TEST(ValidateAccessPolicyTest, AllowedMethodsAreHttpMethods) {
  v1::AccessPolicy ap = ValidAccessPolicy();
  for (const char* method : {"HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}) {
    ap.mutable_spec()->add_allowed_methods(method);
  }
  EXPECT_THAT(ValidateAccessPolicy(ap), IsEmpty());
  ap.mutable_spec()->add_allowed_methods("get");
  ap.mutable_spec()->add_allowed_methods("FETCH");
  EXPECT_THAT(ValidateAccessPolicy(ap),
              ElementsAre(ErrorAt("spec.allowedMethods[9]",
                                  AllOf(HasSubstr("\"get\" is not an HTTP method"), HasSubstr("write GET"))),
                          ErrorAt("spec.allowedMethods[10]",
                                  AllOf(HasSubstr("\"FETCH\""),
                                        HasSubstr("GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH")))));
}

TEST(ValidateAccessPolicyTest, AllowedPathsUseIstioSyntax) {
  v1::AccessPolicy ap = ValidAccessPolicy();
  ap.mutable_spec()->add_allowed_paths("*");
  ap.mutable_spec()->add_allowed_paths("*/info");
  ap.mutable_spec()->add_allowed_paths("/exact");
  EXPECT_THAT(ValidateAccessPolicy(ap), IsEmpty());
  ap.mutable_spec()->add_allowed_paths("");
  ap.mutable_spec()->add_allowed_paths("reviews/*");
  EXPECT_THAT(ValidateAccessPolicy(ap),
              ElementsAre(ErrorAt("spec.allowedPaths[4]", HasSubstr("empty")),
                          ErrorAt("spec.allowedPaths[5]",
                                  AllOf(HasSubstr("\"reviews/*\""), HasSubstr("must start with '/' or '*'")))));
}

}  // namespace
}  // namespace vmesh::api
