// Manifest codec: multi-document YAML or JSON text <-> typed API objects.
//
// Decoding is strict, as Kubernetes' strict field validation is: unknown fields, duplicate fields,
// values of the wrong type, two members of a oneof and unknown enum names are errors. Every error names
// the document, the line and the field path, e.g.
//   document 1, line 12: spec.mtlsConfig.shared.rootCertificateAuthority.generated.ttlDays:
//   expected an unsigned integer, got "ten"
// Decoding reports every error it finds; a manifest with any error yields no objects, so callers apply
// all of it or nothing.
//
// Manifests with apiVersion networking.mesh.gloo.solo.io/v1 (the Gloo Mesh API) are imported: see
// gloo_import.h. Thread-safe: no shared mutable state.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/api/field_error.h"
#include "vmesh/api/v1/access_policy.pb.h"
#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/api/v1/secret.pb.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace vmesh::api {

inline constexpr std::string_view kNetworkingApiVersion = "networking.vmesh.dev/v1";
inline constexpr std::string_view kDiscoveryApiVersion = "discovery.vmesh.dev/v1";
inline constexpr std::string_view kGlooNetworkingApiVersion = "networking.mesh.gloo.solo.io/v1";
inline constexpr std::string_view kDefaultHubNamespace = "vmesh";

using Object =
    std::variant<v1::VirtualMesh, v1::AccessPolicy, v1::Mesh, v1::Destination, v1::Workload, v1::Cluster, v1::Secret>;

// The protobuf message inside an Object.
const google::protobuf::Message& AsMessage(const Object& object);
google::protobuf::Message& AsMessage(Object& object);

struct DecodedObject {
  Object object;
  int document = 0;  // 1-based index among the manifest's non-empty documents
  int line = 0;      // 1-based line where the document starts
  // Set when the document used the Gloo Mesh API and was converted; says what was mapped.
  std::string import_note;
};

struct DecodeOptions {
  // Namespace that objects default to and that the Gloo Mesh namespace "gloo-mesh" maps onto.
  std::string hub_namespace = std::string(kDefaultHubNamespace);
  // Run structural validation (validation.h, secret.h) on every VirtualMesh, AccessPolicy and Secret.
  bool validate = true;
  // Largest manifest accepted, in bytes.
  size_t max_bytes = 8u << 20;
};

struct DecodeResult {
  std::vector<DecodedObject> objects;  // empty whenever errors is not
  std::vector<FieldError> errors;
  bool ok() const { return errors.empty(); }
};

// Decodes every document of a YAML or JSON manifest ("---"-separated YAML documents, or one JSON
// value; a JSON or YAML object with kind "List" and "items" is expanded). Documents that are empty or
// hold only comments are skipped.
DecodeResult DecodeManifests(std::string_view text, const DecodeOptions& options = {});

// Decodes one YAML/JSON mapping into `message` (any message type), strictly, reporting errors with
// paths relative to `path_prefix`. Used for API request bodies and tests.
std::vector<FieldError> DecodeInto(std::string_view text, google::protobuf::Message* message,
                                   const std::string& path_prefix = "");

enum class Format { kYaml, kJson };

// Encodes a message with the proto3 JSON names, omitting unset fields; 64-bit integers are numbers
// (as Kubernetes prints them), enums are names, durations "240s", timestamps RFC 3339.
boost::json::value ToJson(const google::protobuf::Message& message);

// One object as YAML (block style, ending in a newline) or indented JSON.
std::string Encode(const google::protobuf::Message& message, Format format);

// Several objects: YAML documents separated by "---", or a JSON {"apiVersion":"v1","kind":"List","items":[...]}.
std::string EncodeAll(const std::vector<const google::protobuf::Message*>& messages, Format format);

// Pretty-printed JSON (2-space indent) and block YAML for any JSON value.
std::string PrettyJson(const boost::json::value& value);
std::string JsonToYaml(const boost::json::value& value);

}  // namespace vmesh::api
