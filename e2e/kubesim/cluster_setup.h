// Setting up a kubesim cluster: its initial namespaces, seed manifests, and the kubeconfig that points
// clients at it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"

namespace vmesh::kubesim {

// The address ranges of cluster number `index` (--cluster-index), so that clusters side by side differ the
// way real ones do. index 1-127: pods 10.N.x.y, services 10.(128+N).x.y, LoadBalancer Services
// 172.18.k.N (k: 0 for the first one that needs an address, then 1, ...). index 0: pods 10.244.x.y,
// services 10.96.x.y, LoadBalancers 172.18.k.254.
struct ClusterNetwork {
  std::string pod_ip_prefix;      // two octets, e.g. "10.3"
  std::string service_ip_prefix;  // two octets, e.g. "10.131"
  int load_balancer_last_octet = 254;

  // The k-th LoadBalancer ingress IP (k from 0).
  std::string LoadBalancerIp(uint32_t k) const;
};
ClusterNetwork ClusterNetworkFor(int index);

// Creates the namespaces every cluster starts with: default, kube-system, kube-public, kube-node-lease.
Status CreateSystemNamespaces(ObjectStore& store);

// Loads a seed: multi-document YAML (documents may be `kind: List`) whose `${NAME}` placeholders are
// replaced from `vars` first. Namespaces are created before other objects, and a namespace an object
// refers to is created when no document declares it. Objects keep their status as written (seeds describe
// a cluster as controllers left it). Objects without a namespace go to "default". A CustomResourceDefinition
// is served from then on, as one created through the API (SyncCustomResourceDefinition; this is how --crds
// loads them), so later documents may be of its kind. Fails, naming the document, on an unknown kind, an
// invalid CRD or an object the store rejects; objects before that stay loaded.
Status LoadSeed(ObjectStore& store, ResourceRegistry& registry, std::string_view yaml,
                const std::vector<std::pair<std::string, std::string>>& vars);

// Registers the kinds that CustomResourceDefinitions in `yaml` (multi-document) define, without storing the
// CRD objects (LoadSeed does both): one ResourceType per served version, as CustomResourceTypes() reads
// them. Fails, naming the document, on a document that is not a valid v1 CRD or whose names are taken.
Status RegisterCustomResources(ResourceRegistry& registry, std::string_view yaml);

// A kubeconfig with one cluster, user and context named `name`, pointing at `server_url`; the user
// authenticates with `token` when it is not empty; with `ca_pem`, the cluster entry carries it as
// certificate-authority-data (for an https:// server).
std::string KubeconfigYaml(const std::string& name, const std::string& server_url, const std::string& token = "",
                           const std::string& ca_pem = "");

}  // namespace vmesh::kubesim
