// Discovery of Istio installations in one cluster (SPEC §3.3), as a pure function of Kubernetes objects.
//
// A mesh is an istiod Deployment (label app=istiod), one per revision (label istio.io/rev). For each:
//  - name "istiod-<namespace>-<cluster>" ("istiod-<rev>-<namespace>-<cluster>" for a non-default revision);
//  - version from the istiod container image tag (docker.io/istio/pilot:1.20.3 -> 1.20.3), falling back to
//    the label operator.istio.io/version; CA hot reload when the version is 1.19 or later;
//  - istiod service account from the pod template (default "istiod");
//  - trust domain and smart DNS from the mesh config: ConfigMap "istio" ("istio-<rev>") in the same
//    namespace, key "mesh" (YAML): trustDomain (default cluster.local) and
//    defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE == "true";
//  - network from the namespace label topology.istio.io/network;
//  - gateways: Services selecting istio=eastwestgateway (east-west) or istio=ingressgateway (ingress), of
//    the mesh's revision (their istio.io/rev label, none = default); the TLS port is the one named "tls" or
//    numbered 15443; remote clusters dial its LoadBalancer port, or its NodePort on the nodes' addresses
//    (when no Node can be read — RBAC may forbid it — on the host IPs of the gateway's pods; with neither, on
//    its spec.externalIPs and Service port, which is also what other Service types offer on externalIPs).
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "common/base/version.h"
#include "vmesh/api/v1/discovery.pb.h"

namespace vmesh::agent {

struct ClusterSnapshot {
  std::string cluster;
  // Namespace of the Mesh objects in the hub.
  std::string hub_namespace = "vmesh";
  std::vector<boost::json::object> deployments;
  std::vector<boost::json::object> config_maps;
  std::vector<boost::json::object> services;
  std::vector<boost::json::object> namespaces;
  std::vector<boost::json::object> nodes;
  // For destinations and workloads (agent/discovery/service_discovery.h); DiscoverMeshes uses the pods only
  // for the host IPs of NodePort gateways when there are no nodes.
  std::vector<boost::json::object> pods;
  std::vector<boost::json::object> endpoints;
};

// Meshes ordered by name. Objects that do not look like Istio are ignored; malformed ones never throw.
std::vector<api::v1::Mesh> DiscoverMeshes(const ClusterSnapshot& snapshot);

// The addresses remote clusters reach NodePorts on: the nodes' ExternalIPs, else their InternalIPs.
std::vector<std::string> NodeAddresses(const std::vector<boost::json::object>& nodes);

// "1.20.3" from an image reference; empty when the tag is not a version.
std::string IstioVersionFromImage(const std::string& image);
using vmesh::VersionAtLeast;

}  // namespace vmesh::agent
