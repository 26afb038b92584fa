#include "e2e/kubesim/resource_registry.h"

#include <algorithm>
#include <cctype>
#include <mutex>

namespace vmesh::kubesim {

ResourceRegistry::ResourceRegistry(const ResourceRegistry& other) : types_(other.types()) {}

ResourceRegistry& ResourceRegistry::operator=(const ResourceRegistry& other) {
  if (this == &other) return *this;
  std::vector<ResourceTypePtr> types = other.types();
  std::unique_lock lock(mu_);
  types_ = std::move(types);
  return *this;
}

void ResourceRegistry::Add(ResourceType type) {
  auto shared = std::make_shared<const ResourceType>(std::move(type));
  std::unique_lock lock(mu_);
  for (auto& existing : types_) {
    if (existing->group == shared->group && existing->version == shared->version &&
        existing->resource == shared->resource) {
      existing = std::move(shared);
      return;
    }
  }
  types_.push_back(std::move(shared));
}

namespace {

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// The first name of `wanted` that `existing` (another resource of the same group) already uses.
std::optional<ResourceRegistry::NameConflict> ConflictBetween(const ResourceType& wanted,
                                                              const ResourceType& existing) {
  auto in_use = [](const char* reason, const std::string& name) {
    return ResourceRegistry::NameConflict{reason, "\"" + name + "\" is already in use"};
  };
  const std::vector<std::string> existing_names = {existing.resource, existing.singular};
  if (Contains(existing_names, wanted.resource) || Contains(existing.short_names, wanted.resource)) {
    return in_use("PluralConflict", wanted.resource);
  }
  if (!wanted.singular.empty() &&
      (Contains(existing_names, wanted.singular) || Contains(existing.short_names, wanted.singular))) {
    return in_use("SingularConflict", wanted.singular);
  }
  for (const auto& short_name : wanted.short_names) {
    if (Contains(existing_names, short_name) || Contains(existing.short_names, short_name)) {
      return in_use("ShortNamesConflict", short_name);
    }
  }
  if (wanted.kind == existing.kind) return in_use("KindConflict", wanted.kind);
  if (wanted.kind + "List" == existing.kind) return in_use("ListKindConflict", wanted.kind + "List");
  return std::nullopt;
}

}  // namespace

std::optional<ResourceRegistry::NameConflict> ResourceRegistry::SetCustomResource(const std::string& crd_name,
                                                                                  std::vector<ResourceType> types) {
  std::vector<ResourceTypePtr> shared;
  for (auto& t : types) {
    t.crd_name = crd_name;
    shared.push_back(std::make_shared<const ResourceType>(std::move(t)));
  }
  std::unique_lock lock(mu_);
  for (const auto& wanted : shared) {
    for (const auto& existing : types_) {
      if (existing->crd_name == crd_name || existing->group != wanted->group) continue;
      if (auto conflict = ConflictBetween(*wanted, *existing)) return conflict;
    }
  }
  std::erase_if(types_, [&](const ResourceTypePtr& t) { return t->crd_name == crd_name; });
  types_.insert(types_.end(), shared.begin(), shared.end());
  return std::nullopt;
}

std::vector<ResourceTypePtr> ResourceRegistry::RemoveCustomResource(const std::string& crd_name) {
  std::vector<ResourceTypePtr> removed;
  std::unique_lock lock(mu_);
  for (auto it = types_.begin(); it != types_.end();) {
    if ((*it)->crd_name == crd_name && !crd_name.empty()) {
      removed.push_back(*it);
      it = types_.erase(it);
    } else {
      ++it;
    }
  }
  return removed;
}

ResourceTypePtr ResourceRegistry::Find(const std::string& group, const std::string& version,
                                       const std::string& resource) const {
  std::shared_lock lock(mu_);
  for (const auto& t : types_) {
    if (t->group == group && t->version == version && t->resource == resource) return t;
  }
  return nullptr;
}

ResourceTypePtr ResourceRegistry::FindByKind(const std::string& api_version, const std::string& kind) const {
  std::shared_lock lock(mu_);
  for (const auto& t : types_) {
    if (t->kind == kind && t->GroupVersion() == api_version) return t;
  }
  return nullptr;
}

std::vector<ResourceTypePtr> ResourceRegistry::types() const {
  std::shared_lock lock(mu_);
  return types_;
}

std::vector<std::string> ResourceRegistry::Groups() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> groups;
  for (const auto& t : types_) {
    if (std::find(groups.begin(), groups.end(), t->group) == groups.end()) groups.push_back(t->group);
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
  std::shared_lock lock(mu_);
  for (const auto& t : types_) {
    if (t->group == group && std::find(versions.begin(), versions.end(), t->version) == versions.end()) {
      versions.push_back(t->version);
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
      // What the Helm charts install (charts/): RBAC, disruption budgets, network policies. Stored, not enforced.
      {"rbac.authorization.k8s.io", "v1", "roles", "Role", "role", true, false, true, false, {}, {}},
      {"rbac.authorization.k8s.io",
       "v1",
       "rolebindings",
       "RoleBinding",
       "rolebinding",
       true,
       false,
       true,
       false,
       {},
       {}},
      {"rbac.authorization.k8s.io",
       "v1",
       "clusterroles",
       "ClusterRole",
       "clusterrole",
       false,
       false,
       true,
       false,
       {},
       {}},
      {"rbac.authorization.k8s.io",
       "v1",
       "clusterrolebindings",
       "ClusterRoleBinding",
       "clusterrolebinding",
       false,
       false,
       true,
       false,
       {},
       {}},
      {"policy",
       "v1",
       "poddisruptionbudgets",
       "PodDisruptionBudget",
       "poddisruptionbudget",
       true,
       true,
       true,
       false,
       {"pdb"},
       {}},
      {"networking.k8s.io",
       "v1",
       "networkpolicies",
       "NetworkPolicy",
       "networkpolicy",
       true,
       false,
       true,
       false,
       {"netpol"},
       {}},
      // Creating, changing or deleting one registers, changes or removes its kinds (custom_resources.h).
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
