#include "e2e/kubesim/resource_registry.h"

#include <algorithm>
#include <cctype>

namespace vmesh::kubesim {

void ResourceRegistry::Add(ResourceType type) {
  for (auto& existing : types_) {
    if (existing.group == type.group && existing.version == type.version && existing.resource == type.resource) {
      existing = std::move(type);
      return;
    }
  }
  types_.push_back(std::move(type));
}

const ResourceType* ResourceRegistry::Find(const std::string& group, const std::string& version,
                                           const std::string& resource) const {
  for (const auto& t : types_) {
    if (t.group == group && t.version == version && t.resource == resource) return &t;
  }
  return nullptr;
}

const ResourceType* ResourceRegistry::FindByKind(const std::string& api_version, const std::string& kind) const {
  for (const auto& t : types_) {
    if (t.kind == kind && t.GroupVersion() == api_version) return &t;
  }
  return nullptr;
}

std::vector<std::string> ResourceRegistry::Groups() const {
  std::vector<std::string> groups;
  for (const auto& t : types_) {
    if (std::find(groups.begin(), groups.end(), t.group) == groups.end()) groups.push_back(t.group);
  }
  return groups;
}

namespace {

// Kubernetes' version priority: GA before beta before alpha, higher numbers first, anything else last
// in alphabetical order (k8s.io/apimachinery/pkg/version.CompareKubeAwareVersionStrings).
struct KubeVersion {
  int stage = -1;  // 2 GA, 1 beta, 0 alpha, -1 not a Kubernetes-style version
  int major = 0;
  int minor = 0;
};

KubeVersion ParseKubeVersion(const std::string& v) {
  KubeVersion parsed;
  if (v.size() < 2 || v[0] != 'v' || !std::isdigit(static_cast<unsigned char>(v[1]))) return parsed;
  size_t i = 1;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])))
    parsed.major = parsed.major * 10 + (v[i++] - '0');
  if (i == v.size()) {
    parsed.stage = 2;
    return parsed;
  }
  std::string rest = v.substr(i);
  size_t digits = rest.starts_with("beta") ? 4 : rest.starts_with("alpha") ? 5 : 0;
  if (digits == 0 || digits == rest.size()) return parsed;
  for (size_t j = digits; j < rest.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(rest[j]))) return parsed;
    parsed.minor = parsed.minor * 10 + (rest[j] - '0');
  }
  parsed.stage = digits == 4 ? 1 : 0;
  return parsed;
}

bool HigherPriority(const std::string& a, const std::string& b) {
  KubeVersion va = ParseKubeVersion(a), vb = ParseKubeVersion(b);
  if (va.stage != vb.stage) return va.stage > vb.stage;
  if (va.stage < 0) return a < b;
  if (va.major != vb.major) return va.major > vb.major;
  return va.minor > vb.minor;
}

}  // namespace

std::vector<std::string> ResourceRegistry::Versions(const std::string& group) const {
  std::vector<std::string> versions;
  for (const auto& t : types_) {
    if (t.group == group && std::find(versions.begin(), versions.end(), t.version) == versions.end()) {
      versions.push_back(t.version);
    }
  }
  std::sort(versions.begin(), versions.end(), HigherPriority);
  return versions;
}

std::vector<ResourceType> BuiltinResourceTypes() {
  // group, version, resource, kind, singular, namespaced, has_status, builtin, has_scale, short names,
  // categories
  std::vector<ResourceType> types = {
      {"", "v1", "namespaces", "Namespace", "namespace", false, true, true, false, {"ns"}, {}},
      {"", "v1", "pods", "Pod", "pod", true, true, true, false, {"po"}, {"all"}},
      {"", "v1", "services", "Service", "service", true, true, true, false, {"svc"}, {"all"}},
      {"", "v1", "endpoints", "Endpoints", "endpoints", true, false, true, false, {"ep"}, {}},
      {"", "v1", "configmaps", "ConfigMap", "configmap", true, false, true, false, {"cm"}, {}},
      {"", "v1", "secrets", "Secret", "secret", true, false, true, false, {}, {}},
      {"", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", true, false, true, false, {"sa"}, {}},
      {"", "v1", "events", "Event", "event", true, false, true, false, {"ev"}, {}},
      {"apps", "v1", "deployments", "Deployment", "deployment", true, true, true, true, {"deploy"}, {"all"}},
      {"apps", "v1", "statefulsets", "StatefulSet", "statefulset", true, true, true, true, {"sts"}, {"all"}},
      {"apps", "v1", "daemonsets", "DaemonSet", "daemonset", true, true, true, false, {"ds"}, {"all"}},
      {"apps", "v1", "replicasets", "ReplicaSet", "replicaset", true, true, true, true, {"rs"}, {"all"}},
      {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", "endpointslice", true, false, true, false, {}, {}},
      {"coordination.k8s.io", "v1", "leases", "Lease", "lease", true, false, true, false, {}, {}},
      // The objects of --crds are stored as well, so that clients (the agent) can read a cluster's schemas.
      {"apiextensions.k8s.io",
       "v1",
       "customresourcedefinitions",
       "CustomResourceDefinition",
       "customresourcedefinition",
       false,
       true,
       true,
       false,
       {"crd", "crds"},
       {}},
  };
  return types;
}

ResourceRegistry MakeBuiltinRegistry() {
  ResourceRegistry registry;
  for (auto& t : BuiltinResourceTypes()) registry.Add(std::move(t));
  return registry;
}

}  // namespace vmesh::kubesim
