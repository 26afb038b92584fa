// Compiled OpenAPI v3 schema nodes and the checker that walks a JSON value along them. Internal to
// vmesh_crdschema (SchemaSet is the public face); split out so the keyword semantics live in one place.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <deque>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/crdschema/schema_set.h"

namespace vmesh::crdschema::internal {

enum class JsonType { kAny, kObject, kArray, kString, kInteger, kNumber, kBoolean };
enum class Format { kNone, kInt32, kInt64, kUint32, kUint64, kByte, kDateTime };
enum class ListType { kAtomic, kSet, kMap };
enum class Additional { kUnspecified, kAllow, kDeny, kSchema };

// One schema node. Nodes live in an arena (std::deque, so addresses are stable) and point at each other.
struct SchemaNode {
  JsonType type = JsonType::kAny;
  bool nullable = false;
  bool preserve_unknown_fields = false;
  bool int_or_string = false;

  bool has_properties = false;
  std::vector<std::pair<std::string, const SchemaNode*>> properties;  // sorted by name
  Additional additional = Additional::kUnspecified;
  const SchemaNode* additional_schema = nullptr;
  const SchemaNode* items = nullptr;
  std::vector<std::string> required;

  std::optional<std::vector<boost::json::value>> enum_values;
  Format format = Format::kNone;
  std::optional<long double> minimum;
  std::optional<long double> maximum;
  bool exclusive_minimum = false;
  bool exclusive_maximum = false;
  std::optional<long double> multiple_of;
  std::optional<std::uint64_t> min_length, max_length;
  std::optional<std::uint64_t> min_items, max_items;
  std::optional<std::uint64_t> min_properties, max_properties;
  std::string pattern;                      // as written, for messages
  std::optional<std::regex> pattern_regex;  // unset when the pattern did not compile (then it is not checked)

  ListType list_type = ListType::kAtomic;
  std::vector<std::string> list_map_keys;

  // `default`: not checked by the validator; kubesim applies it to absent fields (ApplySchemaDefaults there).
  std::optional<boost::json::value> default_value;

  std::vector<const SchemaNode*> all_of, any_of, one_of;
  const SchemaNode* not_schema = nullptr;

  // True when the node says nothing but `required`: a presence test, how protobuf oneofs are expressed.
  bool required_only = false;
  // For a oneOf in Istio's protobuf-oneof shape ({not: {anyOf: [{required: [a]}, ...]}}, {required: [a]}, ...):
  // the mutually exclusive field names, so the violation can name them. Empty for any other oneOf.
  std::vector<std::string> exclusive_fields;

  const SchemaNode* FindProperty(std::string_view name) const;
};

using SchemaArena = std::deque<SchemaNode>;

// Compiles one openAPIV3Schema into `arena`. `where` names the schema for errors
// ("spec.versions[1].schema.openAPIV3Schema"); errors name the offending keyword below it.
Result<const SchemaNode*> CompileSchema(const boost::json::value& schema, const std::string& where, SchemaArena& arena);

// Appends the violations of `resource` (a whole Kubernetes object) against its root schema to `out`. The root's
// apiVersion, kind and metadata are not checked here (they are implicit in every CRD schema).
void ValidateResource(const SchemaNode& root, const boost::json::value& resource, std::vector<Violation>& out);

// Appends ".key" (or "[key]" for keys that are not plain identifiers) to a field path.
void AppendKey(std::string& path, std::string_view key);

// "string \"80\"", "integer -1", "object", ...: how a value is described in messages.
std::string DescribeValue(const boost::json::value& value);

}  // namespace vmesh::crdschema::internal
