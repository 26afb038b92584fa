#include "tools/crdgen/crd_generator.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/empty.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/wrappers.pb.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/base/files.h"
#include "common/base/kinds.h"
#include "common/crdschema/schema_set.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace vmesh::crdgen {
namespace {

namespace pb = google::protobuf;
namespace json = boost::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Messages for the generator to describe, in a pool of their own (with the well-known types they import).
constexpr char kTestProto[] = R"pb(
  name: "crdgen_test.proto"
  package: "crdgen.test"
  syntax: "proto3"
  dependency: [
    "google/protobuf/timestamp.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/empty.proto",
    "google/protobuf/struct.proto",
    "google/protobuf/wrappers.proto"
  ]
  enum_type {
    name: "Color"
    value { name: "RED" number: 0 }
    value { name: "GREEN" number: 1 }
  }
  message_type {
    name: "Meta"
    field { name: "name" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
  }
  message_type {
    name: "Spec"
    field { name: "i32" number: 1 type: TYPE_INT32 label: LABEL_OPTIONAL }
    field { name: "u32" number: 2 type: TYPE_UINT32 label: LABEL_OPTIONAL }
    field { name: "i64" number: 3 type: TYPE_INT64 label: LABEL_OPTIONAL }
    field { name: "u64" number: 4 type: TYPE_UINT64 label: LABEL_OPTIONAL }
    field { name: "ratio" number: 5 type: TYPE_FLOAT label: LABEL_OPTIONAL }
    field { name: "on" number: 6 type: TYPE_BOOL label: LABEL_OPTIONAL }
    field { name: "blob" number: 7 type: TYPE_BYTES label: LABEL_OPTIONAL }
    field { name: "color" number: 8 type: TYPE_ENUM type_name: ".crdgen.test.Color" label: LABEL_OPTIONAL }
    field { name: "tags" number: 9 type: TYPE_STRING label: LABEL_REPEATED }
    field {
      name: "sizes"
      number: 10
      type: TYPE_MESSAGE
      type_name: ".crdgen.test.Spec.SizesEntry"
      label: LABEL_REPEATED
    }
    field { name: "since" number: 11 type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" label: LABEL_OPTIONAL }
    field { name: "every" number: 12 type: TYPE_MESSAGE type_name: ".google.protobuf.Duration" label: LABEL_OPTIONAL }
    field { name: "none" number: 13 type: TYPE_MESSAGE type_name: ".google.protobuf.Empty" label: LABEL_OPTIONAL }
    field { name: "free" number: 14 type: TYPE_MESSAGE type_name: ".google.protobuf.Struct" label: LABEL_OPTIONAL }
    field { name: "anything" number: 15 type: TYPE_MESSAGE type_name: ".google.protobuf.Value" label: LABEL_OPTIONAL }
    field {
      name: "max_items"
      number: 16
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.UInt32Value"
      label: LABEL_OPTIONAL
    }
    field { name: "tree" number: 17 type: TYPE_MESSAGE type_name: ".crdgen.test.Tree" label: LABEL_OPTIONAL }
    # Two oneof groups of two, and one of a single member.
    field { name: "a" number: 20 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 }
    field { name: "b" number: 21 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 }
    field { name: "c" number: 22 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 1 }
    field { name: "d" number: 23 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 1 }
    field { name: "e" number: 24 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 2 }
    oneof_decl { name: "ab" }
    oneof_decl { name: "cd" }
    oneof_decl { name: "only_e" }
    nested_type {
      name: "SizesEntry"
      field { name: "key" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
      field { name: "value" number: 2 type: TYPE_INT64 label: LABEL_OPTIONAL }
      options { map_entry: true }
    }
  }
  message_type {
    name: "Tree"
    field { name: "label" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
    field { name: "children" number: 2 type: TYPE_MESSAGE type_name: ".crdgen.test.Tree" label: LABEL_REPEATED }
  }
  message_type {
    name: "Widget"
    field { name: "api_version" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
    field { name: "kind" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL }
    field { name: "metadata" number: 3 type: TYPE_MESSAGE type_name: ".crdgen.test.Meta" label: LABEL_OPTIONAL }
    field { name: "spec" number: 4 type: TYPE_MESSAGE type_name: ".crdgen.test.Spec" label: LABEL_OPTIONAL }
  }
)pb";

class TestPool {
 public:
  TestPool() {
    for (const pb::FileDescriptor* wkt :
         {pb::Timestamp::descriptor()->file(), pb::Duration::descriptor()->file(), pb::Empty::descriptor()->file(),
          pb::Struct::descriptor()->file(), pb::UInt32Value::descriptor()->file()}) {
      pb::FileDescriptorProto proto;
      wkt->CopyTo(&proto);
      EXPECT_NE(pool_.BuildFile(proto), nullptr) << wkt->name();
    }
  }
  // Builds a file given as a text-format FileDescriptorProto.
  void Add(const std::string& text) {
    pb::FileDescriptorProto proto;
    ASSERT_TRUE(pb::TextFormat::ParseFromString(text, &proto));
    ASSERT_NE(pool_.BuildFile(proto), nullptr);
  }
  const pb::DescriptorPool& pool() const { return pool_; }
  const pb::Descriptor* Message(const std::string& name) const { return pool_.FindMessageTypeByName(name); }

 private:
  pb::DescriptorPool pool_;
};

const KindSpec kWidget{"Widget", "widgets", {"wd"}, "crdgen.test.Widget", {{"COLOR", ".spec.color", "string"}}};

json::value Parse(const char* text) { return json::parse(text); }

TEST(CrdGenerator, ScalarsAndWellKnownTypesFollowTheManifestCodec) {
  TestPool pool;
  pool.Add(kTestProto);
  const json::object schema = MessageSchema(pool.Message("crdgen.test.Spec"), nullptr);
  const json::object& p = schema.at("properties").as_object();
  EXPECT_EQ(p.at("i32"), Parse(R"({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"},
    {"type": "string"}], "minimum": -2147483648, "maximum": 2147483647, "pattern": "^[+-]?[0-9]+$"})"));
  EXPECT_EQ(p.at("u32"), Parse(R"({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"},
    {"type": "string"}], "minimum": 0, "maximum": 4294967295, "pattern": "^\\+?[0-9]+$"})"));
  EXPECT_EQ(p.at("i64"), Parse(R"({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"},
    {"type": "string"}], "format": "int64", "pattern": "^[+-]?[0-9]+$"})"));
  EXPECT_EQ(p.at("u64").at("minimum"), 0);
  EXPECT_EQ(p.at("ratio"), Parse(R"({"type": "number"})"));
  EXPECT_EQ(p.at("on"), Parse(R"({"type": "boolean"})"));
  EXPECT_EQ(p.at("blob"), Parse(R"({"type": "string", "format": "byte"})"));
  EXPECT_EQ(p.at("color"), Parse(R"({"type": "string", "enum": ["RED", "GREEN"], "default": "RED"})"));
  EXPECT_EQ(p.at("tags"), Parse(R"({"type": "array", "items": {"type": "string"}})"));
  EXPECT_EQ(p.at("sizes").at("type"), "object");
  EXPECT_EQ(p.at("sizes").at("additionalProperties").at("format"), "int64");
  EXPECT_EQ(p.at("since"), Parse(R"({"type": "string", "format": "date-time"})"));
  EXPECT_EQ(p.at("every").at("type"), "string");
  EXPECT_EQ(p.at("none"), Parse(R"({"type": "object"})"));
  EXPECT_EQ(p.at("free"), Parse(R"({"type": "object", "x-kubernetes-preserve-unknown-fields": true})"));
  EXPECT_EQ(p.at("anything"), Parse(R"({"x-kubernetes-preserve-unknown-fields": true})"));
  EXPECT_EQ(p.at("maxItems").at("maximum"), 4294967295) << "a wrapper is its scalar";
  EXPECT_TRUE(p.contains("maxItems")) << "properties are named by JSON name";
  // Recursion ends in an object kept as written (structural schemas cannot refer back).
  const json::object& children = p.at("tree").at("properties").at("children").as_object();
  EXPECT_EQ(children.at("items"), Parse(R"({"type": "object", "x-kubernetes-preserve-unknown-fields": true})"));
}

