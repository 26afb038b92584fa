#include "common/base/kinds.h"

#include <cctype>

namespace vmesh {
namespace {

constexpr unsigned kUserApi = kHubApi | kUserWritable;

constexpr KindInfo kKinds[] = {
    // kind, plural, group, version, namespaced, roles, short names
    {"VirtualMesh", "virtualmeshes", "networking.vmesh.dev", "v1", true, kUserApi, "vm vms"},
    {"AccessPolicy", "accesspolicies", "networking.vmesh.dev", "v1", true, kUserApi, "ap"},
    {"Secret", "secrets", "", "v1", true, kUserApi | kKubeBuiltin, ""},
    {"Mesh", "meshes", "discovery.vmesh.dev", "v1", true, kHubApi, ""},
    {"Destination", "destinations", "discovery.vmesh.dev", "v1", true, kHubApi, "dest"},
    {"Workload", "workloads", "discovery.vmesh.dev", "v1", true, kHubApi, ""},
    {"Cluster", "clusters", "discovery.vmesh.dev", "v1", true, kHubApi, ""},
    {"Certificate", "certificates", "", "", false, kHubApi, "cert certs"},

    {"ServiceEntry", "serviceentries", "networking.istio.io", "v1beta1", true, kIstioOutput, "se"},
    {"DestinationRule", "destinationrules", "networking.istio.io", "v1beta1", true, kIstioOutput, "dr"},
    {"Gateway", "gateways", "networking.istio.io", "v1beta1", true, kIstioOutput, "gw"},
    {"AuthorizationPolicy", "authorizationpolicies", "security.istio.io", "v1beta1", true, kIstioOutput, ""},
    {"VirtualService", "virtualservices", "networking.istio.io", "v1beta1", true, 0, "vs"},

    {"Namespace", "namespaces", "", "v1", false, kKubeBuiltin, "ns"},
    {"Node", "nodes", "", "v1", false, kKubeBuiltin, "no"},
    {"Pod", "pods", "", "v1", true, kKubeBuiltin, "po"},
    {"Service", "services", "", "v1", true, kKubeBuiltin, "svc"},
    {"Endpoints", "endpoints", "", "v1", true, kKubeBuiltin, "ep"},
    {"ConfigMap", "configmaps", "", "v1", true, kKubeBuiltin, "cm"},
    {"Deployment", "deployments", "apps", "v1", true, kKubeBuiltin, "deploy"},
    {"StatefulSet", "statefulsets", "apps", "v1", true, kKubeBuiltin, "sts"},
    {"DaemonSet", "daemonsets", "apps", "v1", true, kKubeBuiltin, "ds"},
    {"ReplicaSet", "replicasets", "apps", "v1", true, kKubeBuiltin, "rs"},
    {"CustomResourceDefinition", "customresourcedefinitions", "apiextensions.k8s.io", "v1", false, kKubeBuiltin,
     "crd crds"},
};

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool IsShortName(std::string_view spelling, std::string_view names) {
  while (!names.empty()) {
    const size_t space = names.find(' ');
    if (EqualsIgnoringCase(spelling, names.substr(0, space))) return true;
    if (space == std::string_view::npos) break;
    names.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace

std::string KindInfo::ApiVersion() const {
  return group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
}

std::span<const KindInfo> Kinds() { return kKinds; }

const KindInfo* FindKind(std::string_view kind) {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

const KindInfo* FindKindByPlural(std::string_view group, std::string_view plural) {
  for (const auto& k : kKinds) {
    if (k.group == group && k.plural == plural) return &k;
  }
  return nullptr;
}

const KindInfo* LookupKind(std::string_view spelling, unsigned roles) {
  if (spelling.empty()) return nullptr;
  for (const auto& k : kKinds) {
    if ((k.roles & roles) == 0) continue;
    if (EqualsIgnoringCase(spelling, k.kind) || EqualsIgnoringCase(spelling, k.plural) ||
        IsShortName(spelling, k.short_names)) {
      return &k;
    }
  }
  return nullptr;
}

std::string_view GroupOf(std::string_view api_version) {
  const size_t slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

bool IsOutputKind(std::string_view api_version, std::string_view kind) {
  const KindInfo* k = FindKind(kind);
  if (k == nullptr || (k->roles & kIstioOutput) == 0) return false;
  const size_t slash = api_version.find('/');
  if (slash == std::string_view::npos || api_version.substr(0, slash) != k->group) return false;
  const std::string_view version = api_version.substr(slash + 1);
  return version == "v1beta1" || version == "v1";
}

}  // namespace vmesh
