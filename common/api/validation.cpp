#include "common/api/validation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace vmesh::api {
namespace {

using Errors = std::vector<FieldError>;
using v1::VirtualMeshSpec;

// Defaults and limits of CommonCertOptions (virtual_mesh.proto, SPEC §5).
constexpr std::uint32_t kDefaultRootTtlDays = 365;
constexpr std::uint32_t kMaxTtlDays = 36500;  // 100 years; keeps notAfter well inside X.509 and time_t ranges
constexpr std::uint32_t kMinRsaKeyBits = 2048;
constexpr std::uint32_t kMaxRsaKeyBits = 8192;
constexpr std::size_t kMaxOrgNameChars = 64;  // ub-organization-name, RFC 5280 appendix A

// Linux rejects larger TCP_KEEPCNT / TCP_KEEPIDLE / TCP_KEEPINTVL values (MAX_TCP_KEEP*), so Envoy would fail
// to set them on the upstream socket.
constexpr std::uint32_t kMaxKeepaliveProbes = 127;
constexpr std::int64_t kMaxKeepaliveSeconds = 32767;

// Methods Istio's AuthorizationPolicy accepts in `operation.methods` for HTTP.
constexpr std::array<std::string_view, 9> kHttpMethods = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                          "CONNECT", "OPTIONS", "TRACE", "PATCH"};

void Add(Errors& out, std::string path, std::string message) {
  FieldError error;
  error.path = std::move(path);
  error.message = std::move(message);
  out.push_back(std::move(error));
}

std::string Item(const std::string& path, int index) { return path + "[" + std::to_string(index) + "]"; }

// A value that was meant to be filled in by a template, e.g. "<MgmtMesh.name>" or "{{ .Values.cluster }}".
bool LooksLikePlaceholder(std::string_view s) {
  return (s.find('<') != std::string_view::npos && s.find('>') != std::string_view::npos) ||
         s.find("{{") != std::string_view::npos || s.find("${") != std::string_view::npos;
}

enum class NameSyntax { kLabel, kSubdomain };

// Reports `value` at `path` unless it is a valid name; `what` names the thing ("mesh name", "namespace").
// An empty value is reported as missing, with `required_hint` saying what to set.
void CheckName(Errors& out, const std::string& path, std::string_view value, NameSyntax syntax, std::string_view what,
               std::string_view required_hint) {
  if (value.empty()) {
    Add(out, path, "required: set " + std::string(required_hint));
    return;
  }
  const auto problem = syntax == NameSyntax::kLabel ? Dns1123LabelProblem(value) : Dns1123SubdomainProblem(value);
  if (!problem) return;
  std::string message = QuoteValue(value) + " is not a valid " + std::string(what) + ": " + *problem;
  if (LooksLikePlaceholder(value)) message += "; it looks like an unfilled template placeholder: use the real name";
  Add(out, path, std::move(message));
}

// Like CheckName for a field that may be omitted.
void CheckOptionalName(Errors& out, const std::string& path, std::string_view value, NameSyntax syntax,
                       std::string_view what) {
  if (!value.empty()) CheckName(out, path, value, syntax, what, "");
}

void CheckLabels(Errors& out, const std::string& path, const google::protobuf::Map<std::string, std::string>& labels) {
  for (FieldError& e : ValidateLabels(path, labels)) out.push_back(std::move(e));
}

void CheckMetadata(Errors& out, const v1::ObjectMeta& meta, std::string_view example_name) {
  CheckName(out, "metadata.name", meta.name(), NameSyntax::kSubdomain, "name",
            "a name of lowercase letters, digits, '-' and '.', e.g. " + std::string(example_name));
  CheckOptionalName(out, "metadata.namespace", meta.namespace_(), NameSyntax::kLabel, "namespace");
  CheckLabels(out, "metadata.labels", meta.labels());
}

// ---- Selectors (shared by VirtualMesh federation and AccessPolicy) ----