TEST(CrdGenerator, OneofGroupsOfTwoOrMoreAreExclusiveAsIstioWritesThem) {
  TestPool pool;
  pool.Add(kTestProto);
  const json::object schema = MessageSchema(pool.Message("crdgen.test.Spec"), nullptr);
  EXPECT_FALSE(schema.contains("oneOf"));
  EXPECT_EQ(schema.at("allOf"), Parse(R"([
    {"oneOf": [{"not": {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}}, {"required": ["a"]},
               {"required": ["b"]}]},
    {"oneOf": [{"not": {"anyOf": [{"required": ["c"]}, {"required": ["d"]}]}}, {"required": ["c"]},
               {"required": ["d"]}]}])"))
      << "the single-member group only_e constrains nothing";
}

// The generated schemas load in the project's validator and accept and refuse what the hub's decoder does.
TEST(CrdGenerator, GeneratedCrdValidatesLikeTheDecoder) {
  TestPool pool;
  pool.Add(kTestProto);
  GeneratedCrds crds = GenerateCrds(pool.pool(), {kWidget}, nullptr);
  ASSERT_EQ(crds.crds.size(), 1u);
  auto schemas = crdschema::SchemaSet::LoadObjects(crds.crds);
  ASSERT_TRUE(schemas.ok()) << schemas.error().message;
  auto violations = [&](const char* spec) {
    json::object object{{"apiVersion", "networking.vmesh.dev/v1"},
                        {"kind", "Widget"},
                        {"metadata", json::object{{"name", "w"}}},
                        {"spec", json::parse(spec)}};
    std::string all;
    for (const auto& v : schemas->Validate(object)) all += crdschema::ToString(v) + "\n";
    return all;
  };
  EXPECT_EQ(violations(R"({"i32": -5, "u32": 80, "i64": "-9223372036854775808", "u64": "18446744073709551615",
    "every": "1h30m", "since": "2026-01-02T15:04:05Z", "sizes": {"a": 1, "b": "2"}, "a": "x", "c": "y",
    "maxItems": 3, "free": {"any": ["thing"]}, "anything": 7, "tree": {"children": [{"label": "l", "x": 1}]}})"),
            "");
  for (const char* duration : {"240s", "1.500s", "0", "4m", "2h45m0.5s", "500ms", ".5s"}) {
    EXPECT_EQ(violations((std::string(R"({"every": ")") + duration + "\"}").c_str()), "") << duration;
  }
  EXPECT_THAT(violations(R"({"every": "90 seconds"})"), HasSubstr("spec.every: must match pattern"));
  EXPECT_THAT(violations(R"({"every": "-1s"})"), HasSubstr("spec.every: must match pattern"));
  EXPECT_THAT(violations(R"({"u32": -1})"), HasSubstr("spec.u32: must be at least 0"));
  EXPECT_THAT(violations(R"({"u32": "-1"})"), HasSubstr("spec.u32: must match pattern"));
  EXPECT_THAT(violations(R"({"i32": 2147483648})"), HasSubstr("spec.i32: must be at most 2147483647"));
  EXPECT_THAT(violations(R"({"i64": "12x"})"), HasSubstr("spec.i64: must match pattern"));
  EXPECT_THAT(violations(R"({"i64": 1.5})"), HasSubstr("spec.i64: must be an integer or a string"));
  EXPECT_THAT(violations(R"({"color": 1})"), HasSubstr("spec.color: must be a string"));
  EXPECT_THAT(violations(R"({"color": "BLUE"})"), HasSubstr("spec.color: must be one of RED, GREEN"));
  EXPECT_THAT(violations(R"({"a": "x", "b": "y"})"), HasSubstr("spec: must set at most one of a, b; found a, b"));
  EXPECT_THAT(violations(R"({"none": {"x": 1}})"), HasSubstr("spec.none.x: unknown field"));
  EXPECT_THAT(violations(R"({"since": "yesterday"})"), HasSubstr("spec.since: must be an RFC 3339 date-time"));
}

