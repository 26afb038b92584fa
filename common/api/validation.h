// Structural validation of VirtualMesh and AccessPolicy: everything that can be decided from the object
// alone (SPEC §3, §4). Checks that need other objects or discovery (does the mesh exist, does the root
// Secret exist, is smart DNS proxying enabled, is the mesh already in another VirtualMesh) belong to the
// hub's reconciler.
//
// Each function returns every problem found, in field order; an empty vector means valid. Paths use the
// proto3 JSON names with [i] for list items and [key] for map entries, e.g. "spec.meshes[1].name" or
// "spec.federation.selectors[0].destinationSelectors[0].kubeServiceMatcher.labels[app]"; an error about a
// whole message uses that message's path. Messages say what is wrong with the value and what to do.
// `object` names the object ("VirtualMesh vmesh/vm1") when metadata.name is set; document/line/column are
// left 0 for the manifest codec to fill in. apiVersion, kind and status are not
// checked. Pure functions: no I/O, no globals, safe to call from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/api/dns.h"  // IsDns1123Label, IsDns1123Subdomain, IsValidHostnameSuffix, ...
#include "common/api/field_error.h"
#include "vmesh/api/v1/access_policy.pb.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace vmesh::api {

// Mesh refs (spec.meshes and the meshes of federation selectors) are compared by name and namespace; an
// empty namespace stands for metadata.namespace of the VirtualMesh.
std::vector<FieldError> ValidateVirtualMesh(const v1::VirtualMesh& vm);

std::vector<FieldError> ValidateAccessPolicy(const v1::AccessPolicy& ap);

// metadata.name (a DNS-1123 subdomain, required; `example_name` is suggested when it is missing),
// metadata.namespace (a DNS-1123 label, optional) and metadata.labels. Paths start with "metadata."; `object`
// is left empty.
std::vector<FieldError> ValidateObjectMeta(const v1::ObjectMeta& meta, std::string_view example_name);

// Every key and value of a Kubernetes label map, in key order; paths are "<path>[<key>]".
std::vector<FieldError> ValidateLabels(const std::string& path,
                                       const google::protobuf::Map<std::string, std::string>& labels);

}  // namespace vmesh::api
