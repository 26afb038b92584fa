// The vmesh CustomResourceDefinitions (charts/vmesh-hub/crds/vmesh-crds.yaml), generated from the API protos'
// descriptors so that the protos stay the one source of the objects `vmeshctl apply` and `kubectl apply` accept.
//
// The OpenAPI v3 schemas (structural, as apiextensions.k8s.io/v1 requires) describe exactly the JSON that
// common/api's manifest codec accepts and writes, the proto3 JSON form:
//   message        object; properties by JSON name (lowerCamelCase), in declaration order
//   repeated       array of the element's schema
//   map            object with additionalProperties: the value's schema
//   enum           string, enum: the value names (the decoder accepts names only, never numbers); a singular
//                  enum field defaults to its zero value's name (proto3: absent means zero, and the hub's JSON
//                  omits zero values, which would leave e.g. the STATE column of a PENDING object empty)
//   integers       x-kubernetes-int-or-string, anyOf [integer, string]: the decoder accepts a number or a decimal
//                  string for every width (proto3 JSON writes 64-bit values as strings, the hub and users write
//                  numbers); the number is bounded (minimum/maximum, or format int64), the string matches
//                  ^[+-]?[0-9]+$ (unsigned: ^\+?[0-9]+$) and its range is checked by the hub's decoder only
//   float, double  number (the decoder also takes a quoted number; structural schemas have no number-or-string)
//   bool boolean;  string string;  bytes string, format byte (base64)
//   Timestamp      string, format date-time (RFC 3339);  Duration string, pattern of the forms ParseDuration
//                  accepts ("240s", "1.5s", "4m", "1h30m", "500ms", "0")
//   Empty          object without fields;  wrappers (google.protobuf.*Value) their scalar's schema
//   Struct, Any    object with x-kubernetes-preserve-unknown-fields;  Value: any value;  ListValue: array of any
//                  (wrappers and these follow proto3 JSON, which the manifest codec does not special-case yet: no
//                  vmesh proto uses them; crds_test's objects with every field set would flag the first that does)
//   oneof          the description says "set at most one of a, b"; groups of two or more members are also enforced
//                  as Istio's CRDs do: oneOf [not anyOf [required a, required b], required a, required b]
// Descriptions come from the proto comments (a field's own comment, else its oneof's, else its message's or enum's;
// enum value comments are listed) when a Comments is given; without one the schemas carry no descriptions.
//
// Pure functions of their input (no I/O); thread-compatible.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor_database.h>

#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace vmesh::crdgen {

inline constexpr std::string_view kGroup = "networking.vmesh.dev";
inline constexpr std::string_view kVersion = "v1";
inline constexpr std::string_view kCategory = "vmesh";

struct PrinterColumn {
  std::string name;       // "STATE"
  std::string json_path;  // ".status.state"
  std::string type;       // "string", "integer", "date", ...
};

// One custom resource kind and the proto message of its objects.
struct KindSpec {
  std::string kind;    // "VirtualMesh"
  std::string plural;  // "virtualmeshes"
  std::vector<std::string> short_names;
  std::string message;                 // "vmesh.api.v1.VirtualMesh"
  std::vector<PrinterColumn> columns;  // besides NAME (always shown); AGE is appended after them
};

// The kinds of docs/hub-on-kubernetes.md's table: VirtualMesh, AccessPolicy, Cluster, IssuedCertificate.
const std::vector<KindSpec>& VmeshKinds();

// Comments of proto elements, read from a FileDescriptorSet built with source info
// (protoc --include_source_info --include_imports --descriptor_set_out=...). Elements are found by full name, so
// the comments can describe descriptors of another pool (the generated one) built from the same protos.
class Comments {
 public:
  // Parses a serialized FileDescriptorSet; an error when it does not parse or its files do not link.
  static Result<std::unique_ptr<Comments>> FromDescriptorSet(std::string_view serialized);

  // The element's leading comment (else its trailing one), unwrapped into paragraphs; "" when it has none or is
  // not in the set.
  std::string Of(const google::protobuf::Descriptor* message) const;
  std::string Of(const google::protobuf::FieldDescriptor* field) const;
  std::string Of(const google::protobuf::EnumDescriptor* enumeration) const;
  std::string Of(const google::protobuf::EnumValueDescriptor* value) const;
  std::string Of(const google::protobuf::OneofDescriptor* oneof) const;

 private:
  Comments() = default;
  google::protobuf::SimpleDescriptorDatabase database_;
  std::unique_ptr<google::protobuf::DescriptorPool> pool_;
};

// The OpenAPI v3 schema of a message's JSON form, by the rules above (exposed for tests).
boost::json::object MessageSchema(const google::protobuf::Descriptor* message, const Comments* comments);

struct GeneratedCrds {
  // One CustomResourceDefinition per kind whose message is in the pool, in the order of the kinds.
  std::vector<boost::json::value> crds;
  // What was left out or cannot show yet: a kind whose message is not in the pool, a printer column whose field
  // the message does not have (kubectl shows it empty).
  std::vector<std::string> notes;
};

// The CRDs of `kinds`, with schemas from the messages of `pool` (normally the generated pool).
GeneratedCrds GenerateCrds(const google::protobuf::DescriptorPool& pool, const std::vector<KindSpec>& kinds,
                           const Comments* comments);

// The file: a header comment, then each CRD as a YAML document after "---".
std::string ToYaml(const GeneratedCrds& generated);

}  // namespace vmesh::crdgen
