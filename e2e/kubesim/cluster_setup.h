// Setting up a kubesim cluster: its initial namespaces, seed manifests, and the kubeconfig that points
// clients at it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"

namespace vmesh::kubesim {

// Creates the namespaces every cluster starts with: default, kube-system, kube-public, kube-node-lease.
Status CreateSystemNamespaces(ObjectStore& store);

// Loads a seed: multi-document YAML (documents may be `kind: List`) whose `${NAME}` placeholders are
// replaced from `vars` first. Namespaces are created before other objects, and a namespace an object
// refers to is created when no document declares it. Objects keep their status as written (seeds describe
// a cluster as controllers left it). Objects without a namespace go to "default". Fails, naming the
// document, on an unknown kind or an object the store rejects; objects before that stay loaded.
Status LoadSeed(ObjectStore& store, const ResourceRegistry& registry, std::string_view yaml,
                const std::vector<std::pair<std::string, std::string>>& vars);

// Registers the kinds that CustomResourceDefinitions in `yaml` (multi-document) define: one ResourceType
// per served version, with the status subresource where the CRD declares it. The CRD objects themselves
// are not stored. Fails, naming the document, on a document that is not a well-formed v1 CRD.
Status RegisterCustomResources(ResourceRegistry& registry, std::string_view yaml);

// A kubeconfig with one cluster, user and context named `name`, pointing at `server_url`; the user
// authenticates with `token` when it is not empty.
std::string KubeconfigYaml(const std::string& name, const std::string& server_url, const std::string& token = "");

}  // namespace vmesh::kubesim
