#include "common/api/limited_trust.h"

namespace vmesh::api {

std::string_view GatewayRoleName(GatewayRole role) { return role == GatewayRole::kIngress ? "ingress" : "egress"; }

std::string_view GatewaySecretName(GatewayRole role) {
  return role == GatewayRole::kIngress ? "vmesh-gateway-ingress" : "vmesh-gateway-egress";
}

std::string GatewayTrustDomain(std::string_view virtual_mesh_namespace, std::string_view virtual_mesh_name) {
  std::string out(virtual_mesh_name);
  out += '.';
  out += virtual_mesh_namespace;
  out += ".vmesh-gateway";
  return out;
}

std::string GatewaySpiffeId(std::string_view virtual_mesh_namespace, std::string_view virtual_mesh_name,
                            std::string_view cluster, std::string_view mesh, GatewayRole role) {
  std::string out = "spiffe://" + GatewayTrustDomain(virtual_mesh_namespace, virtual_mesh_name);
  out += "/cluster/";
  out += cluster;
  out += "/mesh/";
  out += mesh;
  out += '/';
  out += GatewayRoleName(role);
  return out;
}

}  // namespace vmesh::api
