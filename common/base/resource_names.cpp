#include "common/base/resource_names.h"

namespace vmesh {
namespace {

constexpr std::string_view kKubePrefix = "kube/";
constexpr std::string_view kCertPrefix = "cert/";
constexpr std::string_view kRestartPrefix = "restart/";
constexpr std::string_view kGatewayCertPrefix = "gwcert/";
constexpr std::string_view kMeshPrefix = "istiod-";
constexpr std::string_view kStatePrefix = "vmesh-ca-";
constexpr std::string_view kSpiffe = "spiffe://";

std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string KubeResourceName(std::string_view api_version, std::string_view kind, std::string_view ns,
                             std::string_view name) {
  return Cat({kKubePrefix, api_version, "/", kind, "/", ns, "/", name});
}

Result<KubeObjectRef> ParseKubeResourceName(std::string_view resource_name) {
  if (!StartsWith(resource_name, kKubePrefix)) {
    return MakeError("resource \"" + std::string(resource_name) + "\" is not a Kubernetes object (kube/...)",
                     ErrorCode::kInvalidArgument);
  }
  auto malformed = [&] {
    return MakeError(
        "resource \"" + std::string(resource_name) + "\" is not kube/<apiVersion>/<kind>/<namespace>/<name>",
        ErrorCode::kInvalidArgument);
  };
  // The API version may contain a slash (group/version); kind, namespace and name never do.
  std::string_view rest = resource_name.substr(kKubePrefix.size());
  std::string parts[3];
  for (int i = 2; i >= 0; --i) {
    const size_t slash = rest.rfind('/');
    if (slash == std::string_view::npos) return malformed();
    parts[i] = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  KubeObjectRef ref{std::string(rest), std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
  if (ref.api_version.empty() || ref.kind.empty() || ref.name.empty()) return malformed();
  return ref;
}

std::string CertResourceName(std::string_view mesh) { return Cat({kCertPrefix, mesh}); }
std::string RestartResourceName(std::string_view mesh) { return Cat({kRestartPrefix, mesh}); }
std::string GatewayCertResourceName(std::string_view mesh, std::string_view role) {
  return Cat({kGatewayCertPrefix, mesh, "/", role});
}

LinkResourceType LinkResourceTypeOf(std::string_view resource_name) {
  if (StartsWith(resource_name, kKubePrefix)) return LinkResourceType::kKube;
  if (StartsWith(resource_name, kCertPrefix)) return LinkResourceType::kCert;
  if (StartsWith(resource_name, kRestartPrefix)) return LinkResourceType::kRestart;
  if (StartsWith(resource_name, kGatewayCertPrefix)) return LinkResourceType::kGatewayCert;
  return LinkResourceType::kUnknown;
}

std::string MeshOfResourceName(std::string_view resource_name) {
  for (std::string_view prefix : {kCertPrefix, kRestartPrefix}) {
    if (StartsWith(resource_name, prefix)) return std::string(resource_name.substr(prefix.size()));
  }
  if (StartsWith(resource_name, kGatewayCertPrefix)) {
    std::string_view rest = resource_name.substr(kGatewayCertPrefix.size());
    const auto slash = rest.rfind('/');
    return slash == std::string_view::npos ? "" : std::string(rest.substr(0, slash));
  }
  return "";
}

std::string ObjectKey(std::string_view ns, std::string_view name) {
  return ns.empty() ? std::string(name) : Cat({ns, "/", name});
}

ObjectKeyParts ParseObjectKey(std::string_view key) {
  const size_t slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

std::string OutputKey(std::string_view api_version, std::string_view kind, std::string_view ns, std::string_view name) {
  const size_t slash = api_version.find('/');
  const std::string_view group = slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
  return Cat({group, "/", kind, "/", ns, "/", name});
}

std::string DiscoveredMeshName(std::string_view cluster, std::string_view installation_namespace,
                               std::string_view revision) {
  const bool default_revision = revision.empty() || revision == "default";
  return default_revision ? Cat({kMeshPrefix, installation_namespace, "-", cluster})
                          : Cat({kMeshPrefix, revision, "-", installation_namespace, "-", cluster});
}

std::optional<std::string> RevisionOfDiscoveredMeshName(std::string_view mesh, std::string_view cluster,
                                                        std::string_view installation_namespace) {
  const std::string suffix = Cat({installation_namespace, "-", cluster});
  if (!StartsWith(mesh, kMeshPrefix) || !EndsWith(mesh, suffix)) return std::nullopt;
  std::string_view middle = mesh.substr(kMeshPrefix.size());
  if (middle.size() < suffix.size()) return std::nullopt;
  middle.remove_suffix(suffix.size());
  if (middle.empty()) return std::string();
  if (middle.size() < 2 || middle.back() != '-') return std::nullopt;
  middle.remove_suffix(1);
  if (middle == "default") return std::nullopt;  // never built: the default revision is left out
  return std::string(middle);
}

std::string MeshKey(std::string_view mesh, std::string_view ns) { return Cat({mesh, ".", ns}); }

std::optional<ObjectKeyParts> ParseMeshKey(std::string_view key) {
  const size_t dot = key.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  return ObjectKeyParts{std::string(key.substr(dot + 1)), std::string(key.substr(0, dot))};
}

std::string AgentSpiffeId(std::string_view hub_name, std::string_view cluster) {
  return Cat({kSpiffe, hub_name, "/cluster/", cluster});
}

std::optional<std::string> ClusterOfAgentSpiffeId(std::string_view hub_name, std::string_view uri) {
  const std::string prefix = Cat({kSpiffe, hub_name, "/cluster/"});
  if (!StartsWith(uri, prefix)) return std::nullopt;
  return std::string(uri.substr(prefix.size()));
}

std::string AdminSpiffeId(std::string_view hub_name) { return Cat({kSpiffe, hub_name, "/admin"}); }

std::string IstiodSpiffeId(std::string_view trust_domain, std::string_view ns, std::string_view service_account) {
  return Cat({kSpiffe, trust_domain, "/ns/", ns, "/sa/", service_account});
}

std::string CertStateSecretName(std::string_view mesh) { return Cat({kStatePrefix, mesh}); }

std::optional<std::string> MeshOfCertStateSecretName(std::string_view secret_name) {
  if (!StartsWith(secret_name, kStatePrefix) || secret_name.size() == kStatePrefix.size()) return std::nullopt;
  return std::string(secret_name.substr(kStatePrefix.size()));
}

}  // namespace vmesh