TEST(CrdGenerator, CrdHasTheNamesColumnsAndSubresourceOfItsKind) {
  TestPool pool;
  pool.Add(kTestProto);
  GeneratedCrds crds = GenerateCrds(pool.pool(), {kWidget}, nullptr);
  ASSERT_EQ(crds.crds.size(), 1u);
  EXPECT_THAT(crds.notes, IsEmpty());
  const json::value& crd = crds.crds[0];
  EXPECT_EQ(crd.at("metadata").at("name"), "widgets.networking.vmesh.dev");
  const json::value& spec = crd.at("spec");
  EXPECT_EQ(spec.at("scope"), "Namespaced");
  EXPECT_EQ(spec.at("names"), Parse(R"({"kind": "Widget", "listKind": "WidgetList", "plural": "widgets",
    "singular": "widget", "shortNames": ["wd"], "categories": ["vmesh"]})"));
  const json::value& version = spec.at("versions").at(0);
  EXPECT_EQ(version.at("name"), "v1");
  EXPECT_EQ(version.at("served"), true);
  EXPECT_EQ(version.at("storage"), true);
  EXPECT_EQ(version.at("subresources"), Parse(R"({"status": {}})"));
  EXPECT_EQ(version.at("additionalPrinterColumns"),
            Parse(R"([{"name": "COLOR", "type": "string", "jsonPath": ".spec.color"},
                      {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}])"));
  const json::object& root = version.at("schema").at("openAPIV3Schema").as_object();
  EXPECT_EQ(root.at("properties").at("metadata"), Parse(R"({"type": "object"})"));
  EXPECT_EQ(root.at("properties").at("apiVersion"), Parse(R"({"type": "string"})"));
  EXPECT_TRUE(root.at("properties").as_object().contains("spec"));
}

