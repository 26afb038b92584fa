// SPEC §8 (with §6, §7): federation outputs under limited trust (`mtlsConfig.limited`). A pure function of
// (VirtualMesh spec, meshes, destinations, AccessPolicies): no I/O.
//
// Each mesh keeps its own CA, so a sidecar cannot talk Istio mTLS to a workload of another mesh. Cross-cluster
// traffic takes four hops:
//   client sidecar --ISTIO_MUTUAL (client mesh CA)--> local egress gateway
//     --MUTUAL (VirtualMesh gateway certificates)--> remote ingress (east-west) gateway
//     --ISTIO_MUTUAL (server mesh CA)--> destination.
//
// Hosts and VIPs are those of shared trust (FederatedHost/FederatedVip, receivers as FederationTranslator decides).
// For destination D (Service svc.ns, ports p…) of mesh M in cluster C, with host H, federated to mesh R:
//  - "leg host" L(p) = "p<port>.H": the SNI of both gateway hops, one per Service port, because a gateway that
//    terminates TLS can route a TCP stream only by the server (SNI) it arrived on;
//  - in R's cluster, objects in R's egress gateway namespace (E = its Service FQDN, P_e = its TLS port):
//      ServiceEntry H        hosts [H], addresses [VIP], MESH_INTERNAL, D's ports, endpoints = M's east-west
//                            gateway addresses on its external TLS port (no tlsMode label: not Istio mTLS);
//      VirtualService H      gateways [mesh]: each port p (http/tls/tcp route by protocol) -> E:P_e subset S(p);
//      DestinationRule vmesh-egress-H   host E, subsets S(p) with tls ISTIO_MUTUAL, sni L(p) (sidecar -> egress;
//                            Istio merges the subsets of every DestinationRule for E);
//      Gateway vmesh-egress-H           on the egress workload: per port a server on P_e, hosts [L(p)],
//                            tls ISTIO_MUTUAL;
//      VirtualService vmesh-egress-<port>-H  hosts [L(p)], gateways [that Gateway]: tcp -> H:p;
//      DestinationRule H     exportTo ["."] (only the egress gateway uses it): per port tls MUTUAL,
//                            credentialName vmesh-gateway-egress, sni L(p), subjectAltNames [M's ingress
//                            GatewaySpiffeId] (+ tcpKeepalive);
//  - in C's cluster, objects in M's east-west gateway namespace (P_i = its TLS container port, default 15443):
//      Gateway vmesh-ingress-H          on the east-west workload: per port a server on P_i, hosts [L(p)], tls
//                            MUTUAL, credentialName vmesh-gateway-ingress (its ca.crt verifies clients),
//                            subjectAltNames = egress GatewaySpiffeIds of the receiving meshes;
//      VirtualService vmesh-ingress-<port>-H hosts [L(p)], gateways [that Gateway]: tcp -> svc.ns.svc.cluster.local:p;
//      DestinationRule vmesh-ingress-H  host svc.ns.svc.cluster.local, exportTo ["."], ISTIO_MUTUAL.
// flatNetwork does not apply (status warns). A mesh that receives hosts needs an egress gateway, one that exports
// them an east-west gateway (status says so); without them its part is left out.
//
// Access policies (globalAccessPolicy ENABLED). The destination now sees its own mesh's ingress gateway, not the
// original client; so, per AccessPolicy P and destination D it selects:
//  - in D's namespace (as in shared trust): ALLOW for P's sources in D's own cluster (their principals in D's trust
//    domain) and, when P may admit a source in another cluster, for the principals of D's ingress gateway
//    ("<td>/ns/<gw ns>/sa/<gw Service>" and "…/sa/<gw Service>-service-account", the Helm and istioctl names) —
//    with P's ports, methods and paths;
//  - on the egress gateway of each receiving mesh R whose cluster holds some of P's sources: ALLOW from those
//    sources' principals in R's trust domain, when connection.sni is L(p) for D's ports that P allows.
// Which remote workload sent a request is therefore checked only at its own egress gateway; at the destination all
// remote sources are one identity (LimitedTrustWarnings says so per AccessPolicy).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hub/translate/access_policy.h"
#include "hub/translate/federation.h"
#include "vmesh/api/v1/access_policy.pb.h"

namespace vmesh::hub {

class LimitedFederationTranslator {
 public:
  // `meshes`: the VirtualMesh's active meshes (SPEC §4), keyed "<name>.<namespace>".
  LimitedFederationTranslator(std::string virtual_mesh_namespace, std::string virtual_mesh_name,
                              api::v1::VirtualMeshSpec spec, std::map<std::string, api::v1::Mesh> meshes);

  // Keys of the meshes `destination` is federated to (as under shared trust).
  std::vector<std::string> Receivers(const api::v1::Destination& destination) const;

  // The traffic outputs of one destination (client and server side); empty when it is federated nowhere, has no
  // ports, or its mesh has no usable east-west gateway. Receivers without an egress gateway get nothing.
  std::vector<Output> TranslateDestination(const api::v1::Destination& destination) const;

  // The AuthorizationPolicies of one destination (destination side and egress side); empty unless
  // globalAccessPolicy is ENABLED.
  std::vector<Output> DestinationPolicies(const std::vector<api::v1::AccessPolicy>& policies,
                                          const api::v1::Destination& destination) const;

  // Per-mesh policies (global deny, ALLOW on ingress and east-west gateways): as under shared trust. Egress gateways
  // get no ALLOW-all; DestinationPolicies admits local sources to them.
  std::vector<Output> MeshPolicies() const;

  // Everything, sorted by Output::Key().
  std::vector<Output> TranslateAll(const std::vector<api::v1::Destination>& destinations,
                                   const std::vector<api::v1::AccessPolicy>& policies) const;

  // What users must know about this VirtualMesh under limited trust (flatNetwork ignored; each AccessPolicy whose
  // sources in one cluster may reach destinations in another, naming the identity the destination sees instead).
  // Sorted, one sentence each.
  std::vector<std::string> Warnings(const std::vector<api::v1::AccessPolicy>& policies) const;

 private:
  const api::v1::GatewayInfo* EgressGateway(const api::v1::Mesh& mesh) const;
  std::vector<std::string> IngressPrincipals(const api::v1::Mesh& mesh) const;
  const api::v1::Mesh* MeshOfCluster(const std::string& cluster) const;

  std::string vm_namespace_;
  std::string vm_name_;
  api::v1::VirtualMeshSpec spec_;
  std::map<std::string, api::v1::Mesh> meshes_;
  FederationTranslator federation_;
  AccessPolicyTranslator access_;
  // Per cluster, over that cluster's meshes only: the principals of the sources in one cluster.
  std::map<std::string, AccessPolicyTranslator> by_cluster_;
};

// The SNI, and gateway server host, of one Service port of a federated host: "p<port>.<host>".
std::string LimitedLegHost(const std::string& host, std::uint32_t port);

// The namespace of a gateway's Service (the mesh's installation namespace when the report has none): where its
// Secrets, and the outputs that name them, live.
std::string GatewayNamespace(const api::v1::GatewayInfo& gateway, const api::v1::Mesh& mesh);

// The egress gateway carrying a mesh's outgoing traffic under limited trust: the first of its egress gateways with
// workload labels, or nullptr.
const api::v1::GatewayInfo* SelectEgressGateway(const api::v1::Mesh& mesh);

}  // namespace vmesh::hub
