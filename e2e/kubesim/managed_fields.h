// Field ownership (metadata.managedFields) and server-side apply.
//
// Every write records which manager set which fields, in Kubernetes' FieldsV1 form ("f:spec",
// "k:{\"name\":\"app\"}", "."): an update makes its manager (operation "Update") the owner of the fields it
// changed; an apply makes its manager (operation "Apply") the owner of exactly the fields in its
// configuration. Apply follows Kubernetes' rules: a field another manager owns with a different value is a
// conflict (409) unless forced, which takes the field over; fields the applier owned before and no longer
// sets are removed unless someone else owns them. Lists merge by their strategic merge key in built-in
// kinds (containers by name, ...) and are atomic otherwise. metadata.name/namespace/uid and the like,
// apiVersion, kind and status are not tracked. Pure; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <set>
#include <string>
#include <vector>

#include "e2e/kubesim/api_error.h"
#include "e2e/kubesim/resource_registry.h"

namespace vmesh::kubesim {

using FieldPath = std::vector<std::string>;  // FieldsV1 tokens down to a leaf
using FieldSet = std::set<FieldPath>;

// The fields `object` sets, as paths to leaves.
FieldSet FieldsOf(const ResourceType& type, const boost::json::object& object);

// Records in `updated` (its metadata.managedFields, carried over from `old`) that `manager` changed what
// differs between `old` (null on create) and `updated`.
void RecordUpdate(const ResourceType& type, const boost::json::object* old, boost::json::object& updated,
                  const std::string& manager);

// Server-side apply of `config` by `manager` onto `live` (null when the object does not exist yet).
// Returns the new object, with managedFields, or a 409 Conflict naming the contested fields.
// Like kube-apiserver, a manager named kubectl* may take fields over without conflict when they are in
// the object's kubectl.kubernetes.io/last-applied-configuration (left by client-side apply).
ApiResult<boost::json::object> ServerSideApply(const ResourceType& type, const boost::json::object* live,
                                               const boost::json::object& config, const std::string& manager,
                                               bool force);

}  // namespace vmesh::kubesim
