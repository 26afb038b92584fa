// The Istio CRDs vendored in third_party/istio/crds.yaml (Istio 1.30; third_party/README.md), compiled into the
// binaries that link vmesh_crdschema_istio. They are the fallback wherever a cluster's own CRDs are not known:
// the hub validates each cluster's outputs against the schemas that cluster's agent read from its API server
// and uses these only until (or unless) the agent reported them.
#pragma once

#include <string_view>

#include "common/crdschema/schema_set.h"

namespace vmesh::crdschema {

// The vendored CRD YAML, byte for byte.
std::string_view BuiltinIstioCrdsYaml();
// Its compiled schemas, loaded on first use (thread-safe); the vendored file is tested to load.
const SchemaSet& BuiltinIstioSchemas();
// A short name for messages: "vmesh's built-in Istio 1.30 CRDs".
inline constexpr std::string_view kBuiltinIstioCrdsName = "vmesh's built-in Istio 1.30 CRDs";

}  // namespace vmesh::crdschema