void CheckServiceMatcher(Errors& out, const std::string& path,
                         const v1::DestinationSelector::KubeServiceMatcher& matcher) {
  CheckLabels(out, path + ".labels", matcher.labels());
  for (int i = 0; i < matcher.namespaces_size(); ++i) {
    CheckName(out, Item(path + ".namespaces", i), matcher.namespaces(i), NameSyntax::kLabel, "namespace",
              "a namespace, or remove the empty entry");
  }
  for (int i = 0; i < matcher.clusters_size(); ++i) {
    CheckName(out, Item(path + ".clusters", i), matcher.clusters(i), NameSyntax::kSubdomain, "cluster name",
              "a cluster name, or remove the empty entry");
  }
}

void CheckServiceRefs(Errors& out, const std::string& path, const v1::DestinationSelector::KubeServiceRefs& refs) {
  const std::string services_path = path + ".services";
  if (refs.services_size() == 0) {
    Add(out, services_path,
        "empty: list at least one Service {name, namespace, clusterName}, or use kubeServiceMatcher: {} to select "
        "every Service");
    return;
  }
  for (int i = 0; i < refs.services_size(); ++i) {
    const v1::ClusterObjectRef& ref = refs.services(i);
    const std::string item = Item(services_path, i);
    CheckName(out, item + ".name", ref.name(), NameSyntax::kSubdomain, "Service name", "the Service's name");
    CheckName(out, item + ".namespace", ref.namespace_(), NameSyntax::kLabel, "namespace", "the Service's namespace");
    CheckName(out, item + ".clusterName", ref.cluster_name(), NameSyntax::kSubdomain, "cluster name",
              "the name of the cluster the Service runs in");
  }
}

void CheckDestinationSelector(Errors& out, const std::string& path, const v1::DestinationSelector& selector) {
  const bool matcher = selector.has_kube_service_matcher();
  const bool refs = selector.has_kube_service_refs();
  if (matcher && refs) {
    Add(out, path, "set only one of kubeServiceMatcher or kubeServiceRefs, not both (use two selectors to combine)");
  } else if (!matcher && !refs) {
    Add(out, path,
        "set one of kubeServiceMatcher (labels, namespaces, clusters; {} selects every Service) or kubeServiceRefs "
        "(a list of Services)");
  }
  if (matcher) CheckServiceMatcher(out, path + ".kubeServiceMatcher", selector.kube_service_matcher());
  if (refs) CheckServiceRefs(out, path + ".kubeServiceRefs", selector.kube_service_refs());
}

void CheckIdentitySelector(Errors& out, const std::string& path, const v1::IdentitySelector& selector) {
  const bool matcher = selector.has_kube_identity_matcher();
  const bool refs = selector.has_kube_service_account_refs();
  if (matcher && refs) {
    Add(out, path,
        "set only one of kubeIdentityMatcher or kubeServiceAccountRefs, not both (use two selectors to combine)");
  } else if (!matcher && !refs) {
    Add(out, path,
        "set one of kubeIdentityMatcher (namespaces, clusters; {} matches any workload) or kubeServiceAccountRefs "
        "(a list of service accounts)");
  }
  if (matcher) {
    const std::string matcher_path = path + ".kubeIdentityMatcher";
    const auto& m = selector.kube_identity_matcher();
    for (int i = 0; i < m.namespaces_size(); ++i) {
      CheckName(out, Item(matcher_path + ".namespaces", i), m.namespaces(i), NameSyntax::kLabel, "namespace",
                "a namespace, or remove the empty entry");
    }
    for (int i = 0; i < m.clusters_size(); ++i) {
      CheckName(out, Item(matcher_path + ".clusters", i), m.clusters(i), NameSyntax::kSubdomain, "cluster name",
                "a cluster name, or remove the empty entry");
    }
  }
  if (refs) {
    const std::string accounts_path = path + ".kubeServiceAccountRefs.serviceAccounts";
    const auto& accounts = selector.kube_service_account_refs().service_accounts();
    if (accounts.empty()) {
      Add(out, accounts_path,
          "empty: list at least one service account {name, namespace, clusterName}, or use kubeIdentityMatcher: {} "
          "to match any workload");
    }
    // Omitted fields match any value, so only the fields that are set are checked.
    for (int i = 0; i < accounts.size(); ++i) {
      const std::string item = Item(accounts_path, i);
      CheckOptionalName(out, item + ".name", accounts[i].name(), NameSyntax::kSubdomain, "service account name");
      CheckOptionalName(out, item + ".namespace", accounts[i].namespace_(), NameSyntax::kLabel, "namespace");
      CheckOptionalName(out, item + ".clusterName", accounts[i].cluster_name(), NameSyntax::kSubdomain, "cluster name");
    }
  }
}

