// ServiceController: what kube-controller-manager's endpoints controller and a cloud load-balancer
// controller do for Services.
//
//  - Endpoints (core/v1) named after every Service with a selector: the ready pods it selects (Running,
//    Ready, with a pod IP) under subsets[].addresses, the others under notReadyAddresses, each with
//    nodeName and a targetRef to the pod; ports with the Service port's name and protocol and the target
//    port (a named targetPort is resolved against the pods' container ports). Endpoints that this
//    controller wrote are deleted with their Service.
//  - An EndpointSlice (discovery.k8s.io/v1) `<service>-kubesim` per such Service, as the EndpointSlice
//    controller writes it: labels kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by,
//    an ownerReference to the Service, addressType IPv4, one endpoint per pod with an IP (conditions
//    ready/serving/terminating, nodeName, targetRef), the same ports (unnamed ones with name "").
//  - LoadBalancer Services without status.loadBalancer.ingress get an external IP from the cluster's
//    network (cluster_setup.h: 172.18.k.N), as a cloud provider would.
//
// Level-based like WorkloadController; not thread-safe (one thread calls Reconcile()).
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "e2e/kubesim/cluster_setup.h"
#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"

namespace vmesh::kubesim {

class ServiceController {
 public:
  ServiceController(const ResourceRegistry& registry, ObjectStore& store, ClusterNetwork network);

  // One pass; never asks for a timed pass (pod readiness changes are store changes).
  std::optional<std::chrono::steady_clock::time_point> Reconcile();

 private:
  // `pods`: the pods of the Service's namespace.
  void ReconcileEndpoints(const boost::json::object& service, const std::vector<ObjectPtr>& pods);
  // The EndpointSlice `<service>-kubesim` with the same pods and ports.
  void WriteEndpointSlice(const boost::json::object& service, boost::json::array endpoints, boost::json::array ports);
  void AssignLoadBalancerIp(const boost::json::object& service);
  static std::string SliceName(const std::string& service);

  // Copies: the registry may replace or remove its entries while kubesim runs.
  const ResourceType services_;
  const ResourceType endpoints_;
  const ResourceType endpoint_slices_;
  const ResourceType pods_;
  ObjectStore& store_;
  ClusterNetwork network_;
  uint32_t next_load_balancer_ = 0;
  std::set<std::pair<std::string, std::string>> managed_;  // Endpoints (namespace, name) written here
};

}  // namespace vmesh::kubesim
