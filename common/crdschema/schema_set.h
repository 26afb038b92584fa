// SchemaSet: the OpenAPI v3 schemas of a set of CustomResourceDefinitions (e.g. third_party/istio/crds.yaml), and
// validation of objects against them the way the Kubernetes API server would (SPEC §6: every Istio object
// vmesh writes must validate against Istio's CRD schemas).
//
// Supported schema keywords (the structural-schema subset Istio's CRDs use): type, properties,
// additionalProperties (schema or bool), items, required, enum, format (int32/int64/uint32/uint64 bounds,
// byte = base64, date-time = RFC 3339; other formats are accepted as is), minimum/maximum (+ exclusive*),
// minLength/maxLength (in Unicode code points), minItems/maxItems, minProperties/maxProperties, pattern
// (ECMAScript, unanchored search as in Kubernetes; a pattern std::regex cannot compile is skipped),
// oneOf/anyOf/allOf/not, nullable, x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string,
// x-kubernetes-list-type set/map (+ x-kubernetes-list-map-keys) uniqueness.
// Knowingly skipped: x-kubernetes-validations (CEL rules; they cannot be evaluated here), default (compiled into
// SchemaNode::default_value but not applied here: no defaulting), descriptions and printer columns.
//
// Unknown fields (a key of an object whose schema lists properties, without additionalProperties and without
// x-kubernetes-preserve-unknown-fields) are violations: the API server would prune them silently, and vmesh must
// never write a field Istio does not know. metadata is left to the API server by CRD schemas and is checked
// loosely here: an object with a non-empty DNS-1123 subdomain name, string namespace, and labels/annotations that
// are string maps (label keys and values in Kubernetes syntax).
//
// A SchemaSet is immutable after Load; copies share the compiled schemas and Validate is safe to call from
// several threads at once.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace vmesh::crdschema {

struct Violation {
  // Field path in the object, Kubernetes style: "spec.endpoints[0].ports.http"; map keys that are not plain
  // identifiers are bracketed ("metadata.labels[app.kubernetes.io/name]"). Empty for the object as a whole.
  std::string path;
  // What is wrong and what was expected, e.g. `must be one of MESH_EXTERNAL, MESH_INTERNAL; got "STATICC"`.
  std::string message;

  bool operator==(const Violation&) const = default;
};

// "path: message" (or just the message for the whole object).
std::string ToString(const Violation& violation);

namespace internal {
struct CompiledSchemas;
}

class SchemaSet {
 public:
  // Loads every CustomResourceDefinition (apiextensions.k8s.io/v1) of a multi-document YAML stream, one schema
  // per served version. Documents that are empty or not CustomResourceDefinitions are ignored. Errors (YAML
  // syntax, a CRD without group/kind/schema, an unsupported schema construct, the same group/version/kind
  // twice, no CRD at all) name the document by number and CRD name.
  static Result<SchemaSet> Load(std::string_view crd_yaml);
  // Load() on CRD objects already decoded (e.g. read from a cluster's API server); same rules and errors.
  static Result<SchemaSet> LoadObjects(const std::vector<boost::json::value>& crds);
  // Load() on a file's contents; an unreadable file is an error naming the path.
  static Result<SchemaSet> LoadFile(const std::string& path);

  // Every served (group, version, kind) as "<group>/<version> <Kind>", e.g.
  // "networking.istio.io/v1beta1 ServiceEntry"; sorted.
  std::vector<std::string> Kinds() const;

  // Validates one object (apiVersion, kind, metadata, spec, ...) against the schema of its apiVersion and kind.
  // Returns every violation found (metadata first, then the rest in the object's field order); empty means
  // valid. An unknown apiVersion or kind, or input that is not an object, is itself reported as a violation;
  // this never throws.
  std::vector<Violation> Validate(const boost::json::value& object) const;

 private:
  explicit SchemaSet(std::shared_ptr<const internal::CompiledSchemas> schemas);
  std::shared_ptr<const internal::CompiledSchemas> schemas_;
};

}  // namespace vmesh::crdschema