// ---- Mesh references ----

// The members of a VirtualMesh, with namespaces defaulted to the VirtualMesh's.
class MeshSet {
 public:
  explicit MeshSet(std::string default_namespace) : default_namespace_(std::move(default_namespace)) {}

  // Index of the member `ref` refers to, if any. When a namespace is unknown on either side (empty ref
  // namespace and empty metadata.namespace) only the names are compared.
  std::optional<int> Find(const v1::ObjectRef& ref) const {
    const std::string& ns = Namespace(ref);
    for (std::size_t i = 0; i < members_.size(); ++i) {
      const auto& [member_name, member_ns] = members_[i];
      if (member_name == ref.name() && (ns.empty() || member_ns.empty() || ns == member_ns)) {
        return static_cast<int>(i);
      }
    }
    return std::nullopt;
  }
  void Insert(const v1::ObjectRef& ref) { members_.emplace_back(ref.name(), Namespace(ref)); }
  std::size_t size() const { return members_.size(); }

  // "<name>.<namespace>", as status keys are written (SPEC §3.3).
  std::string Describe(const v1::ObjectRef& ref) const {
    const std::string& ns = Namespace(ref);
    return ns.empty() ? ref.name() : ref.name() + "." + ns;
  }

 private:
  const std::string& Namespace(const v1::ObjectRef& ref) const {
    return ref.namespace_().empty() ? default_namespace_ : ref.namespace_();
  }

  std::string default_namespace_;
  std::vector<std::pair<std::string, std::string>> members_;
};

// Syntax of a ref to a Mesh; true when well formed.
bool CheckMeshRef(Errors& out, const std::string& path, const v1::ObjectRef& ref) {
  const std::size_t before = out.size();
  CheckName(out, path + ".name", ref.name(), NameSyntax::kSubdomain, "mesh name",
            "the name of a discovered Mesh, e.g. istiod-istio-system-cluster-1");
  CheckOptionalName(out, path + ".namespace", ref.namespace_(), NameSyntax::kLabel, "namespace");
  return out.size() == before;
}

// A ref inside spec.federation that must name one of spec.meshes.
void CheckMemberRef(Errors& out, const std::string& path, const v1::ObjectRef& ref, const MeshSet& members) {
  if (!CheckMeshRef(out, path, ref)) return;
  if (!members.Find(ref)) {
    Add(out, path,
        "mesh " + QuoteValue(members.Describe(ref)) +
            " is not a member of this VirtualMesh: add it to spec.meshes or remove it here");
  }
}

MeshSet CheckMeshes(Errors& out, const v1::VirtualMesh& vm) {
  MeshSet members(vm.metadata().namespace_());
  const auto& meshes = vm.spec().meshes();
  if (meshes.empty()) {
    Add(out, "spec.meshes",
        "at least one mesh is required: list the discovered Meshes to join, e.g. {name: "
        "istiod-istio-system-cluster-1, namespace: vmesh}");
  }
  for (int i = 0; i < meshes.size(); ++i) {
    const std::string item = Item("spec.meshes", i);
    CheckMeshRef(out, item, meshes[i]);
    if (auto first = members.Find(meshes[i])) {
      Add(out, item,
          "mesh " + QuoteValue(members.Describe(meshes[i])) + " is listed twice (also spec.meshes[" +
              std::to_string(*first) + "]): remove one");
      continue;
    }
    members.Insert(meshes[i]);
  }
  return members;
}

// ---- mTLS ----

