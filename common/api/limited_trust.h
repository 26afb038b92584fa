// Names shared by the hub and the agent under limited trust (SPEC §8): each mesh keeps its own CA, and the
// gateways that carry cross-cluster traffic hold leaf certificates from the VirtualMesh's gateway CA.
//
// A mesh's ingress (east-west) and egress gateways each get a `kubernetes.io/tls` Secret (tls.crt, tls.key,
// ca.crt = the VirtualMesh's gateway CA bundle) in the gateway's namespace, named below; Istio Gateways
// (`credentialName`) and egress DestinationRules (`credentialName`) refer to them. The leaf certificates carry one
// URI SAN, GatewaySpiffeId(...), which peers check (`subjectAltNames`).
#pragma once

#include <string>
#include <string_view>

namespace vmesh::api {

enum class GatewayRole { kIngress, kEgress };

// "ingress" or "egress".
std::string_view GatewayRoleName(GatewayRole role);

// Secret names: "vmesh-gateway-ingress" and "vmesh-gateway-egress".
std::string_view GatewaySecretName(GatewayRole role);

// The SPIFFE trust domain of a VirtualMesh's gateway certificates: "<name>.<namespace>.vmesh-gateway".
std::string GatewayTrustDomain(std::string_view virtual_mesh_namespace, std::string_view virtual_mesh_name);

// "spiffe://<GatewayTrustDomain>/cluster/<cluster>/mesh/<mesh>/<ingress|egress>".
std::string GatewaySpiffeId(std::string_view virtual_mesh_namespace, std::string_view virtual_mesh_name,
                            std::string_view cluster, std::string_view mesh, GatewayRole role);

}  // namespace vmesh::api