// A kind is emitted once its message exists (IssuedCertificate's proto lands on another branch).
TEST(CrdGenerator, KindIsEmittedOnlyWhenItsMessageExists) {
  TestPool pool;
  pool.Add(kTestProto);
  KindSpec missing = kWidget;
  missing.kind = "Gadget";
  missing.message = "crdgen.test.Gadget";
  GeneratedCrds crds = GenerateCrds(pool.pool(), {missing, kWidget}, nullptr);
  ASSERT_EQ(crds.crds.size(), 1u);
  EXPECT_EQ(crds.crds[0].at("spec").at("names").at("kind"), "Widget");
  EXPECT_THAT(crds.notes, Contains(HasSubstr("Gadget: left out, its message crdgen.test.Gadget is not in the protos")));

  pool.Add(R"pb(
    name: "issued.proto"
    package: "vmesh.api.v1"
    syntax: "proto3"
    dependency: "crdgen_test.proto"
    message_type {
      name: "IssuedCertificateSpec"
      field { name: "mesh" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
      field { name: "cluster" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL }
      field { name: "not_after" number: 3 type: TYPE_STRING label: LABEL_OPTIONAL }
    }
    message_type {
      name: "IssuedCertificate"
      field { name: "metadata" number: 3 type: TYPE_MESSAGE type_name: ".crdgen.test.Meta" label: LABEL_OPTIONAL }
      field {
        name: "spec"
        number: 4
        type: TYPE_MESSAGE
        type_name: ".vmesh.api.v1.IssuedCertificateSpec"
        label: LABEL_OPTIONAL
      }
    }
  )pb");
  crds = GenerateCrds(pool.pool(), VmeshKinds(), nullptr);
  ASSERT_EQ(crds.crds.size(), 1u) << "the other vmesh kinds are not in this pool";
  EXPECT_EQ(crds.crds[0].at("metadata").at("name"), "issuedcertificates.networking.vmesh.dev");
  EXPECT_EQ(crds.crds[0].at("spec").at("names").at("shortNames"), Parse(R"(["vmcert"])"));
  for (const std::string& note : crds.notes) EXPECT_THAT(note, ::testing::Not(HasSubstr("IssuedCertificate")));
}

TEST(CrdGenerator, PrinterColumnOfAFieldTheMessageLacksIsNoted) {
  KindSpec vm = VmeshKinds()[0];
  vm.columns.push_back({"LATER", ".status.notYetThere", "string"});
  GeneratedCrds crds = GenerateCrds(*pb::DescriptorPool::generated_pool(), {vm}, nullptr);
  ASSERT_EQ(crds.crds.size(), 1u);
  ASSERT_EQ(crds.notes.size(), 1u);
  EXPECT_THAT(crds.notes[0], HasSubstr("VirtualMesh: printer column LATER shows .status.notYetThere"));
}

// The CRD table (docs/hub-on-kubernetes.md) and the table of kinds vmeshctl serves name the same resources.
TEST(CrdGenerator, PluralsAgreeWithTheKindsTable) {
  for (const KindSpec& kind : VmeshKinds()) {
    if (const KindInfo* known = FindKind(kind.kind); known != nullptr) {
      EXPECT_EQ(known->plural, kind.plural) << kind.kind;
    }
  }
}

bool HasDescription(const json::value& v) {
  if (const json::object* o = v.if_object()) {
    if (o->contains("description")) return true;
    for (const auto& [key, child] : *o) {
      if (HasDescription(child)) return true;
    }
  } else if (const json::array* a = v.if_array()) {
    for (const auto& child : *a) {
      if (HasDescription(child)) return true;
    }
  }
  return false;
}

TEST(CrdGenerator, ProtoCommentsBecomeDescriptions) {
  auto serialized = ReadFile(VMESH_CRDGEN_DESCRIPTOR_SET);
  ASSERT_TRUE(serialized.ok()) << serialized.error().message;
  auto comments = Comments::FromDescriptorSet(*serialized);
  ASSERT_TRUE(comments.ok()) << comments.error().message;
  const Comments* c = comments->get();

  const json::object status = MessageSchema(api::v1::VirtualMeshStatus::descriptor(), c);
  const json::object& p = status.at("properties").as_object();
  EXPECT_THAT(std::string(p.at("meshSummary").at("description").as_string()), HasSubstr("e.g. \"2/3 accepted\""));
  EXPECT_EQ(p.at("meshes").at("description"), "Keyed by \"<mesh name>.<namespace>\".");
  // A field without a comment of its own has its enum's, with the values' comments.
  const std::string state(p.at("state").at("description").as_string());
  EXPECT_THAT(state, HasSubstr("Lifecycle of a resource as seen by the hub"));
  EXPECT_THAT(state, HasSubstr("\nACCEPTED: Valid and applied everywhere."));
  // A map's values carry their message's comment.
  EXPECT_EQ(p.at("meshes").at("additionalProperties").at("description"), "Status of an object for one mesh.");

  const json::object spec = MessageSchema(api::v1::VirtualMeshSpec::descriptor(), c);
  const json::object& mtls = spec.at("properties").at("mtlsConfig").as_object();
  EXPECT_EQ(mtls.at("description"), "Set at most one of shared or limited.");
  // Comments wrapped over several lines are one paragraph.
  EXPECT_EQ(mtls.at("properties").at("limited").at("description"),
            "Limited trust: each mesh keeps its own CA; gateways share certificates (SPEC §8).");
  // Well-known types are not described by their (long, language-specific) proto comments.
  const json::object& cert = MessageSchema(api::v1::CertificateStatus::descriptor(), c);
  EXPECT_FALSE(cert.at("properties").at("notAfter").as_object().contains("description"));

  EXPECT_FALSE(HasDescription(MessageSchema(api::v1::VirtualMesh::descriptor(), nullptr)));
}

}  // namespace
}  // namespace vmesh::crdgen