std::string FormatFloat(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

// Number of characters of a UTF-8 string (continuation bytes are not counted).
std::size_t Utf8Length(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

void CheckCertOptions(Errors& out, const std::string& path, const v1::CommonCertOptions& options) {
  if (options.ttl_days() > kMaxTtlDays) {
    Add(out, path + ".ttlDays",
        std::to_string(options.ttl_days()) + " days is too long: set at most " + std::to_string(kMaxTtlDays) +
            " (100 years), or 0 for the default");
  }

  const int algorithm = options.key_algorithm();
  const bool known_algorithm = v1::KeyAlgorithm_IsValid(algorithm);
  if (!known_algorithm) {
    Add(out, path + ".keyAlgorithm",
        "unknown value " + std::to_string(algorithm) + ": use RSA (the default), ECDSA_P256 or ECDSA_P384");
  }
  if (const std::uint32_t bits = options.rsa_key_size_bytes(); bits != 0) {
    const std::string field = path + ".rsaKeySizeBytes";
    const std::string shown = std::to_string(bits);
    if (known_algorithm && algorithm != v1::RSA) {
      Add(out, field,
          shown + " applies only to RSA keys, but keyAlgorithm is " +
              v1::KeyAlgorithm_Name(static_cast<v1::KeyAlgorithm>(algorithm)) +
              ": remove rsaKeySizeBytes or set keyAlgorithm to RSA");
    } else if (bits < kMinRsaKeyBits) {
      Add(out, field,
          shown + " is too small: RSA keys must be at least 2048 bits (the field is a bit length despite its name)");
    } else if (bits > kMaxRsaKeyBits) {
      Add(out, field,
          shown +
              " is too large: RSA keys must be at most 8192 bits (the field is a bit length despite its name; "
              "0 means 4096)");
    } else if (bits % 8 != 0) {
      Add(out, field, shown + " is not a whole number of bytes: use a multiple of 8 bits, e.g. 2048, 3072 or 4096");
    }
  }

  const float ratio = options.secret_rotation_grace_period_ratio();
  if (std::isnan(ratio) || ratio < 0 || ratio >= 1) {
    Add(out, path + ".secretRotationGracePeriodRatio",
        FormatFloat(ratio) +
            " is out of range: set a fraction of the lifetime strictly between 0 and 1, e.g. 0.33, or 0 for the "
            "default (1/3)");
  }

  const std::string& org = options.org_name();
  const auto control = std::find_if(org.begin(), org.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
  if (control != org.end()) {
    Add(out, path + ".orgName",
        QuoteValue(org) +
            " contains a control character: use printable characters only (it becomes the "
            "certificate subject's O)");
  } else if (const std::size_t length = Utf8Length(org); length > kMaxOrgNameChars) {
    Add(out, path + ".orgName",
        "is " + std::to_string(length) + " characters long: an X.509 organization name (O) has at most 64; shorten it");
  }
}

void CheckSecretRef(Errors& out, const std::string& path, const v1::ObjectRef& ref) {
  CheckName(out, path + ".name", ref.name(), NameSyntax::kSubdomain, "Secret name",
            "the name of the hub Secret holding root-cert.pem and key.pem");
  CheckOptionalName(out, path + ".namespace", ref.namespace_(), NameSyntax::kLabel, "namespace");
}

void CheckSharedTrust(Errors& out, const std::string& path, const v1::SharedTrust& shared) {
  // The root's validity when vmesh generates it (nullopt when it comes from a Secret or is unsupported).
  std::optional<std::uint32_t> root_ttl_days;
  bool root_ttl_is_default = false;
  switch (shared.certificate_authority_case()) {
    case v1::SharedTrust::kRootCertificateAuthority: {
      const v1::RootCertificateAuthority& root = shared.root_certificate_authority();
      const std::string root_path = path + ".rootCertificateAuthority";
      switch (root.ca_source_case()) {
        case v1::RootCertificateAuthority::kGenerated:
          CheckCertOptions(out, root_path + ".generated", root.generated());
          root_ttl_is_default = root.generated().ttl_days() == 0;
          root_ttl_days = root_ttl_is_default ? kDefaultRootTtlDays : root.generated().ttl_days();
          break;
        case v1::RootCertificateAuthority::kSecret:
          CheckSecretRef(out, root_path + ".secret", root.secret());
          break;
        case v1::RootCertificateAuthority::CA_SOURCE_NOT_SET:  // a generated root with default options
          root_ttl_is_default = true;
          root_ttl_days = kDefaultRootTtlDays;
          break;
      }
      break;
    }
    case v1::SharedTrust::kIntermediateCertificateAuthority: {
      std::string ca_path = path + ".intermediateCertificateAuthority";
      if (shared.intermediate_certificate_authority().has_vault()) ca_path += ".vault";
      Add(out, ca_path,
          "Vault-issued intermediates are not supported by vmesh: each mesh's intermediate key is generated in its "
          "cluster and signed by the VirtualMesh's root; use rootCertificateAuthority.generated (vmesh creates the "
          "root) or rootCertificateAuthority.secret (your root, or an intermediate of your PKI, in a hub Secret)");
      break;
    }
    case v1::SharedTrust::CERTIFICATE_AUTHORITY_NOT_SET:  // a generated root with default options
      root_ttl_is_default = true;
      root_ttl_days = kDefaultRootTtlDays;
      break;
  }

  if (!shared.has_intermediate_cert_options()) return;
  const v1::CommonCertOptions& options = shared.intermediate_cert_options();
  const std::string options_path = path + ".intermediateCertOptions";
  CheckCertOptions(out, options_path, options);
  const std::uint32_t ttl = options.ttl_days();
  if (root_ttl_days && ttl != 0 && ttl <= kMaxTtlDays && ttl > *root_ttl_days) {
    Add(out, options_path + ".ttlDays",
        std::to_string(ttl) + " days is longer than the root's " + std::to_string(*root_ttl_days) + " days" +
            (root_ttl_is_default ? " (the default)" : "") +
            ": an intermediate cannot outlive the root that signs it; lower it or raise "
            "rootCertificateAuthority.generated.ttlDays");
  }
}

void CheckMtlsConfig(Errors& out, const VirtualMeshSpec& spec, std::size_t mesh_count) {
  const std::string path = "spec.mtlsConfig";
  if (!spec.has_mtls_config()) {
    if (mesh_count >= 2) {
      Add(out, path,
          "required when a VirtualMesh has 2 or more meshes: set shared or limited (shared: one root CA signs "
          "every mesh's intermediate; limited: each mesh keeps its own CA)");
    }
    return;
  }
  const VirtualMeshSpec::MTLSConfig& mtls = spec.mtls_config();
  switch (mtls.trust_model_case()) {
    case VirtualMeshSpec::MTLSConfig::kShared:
      CheckSharedTrust(out, path + ".shared", mtls.shared());
      break;
    case VirtualMeshSpec::MTLSConfig::kLimited:
      break;
    case VirtualMeshSpec::MTLSConfig::TRUST_MODEL_NOT_SET:
      Add(out, path,
          "set shared or limited (shared: one root CA signs every mesh's intermediate; limited: each mesh keeps "
          "its own CA), or remove mtlsConfig");
      break;
  }
  if (mtls.has_rotation_verification_method() &&
      mtls.rotation_verification_method().method_case() == v1::CertificateRotationVerificationMethod::kManual) {
    Add(out, path + ".rotationVerificationMethod.manual",
        "not supported: vmesh moves a root rotation to its next phase only after every member mesh's agent "
        "acknowledges the current one, so there is no manual step; remove manual or set none");
  }
  if (!v1::CertificateRotationStrategy_IsValid(mtls.rotation_strategy())) {
    Add(out, path + ".rotationStrategy",
        "unknown value " + std::to_string(mtls.rotation_strategy()) + ": use MULTI_ROOT (the default) or NONE");
  }
}

// ---- Federation ----

std::string FormatDuration(const google::protobuf::Duration& d) {
  const bool negative = d.seconds() < 0 || d.nanos() < 0;
  const std::int64_t seconds = d.seconds() < 0 ? -d.seconds() : d.seconds();
  const std::int32_t nanos = d.nanos() < 0 ? -d.nanos() : d.nanos();
  std::string out = (negative ? "-" : "") + std::to_string(seconds);
  if (nanos != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, ".%09d", static_cast<int>(nanos));
    std::string fraction = buf;
    fraction.erase(fraction.find_last_not_of('0') + 1);
    out += fraction;
  }
  return out + "s";
}

void CheckKeepaliveDuration(Errors& out, const std::string& path, const google::protobuf::Duration& d) {
  const std::string shown = FormatDuration(d);
  if (d.seconds() < 0 || d.nanos() < 0 || (d.seconds() == 0 && d.nanos() == 0)) {
    Add(out, path, shown + " is not positive: set at least 1s, or remove it for the default");
  } else if (d.seconds() == 0) {
    Add(out, path, shown + " is too short: Envoy sets TCP keepalive in whole seconds, so set at least 1s");
  } else if (d.nanos() != 0) {
    Add(out, path,
        shown + " is not a whole number of seconds: Envoy sets TCP keepalive in whole seconds; use e.g. " +
            std::to_string(d.seconds()) + "s");
  } else if (d.seconds() > kMaxKeepaliveSeconds) {
    Add(out, path, shown + " is too long: the kernel accepts at most 32767s (about 9h)");
  }
}

void CheckFederation(Errors& out, const VirtualMeshSpec::Federation& federation, const MeshSet& members) {
  const std::string path = "spec.federation";
  if (federation.mode_case() == VirtualMeshSpec::Federation::kPermissive && federation.selectors_size() > 0) {
    Add(out, path + ".permissive",
        "set one of permissive (deprecated) or selectors, not both: permissive is the same as selectors: [{}]");
  }

  if (const std::string& suffix = federation.hostname_suffix(); !suffix.empty()) {
    if (auto problem = HostnameSuffixProblem(suffix)) {
      Add(out, path + ".hostnameSuffix", QuoteValue(suffix) + " is not a valid hostname suffix: " + *problem);
    }
  }

  for (int i = 0; i < federation.selectors_size(); ++i) {
    const auto& selector = federation.selectors(i);
    const std::string item = Item(path + ".selectors", i);
    for (int j = 0; j < selector.destination_selectors_size(); ++j) {
      CheckDestinationSelector(out, Item(item + ".destinationSelectors", j), selector.destination_selectors(j));
    }
    for (int j = 0; j < selector.meshes_size(); ++j) {
      CheckMemberRef(out, Item(item + ".meshes", j), selector.meshes(j), members);
    }
  }

  for (int i = 0; i < federation.east_west_ingress_gateway_selectors_size(); ++i) {
    const auto& selector = federation.east_west_ingress_gateway_selectors(i);
    const std::string item = Item(path + ".eastWestIngressGatewaySelectors", i);
    for (int j = 0; j < selector.destination_selectors_size(); ++j) {
      CheckDestinationSelector(out, Item(item + ".destinationSelectors", j), selector.destination_selectors(j));
    }
    if (const std::string& port = selector.port_name(); !port.empty()) {
      if (auto problem = IanaServiceNameProblem(port)) {
        Add(out, item + ".portName",
            QuoteValue(port) + " is not a valid port name: " + *problem +
                "; use the name of the gateway Service's TLS port, e.g. tls");
      }
    }
    for (int j = 0; j < selector.meshes_size(); ++j) {
      CheckMemberRef(out, Item(item + ".meshes", j), selector.meshes(j), members);
    }
  }

  if (federation.has_tcp_keepalive()) {
    const v1::TCPKeepalive& keepalive = federation.tcp_keepalive();
    const std::string keepalive_path = path + ".tcpKeepalive";
    if (keepalive.probes() > kMaxKeepaliveProbes) {
      Add(out, keepalive_path + ".probes",
          std::to_string(keepalive.probes()) + " is too many: the kernel accepts at most 127 keepalive probes");
    }
    if (keepalive.has_time()) CheckKeepaliveDuration(out, keepalive_path + ".time", keepalive.time());
    if (keepalive.has_interval()) CheckKeepaliveDuration(out, keepalive_path + ".interval", keepalive.interval());
  }
}

// Names the object on every error ("VirtualMesh vmesh/vm1"), when it has a name.
std::vector<FieldError> WithObject(Errors errors, std::string_view kind, const v1::ObjectMeta& meta) {
  if (meta.name().empty()) return errors;
  std::string object = std::string(kind) + " ";
  if (!meta.namespace_().empty()) object += meta.namespace_() + "/";
  object += meta.name();
  for (FieldError& error : errors) error.object = object;
  return errors;
}

std::string JoinMethods() {
  std::string out;
  for (std::string_view method : kHttpMethods) {
    if (!out.empty()) out += ", ";
    out += method;
  }
  return out;
}

}  // namespace

std::vector<FieldError> ValidateVirtualMesh(const v1::VirtualMesh& vm) {
  Errors out;
  CheckMetadata(out, vm.metadata(), "vm1");
  const MeshSet members = CheckMeshes(out, vm);
  CheckMtlsConfig(out, vm.spec(), members.size());
  if (vm.spec().has_federation()) CheckFederation(out, vm.spec().federation(), members);
  if (!VirtualMeshSpec::GlobalAccessPolicy_IsValid(vm.spec().global_access_policy())) {
    Add(out, "spec.globalAccessPolicy",
        "unknown value " + std::to_string(vm.spec().global_access_policy()) +
            ": use MESH_DEFAULT (the default), ENABLED or DISABLED");
  }
  return WithObject(std::move(out), "VirtualMesh", vm.metadata());
}

std::vector<FieldError> ValidateLabels(const std::string& path,
                                       const google::protobuf::Map<std::string, std::string>& labels) {
  Errors out;
  // Map iteration order is unspecified; report in key order so the output is stable.
  std::vector<std::pair<std::string_view, std::string_view>> sorted;
  sorted.reserve(labels.size());
  for (const auto& [key, value] : labels) sorted.emplace_back(key, value);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [key, value] : sorted) {
    const std::string entry = path + "[" + std::string(key) + "]";
    if (auto problem = LabelKeyProblem(key)) {
      Add(out, entry, QuoteValue(key) + " is not a valid label key: " + *problem);
    }
    if (auto problem = LabelValueProblem(value)) {
      Add(out, entry, QuoteValue(value) + " is not a valid label value: " + *problem);
    }
  }
  return out;
}

