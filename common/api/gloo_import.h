// Compatibility import of Gloo Mesh manifests (apiVersion networking.mesh.gloo.solo.io/v1, SPEC §3.1).
//
// vmesh's VirtualMesh and AccessPolicy keep every seed field of the Gloo Mesh API with its JSON name and
// number, so a Gloo manifest decodes into the vmesh types directly (with the alias
// ingressGatewaySelectors -> eastWestIngressGatewaySelectors of later Gloo releases). The import then
// rewrites what differs: the apiVersion, and the Gloo control-plane namespace "gloo-mesh" (in metadata and
// in every mesh and secret reference) mapped onto the hub's namespace; status is dropped (the hub owns it).
// Features vmesh does not support (Vault intermediates, manual rotation verification) are rejected by
// structural validation, naming the field.
#pragma once

#include <string>
#include <vector>

#include "common/api/field_error.h"
#include "common/api/manifest.h"

namespace vmesh::api {

inline constexpr std::string_view kGlooNamespace = "gloo-mesh";

struct ImportResult {
  std::vector<FieldError> errors;
  // Human-readable summary of what the import changed, e.g. for `vmeshctl apply` to print.
  std::string note;
};

// `object` must hold a VirtualMesh or AccessPolicy decoded from a Gloo Mesh manifest; it is rewritten in
// place into networking.vmesh.dev/v1.
ImportResult ImportGlooObject(Object& object, const std::string& hub_namespace);

}  // namespace vmesh::api
