// The kinds kubesim serves, and how they map onto REST paths and discovery documents.
//
// A ResourceType describes one REST resource (e.g. apps/v1 deployments). The registry is a plain table:
// built-in Kubernetes kinds come from BuiltinResourceTypes(); further kinds (Istio, vmesh CRDs) are added
// with Add() before the server starts. Not thread-safe for mutation; read-only use after setup is safe.
#pragma once

#include <string>
#include <vector>

namespace vmesh::kubesim {

// A column `kubectl get` shows for a custom resource (a CRD's additionalPrinterColumns).
struct PrinterColumn {
  std::string name;
  std::string type;       // "string", "integer", "number", "boolean", "date"
  std::string json_path;  // a simple dotted path such as ".spec.hosts"
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

  // "v1" for the core group, "apps/v1" otherwise.
  std::string GroupVersion() const { return group.empty() ? version : group + "/" + version; }
  // "deployments.apps" or "pods": how Kubernetes names the resource in error messages.
  std::string QualifiedResource() const { return group.empty() ? resource : resource + "." + group; }
};

class ResourceRegistry {
 public:
  // Adds a type; a type with the same group/version/resource replaces the earlier one.
  void Add(ResourceType type);

  const ResourceType* Find(const std::string& group, const std::string& version, const std::string& resource) const;
  // Looks a type up by apiVersion ("v1", "apps/v1") and kind.
  const ResourceType* FindByKind(const std::string& api_version, const std::string& kind) const;

  const std::vector<ResourceType>& types() const { return types_; }
  // Group names in registration order, "" (core) included when registered.
  std::vector<std::string> Groups() const;
  // Versions served for a group, highest Kubernetes priority (v1 > v1beta2 > v1beta1 > v1alpha1) first;
  // the first one is the preferred version.
  std::vector<std::string> Versions(const std::string& group) const;

 private:
  std::vector<ResourceType> types_;
};

// core/v1 (namespaces, pods, services, endpoints, configmaps, secrets, serviceaccounts, events), apps/v1
// (deployments, statefulsets, daemonsets, replicasets), discovery.k8s.io/v1 endpointslices and
// coordination.k8s.io/v1 leases.
std::vector<ResourceType> BuiltinResourceTypes();

// A registry holding BuiltinResourceTypes().
ResourceRegistry MakeBuiltinRegistry();

}  // namespace vmesh::kubesim