std::vector<FieldError> ValidateObjectMeta(const v1::ObjectMeta& meta, std::string_view example_name) {
  Errors out;
  CheckMetadata(out, meta, example_name);
  return out;
}

std::vector<FieldError> ValidateAccessPolicy(const v1::AccessPolicy& ap) {
  Errors out;
  CheckMetadata(out, ap.metadata(), "reviews-from-productpage");
  const v1::AccessPolicySpec& spec = ap.spec();
  for (int i = 0; i < spec.source_selector_size(); ++i) {
    CheckIdentitySelector(out, Item("spec.sourceSelector", i), spec.source_selector(i));
  }
  for (int i = 0; i < spec.destination_selector_size(); ++i) {
    CheckDestinationSelector(out, Item("spec.destinationSelector", i), spec.destination_selector(i));
  }
  for (int i = 0; i < spec.allowed_paths_size(); ++i) {
    const std::string& p = spec.allowed_paths(i);
    const std::string item = Item("spec.allowedPaths", i);
    if (p.empty()) {
      Add(out, item, "empty: use an Istio path such as /reviews (exact), /reviews/* (prefix), */info (suffix) or *");
    } else if (p.front() != '/' && p.front() != '*') {
      Add(out, item,
          QuoteValue(p) +
              " must start with '/' or '*' (Istio path syntax: /exact, /prefix/*, */suffix or * for any path)");
    }
  }
  for (int i = 0; i < spec.allowed_methods_size(); ++i) {
    const std::string& method = spec.allowed_methods(i);
    if (std::find(kHttpMethods.begin(), kHttpMethods.end(), method) != kHttpMethods.end()) continue;
    std::string upper = method;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; });
    std::string message = QuoteValue(method) + " is not an HTTP method: use one of " + JoinMethods();
    if (std::find(kHttpMethods.begin(), kHttpMethods.end(), upper) != kHttpMethods.end()) {
      message += " (methods are case-sensitive: write " + upper + ")";
    }
    Add(out, Item("spec.allowedMethods", i), std::move(message));
  }
  for (int i = 0; i < spec.allowed_ports_size(); ++i) {
    const std::uint32_t port = spec.allowed_ports(i);
    if (port == 0 || port > 65535) {
      Add(out, Item("spec.allowedPorts", i), std::to_string(port) + " is not a port number: use 1 to 65535");
    }
  }
  return WithObject(std::move(out), "AccessPolicy", ap.metadata());
}

}  // namespace vmesh::api
