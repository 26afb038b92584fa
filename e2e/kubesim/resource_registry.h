// The kinds kubesim serves, and how they map onto REST paths and discovery documents.
//
// A ResourceType describes one REST resource (e.g. apps/v1 deployments). The registry is a table of them:
// built-in Kubernetes kinds come from BuiltinResourceTypes(); the kinds of CustomResourceDefinitions are added,
// replaced and removed while the server runs (custom_resources.h keeps them in step with the CRD objects).
//
// Thread-safe: every method may be called from any thread. Lookups hand out ResourceTypePtr, shared and
// immutable, so a type stays valid for whoever holds it even after a later Add or Remove replaces it.
#pragma once

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace vmesh::kubesim {

// A compiled openAPIV3Schema of one custom resource version (custom_resources.h).
struct CustomResourceSchema;

// A column `kubectl get` shows for a custom resource (a CRD's additionalPrinterColumns).
struct PrinterColumn {
  std::string name;
  std::string type;       // "string", "integer", "number", "boolean", "date"
  std::string json_path;  // a simple JSONPath such as ".spec.hosts", ".spec.ports[0].name", ".spec.hosts[*]"
  int priority = 0;       // 0: always shown; higher: with -o wide
};

struct ResourceType {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural, lower case: "deployments"
  std::string kind;      // "Deployment"
  std::string singular;  // "deployment"
  bool namespaced = true;
  bool has_status = false;  // serves the /status subresource; the main resource then ignores status changes
  bool builtin = true;      // a Kubernetes built-in kind (strategic merge patch applies); false for CRDs
  bool has_scale = false;   // serves the /scale subresource (autoscaling/v1 Scale over spec.replicas)
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<PrinterColumn> printer_columns;  // custom resources only; empty: NAME and AGE
  // Custom resources: the CustomResourceDefinition that defines the type ("widgets.example.com"), empty for
  // built-ins; the served version's schema (null: none, nothing is validated or pruned).
  std::string crd_name;
  std::shared_ptr<const CustomResourceSchema> schema;
  bool storage = false;  // the CRD's storage version

  // "v1" for the core group, "apps/v1" otherwise.
  std::string GroupVersion() const { return group.empty() ? version : group + "/" + version; }
  // "deployments.apps" or "pods": how Kubernetes names the resource in error messages.
  std::string QualifiedResource() const { return group.empty() ? resource : resource + "." + group; }
};

using ResourceTypePtr = std::shared_ptr<const ResourceType>;

class ResourceRegistry {
 public:
  ResourceRegistry() = default;
  ResourceRegistry(const ResourceRegistry& other);
  ResourceRegistry& operator=(const ResourceRegistry& other);

  // Adds a type; a type with the same group/version/resource replaces the earlier one.
  void Add(ResourceType type);

  // Replaces the types of CustomResourceDefinition `crd_name` (all with that crd_name) with `types`, unless
  // one of their names is already taken in the group by another resource: a plural, singular, kind, listKind
  // or short name of a built-in or another CRD's type (then nothing changes and the conflict is returned, in
  // the words of kube-apiserver's naming controller: reason PluralConflict, `"widgets" is already in use`).
  struct NameConflict {
    std::string reason;  // "PluralConflict", "SingularConflict", "ShortNamesConflict", "KindConflict", ...
    std::string message;
  };
  std::optional<NameConflict> SetCustomResource(const std::string& crd_name, std::vector<ResourceType> types);
  // Removes the types of `crd_name` and returns them.
  std::vector<ResourceTypePtr> RemoveCustomResource(const std::string& crd_name);

  ResourceTypePtr Find(const std::string& group, const std::string& version, const std::string& resource) const;
  // Looks a type up by apiVersion ("v1", "apps/v1") and kind.
  ResourceTypePtr FindByKind(const std::string& api_version, const std::string& kind) const;

  // A snapshot of every type, in registration order.
  std::vector<ResourceTypePtr> types() const;
  // Group names in registration order, "" (core) included when registered.
  std::vector<std::string> Groups() const;
  // Versions served for a group, highest Kubernetes priority (v1 > v1beta2 > v1beta1 > v1alpha1) first;
  // the first one is the preferred version.
  std::vector<std::string> Versions(const std::string& group) const;

 private:
  mutable std::shared_mutex mu_;
  std::vector<ResourceTypePtr> types_;  // guarded by mu_
};

// core/v1 (namespaces, pods, services, endpoints, configmaps, secrets, serviceaccounts, events), apps/v1
// (deployments, statefulsets, daemonsets, replicasets), discovery.k8s.io/v1 endpointslices and
// coordination.k8s.io/v1 leases.
std::vector<ResourceType> BuiltinResourceTypes();

// A registry holding BuiltinResourceTypes().
ResourceRegistry MakeBuiltinRegistry();

}  // namespace vmesh::kubesim
