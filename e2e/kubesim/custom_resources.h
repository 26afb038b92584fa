// CustomResourceDefinitions at run time: the kinds a CRD defines, kept in step with the CRD objects in the
// store, and the schema handling of custom resources (pruning, defaults, validation) as kube-apiserver does it.
//
// A CRD written through the API (POST, PUT, PATCH, apply, DELETE), loaded from a seed or from --crds, is
// synced by SyncCustomResourceDefinition(): its served versions are registered (or replaced, or removed
// when the CRD is gone, together with every object of the kind), and its status gets acceptedNames and the
// NamesAccepted/Established conditions — NamesAccepted=False (and the kind not served) when a name is
// already in use in the group. Everything here is thread-safe as far as the registry and store are.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/crdschema/schema_node.h"
#include "e2e/kubesim/api_error.h"
#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"

namespace vmesh::kubesim {

// The compiled openAPIV3Schema of one served version.
struct CustomResourceSchema {
  crdschema::internal::SchemaArena arena;
  const crdschema::internal::SchemaNode* root = nullptr;
};

// Whether `type` is apiextensions.k8s.io customresourcedefinitions.
bool IsCustomResourceDefinitionType(const ResourceType& type);

// The ResourceTypes of an apiextensions.k8s.io/v1 CustomResourceDefinition, one per served version: names,
// scope, subresources (status; scale over .spec.replicas/.status.replicas), additionalPrinterColumns and the
// compiled schema. A CRD the API server would refuse is a 422 Invalid error in its words
// (`CustomResourceDefinition.apiextensions.k8s.io "x" is invalid: spec.group: Required value`).
ApiResult<std::vector<ResourceType>> CustomResourceTypes(const boost::json::object& crd);

// Level-based: reads CustomResourceDefinition `name` from the store and makes the registry serve what it
// says (nothing when it is gone: then its kinds are unregistered and their objects deleted), then writes
// its status. A second call with nothing changed changes nothing.
void SyncCustomResourceDefinition(ResourceRegistry& registry, ObjectStore& store, const std::string& name);

// The fieldValidation directive of a write (Strict, Warn — kube-apiserver's default —, or Ignore).
enum class FieldValidation { kIgnore, kWarn, kStrict };
FieldValidation ParseFieldValidation(const std::string& value);

// Fills in the schema's defaults for absent fields and removes the fields it does not declare (unless
// x-kubernetes-preserve-unknown-fields), as kube-apiserver does for a structural schema; apiVersion, kind and
// metadata are left alone. Returns the removed fields' paths ("spec.bogus", "spec.ports[0].x").
std::vector<std::string> PruneAndDefault(const CustomResourceSchema& schema, boost::json::object& object);

// Prunes and defaults `next`, a custom resource of `type` being written (a no-op without a schema). Unknown
// fields fail a Strict write (400 BadRequest, `Widget in version "v1" cannot be handled as a Widget: strict
// decoding error: unknown field "spec.x"`) or become `warnings` (Warn: `unknown field "spec.x"`).
std::optional<ApiError> PruneCustomResource(const ResourceType& type, boost::json::object& next,
                                            FieldValidation validation, std::vector<std::string>& warnings);

// Validates a custom resource as it will be stored against its version's schema: violations are a 422
// Invalid error whose message and details.causes name every field, as kube-apiserver's
// (`Widget.example.com "w" is invalid: spec.size: Invalid value: 20: must be at most 10; got 20`).
std::optional<ApiError> ValidateCustomResource(const ResourceType& type, const boost::json::object& object);

}  // namespace vmesh::kubesim
