// SPEC §6: federation outputs — the Istio objects that make each federated destination reachable from the
// other meshes of a VirtualMesh. A pure function of (VirtualMesh spec, meshes, destinations): no I/O.
//
// For a destination D (Service svc.ns) of mesh M in cluster C, federated to mesh R:
//  - host "svc.ns.svc.C.<suffix>" (suffix = hostnameSuffix or "global"), VIP in 240.0.0.0/4 from a hash of
//    (svc, ns, C): stable across runs and hubs;
//  - in R's cluster (R's Istio namespace): ServiceEntry (MESH_INTERNAL, the VIP, one port per Service port,
//    endpoints = M's east-west gateway addresses on its TLS port, labelled tlsMode=istio plus the pods'
//    labels, one endpoint per distinct label set so subsets work; resolution DNS when an address is a host
//    name) and DestinationRule (ISTIO_MUTUAL, + tcpKeepalive);
//  - in C's cluster: a Gateway on M's east-west gateway (TLS AUTO_PASSTHROUGH for "*.<suffix>") and a local
//    ServiceEntry (exportTo ".", endpoints = pod IPs and target ports) + DestinationRule for the host;
//  - flatNetwork: no gateways; R's endpoints are the pod IPs and target ports.
// Every output carries app.kubernetes.io/managed-by=vmesh and networking.vmesh.dev/virtual-mesh=<ns>.<name>.
// networking.istio.io/v1beta1 is used unless the receiving mesh reports Istio >= 1.22 (then v1).
//
// TranslateDestination covers one destination, so a change to one Service recomputes only its outputs.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace vmesh::hub {

inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kVirtualMeshLabel[] = "networking.vmesh.dev/virtual-mesh";

struct Output {
  std::string cluster;
  std::string api_version;
  std::string kind;
  std::string namespace_;
  std::string name;
  boost::json::object object;  // the whole Kubernetes object

  // "<cluster>/<kind>/<namespace>/<name>": unique per VirtualMesh.
  std::string Key() const;
};

class FederationTranslator {
 public:
  // `meshes`: the VirtualMesh's active meshes (SPEC §4), keyed "<name>.<namespace>".
  FederationTranslator(std::string virtual_mesh_namespace, std::string virtual_mesh_name, api::v1::VirtualMeshSpec spec,
                       std::map<std::string, api::v1::Mesh> meshes);

  // The suffix of federated host names.
  const std::string& suffix() const { return suffix_; }

  // Keys of the meshes `destination` is federated to (never its own mesh).
  std::vector<std::string> Receivers(const api::v1::Destination& destination) const;

  // Every output for one destination (empty when it is federated nowhere or its mesh is not active).
  std::vector<Output> TranslateDestination(const api::v1::Destination& destination) const;

  // Per-mesh outputs (the east-west Gateway of each mesh whose destinations are federated).
  std::vector<Output> TranslateGateways(const std::vector<api::v1::Destination>& destinations) const;
  // The east-west Gateway of one mesh (by key), as TranslateGateways emits it once the mesh exports a destination;
  // nothing for a flat network or a mesh without a usable east-west gateway.
  std::optional<Output> TranslateGateway(const std::string& mesh_key) const;
  // The key of the mesh `destination` belongs to (its namespace defaulting to the VirtualMesh's).
  std::string SourceMeshKey(const api::v1::Destination& destination) const;

  // Everything, sorted by Key().
  std::vector<Output> TranslateAll(const std::vector<api::v1::Destination>& destinations) const;

 private:
  std::string vm_namespace_;
  std::string vm_name_;
  api::v1::VirtualMeshSpec spec_;
  std::map<std::string, api::v1::Mesh> meshes_;
  std::string suffix_;
};

// The federated host name and VIP of a destination.
std::string FederatedHost(const std::string& service, const std::string& ns, const std::string& cluster,
                          const std::string& suffix);
std::string FederatedVip(const std::string& service, const std::string& ns, const std::string& cluster);

// Whether a destination selector selects a destination (empty selector fields match anything).
bool SelectorMatches(const api::v1::DestinationSelector& selector, const api::v1::DestinationSpec& destination);

// The gateways that may carry a mesh's federated traffic: those chosen by the VirtualMesh's
// federation.eastWestIngressGatewaySelectors that apply to the mesh (among its east-west and ingress gateways,
// by Service name/namespace/cluster or workload labels, and TLS port name — default "tls"), else its discovered
// east-west gateways.
std::vector<const api::v1::GatewayInfo*> EastWestGatewayCandidates(const api::v1::VirtualMeshSpec& spec,
                                                                   const std::string& vm_namespace,
                                                                   const api::v1::Mesh& mesh);
// The first candidate other clusters can reach (an external address and a TLS port), or nullptr.
const api::v1::GatewayInfo* SelectEastWestGateway(const api::v1::VirtualMeshSpec& spec, const std::string& vm_namespace,
                                                  const api::v1::Mesh& mesh);

// Istio protocol for a Service port: appProtocol, else the name's prefix (http-foo -> HTTP), else TCP.
std::string IstioProtocol(const api::v1::ServicePort& port);

// Building blocks of the outputs, shared with the limited-trust translation (limited_federation.h).
// "networking.istio.io/v1" when `mesh` reports Istio >= 1.22, else "networking.istio.io/v1beta1".
std::string NetworkingApiVersion(const api::v1::Mesh& mesh);
bool IsIpLiteral(const std::string& address);
// The port's name, or "port-<number>" when it has none.
std::string ServicePortName(const api::v1::ServicePort& port);
// {name, namespace, labels: the vmesh labels with networking.vmesh.dev/virtual-mesh = vm_label}.
boost::json::object OutputMetadata(const std::string& name, const std::string& ns, const std::string& vm_label);
// A ServiceEntry's ports for the Service's ports (number, name, Istio protocol).
boost::json::array ServiceEntryPorts(const api::v1::DestinationSpec& destination);
// Adds connectionPool.tcp.tcpKeepalive to a DestinationRule trafficPolicy when federation.tcpKeepalive is set.
void AddTcpKeepalive(const api::v1::VirtualMeshSpec& spec, boost::json::object& traffic_policy);
Output MakeOutput(const std::string& cluster, const std::string& api_version, const std::string& kind,
                  boost::json::object metadata, boost::json::object spec);

}  // namespace vmesh::hub
