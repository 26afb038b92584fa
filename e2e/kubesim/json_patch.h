// JSON patches as the Kubernetes API applies them. Pure functions; thread-safe.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace vmesh::kubesim {

// RFC 7386 JSON merge patch: objects merge recursively, null deletes a member, anything else (arrays
// included) replaces. A non-object patch replaces the target.
boost::json::value ApplyMergePatch(const boost::json::value& target, const boost::json::value& patch);

// RFC 6902 JSON Patch: a list of add/remove/replace/move/copy/test operations with RFC 6901 pointers.
// Returns an error message naming the failing operation; the target is then unchanged.
Result<boost::json::value> ApplyJsonPatch(const boost::json::value& target, const boost::json::value& patch);

// Strategic merge patch without schemas, close enough for kubectl and controllers on built-in kinds:
//  - like a merge patch, except that lists of objects whose field is a known merge list (containers,
//    initContainers, env, volumes, volumeMounts, ports, ...) merge element-wise by their merge key
//    ("name", "mountPath", "containerPort"/"port", ...);
//  - directives: `$patch: replace|delete` on maps and list elements, `$retainKeys`,
//    `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`; directive keys never reach the result.
// Returns an error message when the patch is malformed (e.g. an unknown `$patch` value).
Result<boost::json::value> ApplyStrategicMergePatch(const boost::json::value& target, const boost::json::value& patch);

// The merge key of the list `field` in built-in kinds ("name" for containers, "containerPort" or "port"
// for ports, ...), judged from the field name and, where it is ambiguous, the elements of `a` and `b`.
// Empty when the list is atomic.
std::string StrategicMergeKey(std::string_view field, const boost::json::array& a, const boost::json::array& b);

}  // namespace vmesh::kubesim
