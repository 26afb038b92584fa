// Syntax of the discovery objects an agent reports (SPEC §3.3, §9): every name and address in a Mesh,
// Destination or Workload flows into other clusters' Istio objects (ServiceEntry hosts and endpoints,
// AuthorizationPolicy principals) and into SPIFFE URIs of issued certificates, so the hub checks them all
// before it uses any: DNS-1123 names and namespaces, service accounts, label keys and values, the trust
// domain, port numbers, IP addresses and gateway host names.
//
// Each function returns every problem found (empty = valid), with paths in proto3 JSON names
// ("spec.ports[0].port", "spec.endpoints[2].ip") and `object` set to e.g. "Destination vmesh/reviews-...".
// Whether the object belongs to the reporting cluster is not checked here (hub/session/authorize.h does).
// Pure functions: no I/O, thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/api/field_error.h"
#include "common/base/resource_names.h"
#include "vmesh/api/v1/discovery.pb.h"

namespace vmesh::api {

std::vector<FieldError> ValidateDiscoveredMesh(const v1::Mesh& mesh);
std::vector<FieldError> ValidateDiscoveredDestination(const v1::Destination& destination);
std::vector<FieldError> ValidateDiscoveredWorkload(const v1::Workload& workload);

// The name an agent gives the Mesh of an istiod installation (SPEC §3.3), owned by common/base/resource_names.h:
// istiod-<istio-namespace>-<cluster>, or istiod-<revision>-<istio-namespace>-<cluster> for a revision other
// than "" and "default".
using vmesh::DiscoveredMeshName;

}  // namespace vmesh::api
