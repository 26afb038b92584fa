// The names vmesh gives the things it writes or identifies, each built and parsed here only:
//  - link resources, the names in a cluster's resource set (hub -> agent): "kube/<apiVersion>/<kind>/<namespace>/
//    <name>" (an output object), "cert/<mesh>" (a CertificateDirective), "restart/<mesh>" (a RestartDirective),
//    "gwcert/<mesh>/<ingress|egress>" (a GatewayCertificateDirective, limited trust);
//  - object keys "<namespace>/<name>" ("<name>" when cluster-scoped), as informers, discovery reports and
//    VirtualMesh status keys use them;
//  - output keys "<group>/<kind>/<namespace>/<name>", the agent's prune identity of an output (any version);
//  - discovered mesh names "istiod-[<revision>-]<namespace>-<cluster>", and mesh keys "<mesh>.<namespace>" (how a
//    VirtualMesh's status and the hub's reports name a mesh);
//  - SPIFFE identities: the agent's "spiffe://<hub>/cluster/<cluster>", the admin's "spiffe://<hub>/admin", an
//    istiod's "spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>";
//  - the agent's objects: Secret "vmesh-ca-<mesh>" (its certificate state), Secret "cacerts" and ConfigMap
//    "istio-ca-root-cert" (Istio's).
// Pure string functions: no validation of the parts beyond what parsing needs (callers validate names).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace vmesh {

// --- link resources ---

enum class LinkResourceType { kKube, kCert, kRestart, kGatewayCert, kUnknown };

struct KubeObjectRef {
  std::string api_version, kind, ns, name;
  bool operator==(const KubeObjectRef&) const = default;
};

std::string KubeResourceName(std::string_view api_version, std::string_view kind, std::string_view ns,
                             std::string_view name);
inline std::string KubeResourceName(const KubeObjectRef& ref) {
  return KubeResourceName(ref.api_version, ref.kind, ref.ns, ref.name);
}
// Fails, quoting the name, for anything but kube/<apiVersion>/<kind>/<namespace>/<name> with a non-empty
// apiVersion, kind and name (the namespace is empty for cluster-scoped objects; apiVersion may hold a '/').
Result<KubeObjectRef> ParseKubeResourceName(std::string_view resource_name);

std::string CertResourceName(std::string_view mesh);
std::string RestartResourceName(std::string_view mesh);
// "gwcert/<mesh>/<role>", role "ingress" or "egress" (api::GatewayRoleName).
std::string GatewayCertResourceName(std::string_view mesh, std::string_view role);

LinkResourceType LinkResourceTypeOf(std::string_view resource_name);
// The mesh a "cert/<mesh>", "restart/<mesh>" or "gwcert/<mesh>/<role>" resource names; "" for any other resource (kube
// outputs concern every mesh of their cluster).
std::string MeshOfResourceName(std::string_view resource_name);

// --- object keys ---

struct ObjectKeyParts {
  std::string ns, name;
  bool operator==(const ObjectKeyParts&) const = default;
};

// "<namespace>/<name>", or "<name>" when `ns` is empty.
std::string ObjectKey(std::string_view ns, std::string_view name);
// The inverse: "a/b" -> {a, b}; "b" -> {"", b}.
ObjectKeyParts ParseObjectKey(std::string_view key);

// "<group>/<kind>/<namespace>/<name>" (group "" for the core group): the same object in any version.
std::string OutputKey(std::string_view api_version, std::string_view kind, std::string_view ns, std::string_view name);

// --- discovered meshes ---

// "istiod-[<revision>-]<namespace>-<cluster>"; the revision is left out when empty or "default".
std::string DiscoveredMeshName(std::string_view cluster, std::string_view installation_namespace,
                               std::string_view revision);
// The revision ("" for the default one) of a mesh name built by DiscoveredMeshName for this cluster and namespace,
// or nullopt when `mesh` is not such a name.
std::optional<std::string> RevisionOfDiscoveredMeshName(std::string_view mesh, std::string_view cluster,
                                                        std::string_view installation_namespace);

// "<mesh>.<namespace>" (mesh names and namespaces hold no '.').
std::string MeshKey(std::string_view mesh, std::string_view ns);
// The inverse, split at the first '.'; nullopt without one.
std::optional<ObjectKeyParts> ParseMeshKey(std::string_view key);

// --- SPIFFE identities ---

std::string AgentSpiffeId(std::string_view hub_name, std::string_view cluster);
// The cluster of an agent identity of `hub_name`, or nullopt (another hub's, an admin's, or no agent's).
std::optional<std::string> ClusterOfAgentSpiffeId(std::string_view hub_name, std::string_view uri);
std::string AdminSpiffeId(std::string_view hub_name);
std::string IstiodSpiffeId(std::string_view trust_domain, std::string_view ns, std::string_view service_account);

// --- the agent's objects ---

inline constexpr std::string_view kCacertsSecretName = "cacerts";
inline constexpr std::string_view kIstioRootCertConfigMapName = "istio-ca-root-cert";

// Secret "vmesh-ca-<mesh>" in the agent's state namespace.
std::string CertStateSecretName(std::string_view mesh);
// The mesh of a CertStateSecretName, or nullopt.
std::optional<std::string> MeshOfCertStateSecretName(std::string_view secret_name);

}  // namespace vmesh
