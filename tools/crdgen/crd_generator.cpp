#include "tools/crdgen/crd_generator.h"

#include <google/protobuf/descriptor.pb.h>

#include <algorithm>
#include <boost/json.hpp>
#include <sstream>

#include "common/api/manifest.h"

namespace vmesh::crdgen {

namespace pb = google::protobuf;
namespace json = boost::json;

const std::vector<KindSpec>& VmeshKinds() {
  static const auto* kinds = new std::vector<KindSpec>{
      {"VirtualMesh",
       "virtualmeshes",
       {"vm"},
       "vmesh.api.v1.VirtualMesh",
       {{"STATE", ".status.state", "string"}, {"MESHES", ".status.meshSummary", "string"}}},
      {"AccessPolicy", "accesspolicies", {"ap"}, "vmesh.api.v1.AccessPolicy", {{"STATE", ".status.state", "string"}}},
      {"Cluster",
       "clusters",
       {"vmc"},
       "vmesh.api.v1.Cluster",
       {{"STATE", ".status.state", "string"},
        {"MESHES", ".status.meshCount", "integer"},
        {"AGENT", ".status.agentVersion", "string"}}},
      // NOT-AFTER is a string column: kubectl's `date` type prints the age of a time, which a future expiry lacks.
      {"IssuedCertificate",
       "issuedcertificates",
       {"vmcert"},
       "vmesh.api.v1.IssuedCertificate",
       {{"MESH", ".spec.mesh", "string"},
        {"CLUSTER", ".spec.cluster", "string"},
        {"NOT-AFTER", ".spec.notAfter", "string"}}},
  };
  return *kinds;
}

// ---------------------------------------------------------------------------------------------------------------
// Comments

namespace {

// " Line one\n line two\n\n Next paragraph.\n" -> "Line one line two\nNext paragraph."
std::string Unwrap(const std::string& comment) {
  std::vector<std::string> paragraphs;
  std::string current;
  std::istringstream lines(comment);
  for (std::string line; std::getline(lines, line);) {
    const size_t first = line.find_first_not_of(" \t");
    const size_t last = line.find_last_not_of(" \t\r");
    if (first == std::string::npos) {
      if (!current.empty()) paragraphs.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (!current.empty()) current += ' ';
    current += line.substr(first, last - first + 1);
  }
  if (!current.empty()) paragraphs.push_back(std::move(current));
  std::string out;
  for (const auto& p : paragraphs) out += (out.empty() ? "" : "\n") + p;
  return out;
}

template <typename D>
std::string CommentOf(const D* d) {
  if (d == nullptr) return "";
  pb::SourceLocation location;
  if (!d->GetSourceLocation(&location)) return "";
  std::string text = Unwrap(location.leading_comments);
  return text.empty() ? Unwrap(location.trailing_comments) : text;
}

}  // namespace

Result<std::unique_ptr<Comments>> Comments::FromDescriptorSet(std::string_view serialized) {
  pb::FileDescriptorSet set;
  if (!set.ParseFromArray(serialized.data(), static_cast<int>(serialized.size()))) {
    return MakeError("not a serialized FileDescriptorSet");
  }
  std::unique_ptr<Comments> comments(new Comments());
  for (const auto& file : set.file()) {
    if (!comments->database_.Add(file)) return MakeError("file " + file.name() + " is in the descriptor set twice");
  }
  comments->pool_ = std::make_unique<pb::DescriptorPool>(&comments->database_);
  for (const auto& file : set.file()) {
    if (comments->pool_->FindFileByName(file.name()) == nullptr) {
      return MakeError("file " + file.name() + " of the descriptor set does not link (a missing import?)");
    }
  }
  return comments;
}

std::string Comments::Of(const pb::Descriptor* message) const {
  return CommentOf(pool_->FindMessageTypeByName(message->full_name()));
}

std::string Comments::Of(const pb::FieldDescriptor* field) const {
  const pb::Descriptor* message = pool_->FindMessageTypeByName(field->containing_type()->full_name());
  return message == nullptr ? "" : CommentOf(message->FindFieldByName(field->name()));
}

std::string Comments::Of(const pb::EnumDescriptor* enumeration) const {
  return CommentOf(pool_->FindEnumTypeByName(enumeration->full_name()));
}

std::string Comments::Of(const pb::EnumValueDescriptor* value) const {
  const pb::EnumDescriptor* enumeration = pool_->FindEnumTypeByName(value->type()->full_name());
  return enumeration == nullptr ? "" : CommentOf(enumeration->FindValueByName(value->name()));
}

std::string Comments::Of(const pb::OneofDescriptor* oneof) const {
  const pb::Descriptor* message = pool_->FindMessageTypeByName(oneof->containing_type()->full_name());
  return message == nullptr ? "" : CommentOf(message->FindOneofByName(oneof->name()));
}

// ---------------------------------------------------------------------------------------------------------------
// Schemas

namespace {

// The forms common/api/duration.h's ParseDuration accepts: "0", or numbers with units ("240s", "1.5s", "1h30m").
constexpr char kDurationPattern[] = "^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|\xC2\xB5s|ms|s|m|h))+)$";
constexpr char kSignedPattern[] = "^[+-]?[0-9]+$";
constexpr char kUnsignedPattern[] = "^\\+?[0-9]+$";

// Puts the description first (where readers of the YAML look for it), replacing any the schema had.
void Describe(json::object& schema, const std::string& description) {
  if (description.empty()) return;
  json::object described{{"description", description}};
  for (auto& [key, value] : schema) {
    if (key != "description") described[key] = std::move(value);
  }
  schema = std::move(described);
}

class SchemaBuilder {
 public:
  explicit SchemaBuilder(const Comments* comments) : comments_(comments) {}

  json::object Message(const pb::Descriptor* d) {
    const std::string& name = d->full_name();
    if (name == "google.protobuf.Timestamp") return {{"type", "string"}, {"format", "date-time"}};
    if (name == "google.protobuf.Duration") return {{"type", "string"}, {"pattern", kDurationPattern}};
    if (name == "google.protobuf.Struct" || name == "google.protobuf.Any") {
      return {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
    }
    if (name == "google.protobuf.Value") return {{"x-kubernetes-preserve-unknown-fields", true}};
    if (name == "google.protobuf.ListValue") {
      return {{"type", "array"}, {"items", json::object{{"x-kubernetes-preserve-unknown-fields", true}}}};
    }
    if (name == "google.protobuf.FieldMask") return {{"type", "string"}};
    if (d->file()->name() == "google/protobuf/wrappers.proto") return Value(d->FindFieldByName("value"));

    if (std::find(stack_.begin(), stack_.end(), d) != stack_.end()) {
      // Structural schemas cannot refer back; below a recursion the object is kept as written.
      return {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
    }
    stack_.push_back(d);
    json::object schema{{"type", "object"}};
    json::object properties;
    for (int i = 0; i < d->field_count(); ++i) properties[d->field(i)->json_name()] = Field(d->field(i));
    if (!properties.empty()) schema["properties"] = std::move(properties);
    AddOneofs(d, schema);
    stack_.pop_back();
    return schema;
  }

  json::object Field(const pb::FieldDescriptor* f) {
    json::object schema;
    if (f->is_map()) {
      schema = {{"type", "object"}, {"additionalProperties", Value(f->message_type()->map_value())}};
    } else if (f->is_repeated()) {
      schema = {{"type", "array"}, {"items", Value(f)}};
    } else {
      schema = Value(f);
      // An absent enum is its zero value (proto3), which the hub's JSON omits: the API server fills in its name, so
      // that readers of the object, and printer columns such as STATE (.status.state, PENDING = 0), see it.
      if (f->enum_type() != nullptr && f->enum_type()->FindValueByNumber(0) != nullptr) {
        schema["default"] = f->enum_type()->FindValueByNumber(0)->name();
      }
    }
    if (comments_ == nullptr) return schema;
    std::string own = comments_->Of(f);
    if (own.empty() && f->real_containing_oneof() != nullptr) own = comments_->Of(f->real_containing_oneof());
    if (f->is_map() || f->is_repeated()) {
      // The elements carry their type's description; the field says what the collection is.
      Describe(schema, own);
    } else if (!own.empty()) {
      // The field's own comment replaces its type's, keeping the oneof and enum value notes.
      if (f->message_type() != nullptr) own = WithOneofs(own, f->message_type());
      if (f->enum_type() != nullptr) own = WithEnumValues(own, f->enum_type());
      Describe(schema, own);
    }
    return schema;
  }

  // The schema of one value of `f` (an element, for a repeated field).
  json::object Value(const pb::FieldDescriptor* f) {
    using FD = pb::FieldDescriptor;
    switch (f->type()) {
      case FD::TYPE_MESSAGE:
      case FD::TYPE_GROUP: {
        json::object schema = Message(f->message_type());
        // Well-known types are described by their schema (and their long comments are about other languages).
        if (comments_ != nullptr && f->message_type()->file()->package() != "google.protobuf") {
          Describe(schema, WithOneofs(comments_->Of(f->message_type()), f->message_type()));
        }
        return schema;
      }
      case FD::TYPE_ENUM: {
        json::array names;
        for (int i = 0; i < f->enum_type()->value_count(); ++i) names.emplace_back(f->enum_type()->value(i)->name());
        json::object schema{{"type", "string"}, {"enum", std::move(names)}};
        if (comments_ != nullptr) Describe(schema, WithEnumValues(comments_->Of(f->enum_type()), f->enum_type()));
        return schema;
      }
      case FD::TYPE_STRING:
        return {{"type", "string"}};
      case FD::TYPE_BYTES:
        return {{"type", "string"}, {"format", "byte"}};
      case FD::TYPE_BOOL:
        return {{"type", "boolean"}};
      case FD::TYPE_FLOAT:
      case FD::TYPE_DOUBLE:
        return {{"type", "number"}};
      case FD::TYPE_INT32:
      case FD::TYPE_SINT32:
      case FD::TYPE_SFIXED32:
        return Integer(kSignedPattern, {{"minimum", -2147483648LL}, {"maximum", 2147483647LL}});
      case FD::TYPE_UINT32:
      case FD::TYPE_FIXED32:
        return Integer(kUnsignedPattern, {{"minimum", 0}, {"maximum", 4294967295LL}});
      case FD::TYPE_INT64:
      case FD::TYPE_SINT64:
      case FD::TYPE_SFIXED64:
        return Integer(kSignedPattern, {{"format", "int64"}});
      case FD::TYPE_UINT64:
      case FD::TYPE_FIXED64:
        return Integer(kUnsignedPattern, {{"minimum", 0}});
    }
    return {};
  }

 private:
  // A number or a decimal string (see the header): the shape Kubernetes requires for x-kubernetes-int-or-string.
  static json::object Integer(const char* pattern, json::object bounds) {
    json::object schema{{"x-kubernetes-int-or-string", true},
                        {"anyOf", json::array{json::object{{"type", "integer"}}, json::object{{"type", "string"}}}}};
    for (auto& [key, value] : bounds) schema[key] = value;
    schema["pattern"] = pattern;
    return schema;
  }

  // The oneof groups of two or more members, as `required` alternatives (Istio's form, structural-schema legal).
  static void AddOneofs(const pb::Descriptor* d, json::object& schema) {
    json::array groups;
    for (int i = 0; i < d->real_oneof_decl_count(); ++i) {
      const pb::OneofDescriptor* oneof = d->oneof_decl(i);
      if (oneof->field_count() < 2) continue;
      json::array any;
      json::array alternatives;
      for (int j = 0; j < oneof->field_count(); ++j) {
        json::object required{{"required", json::array{json::string(oneof->field(j)->json_name())}}};
        any.push_back(required);
        alternatives.push_back(std::move(required));
      }
      alternatives.insert(alternatives.begin(), json::object{{"not", json::object{{"anyOf", std::move(any)}}}});
      groups.push_back(json::object{{"oneOf", std::move(alternatives)}});
    }
    if (groups.size() == 1) {
      schema["oneOf"] = std::move(groups[0].as_object()["oneOf"]);
    } else if (!groups.empty()) {
      schema["allOf"] = std::move(groups);
    }
  }

  static std::string WithOneofs(std::string description, const pb::Descriptor* d) {
    for (int i = 0; i < d->real_oneof_decl_count(); ++i) {
      const pb::OneofDescriptor* oneof = d->oneof_decl(i);
      if (oneof->field_count() < 2) continue;
      std::string members;
      for (int j = 0; j < oneof->field_count(); ++j) {
        members += (j == 0 ? "" : j + 1 == oneof->field_count() ? " or " : ", ") + oneof->field(j)->json_name();
      }
      description += (description.empty() ? "" : "\n") + std::string("Set at most one of ") + members + ".";
    }
    return description;
  }

  std::string WithEnumValues(std::string description, const pb::EnumDescriptor* e) const {
    for (int i = 0; i < e->value_count(); ++i) {
      std::string comment = comments_->Of(e->value(i));
      if (!comment.empty()) description += (description.empty() ? "" : "\n") + e->value(i)->name() + ": " + comment;
    }
    return description;
  }

  const Comments* comments_;
  std::vector<const pb::Descriptor*> stack_;
};

// The root schema of a kind's objects: apiVersion, kind and metadata as every CRD has them, then the message's
// other fields (spec, status).
json::object ObjectSchema(const pb::Descriptor* d, const Comments* comments) {
  SchemaBuilder builder(comments);
  json::object properties{{"apiVersion", json::object{{"type", "string"}}},
                          {"kind", json::object{{"type", "string"}}},
                          {"metadata", json::object{{"type", "object"}}}};
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (!properties.contains(f->json_name())) properties[f->json_name()] = builder.Field(f);
  }
  json::object schema{{"type", "object"}};
  if (comments != nullptr) Describe(schema, comments->Of(d));
  schema["properties"] = std::move(properties);
  return schema;
}

// Whether a printer column's ".a.b" path names fields (by JSON name) of the message.
bool HasPath(const pb::Descriptor* d, std::string_view path) {
  while (!path.empty()) {
    if (d == nullptr || path.front() != '.') return false;
    path.remove_prefix(1);
    const size_t dot = path.find('.');
    const std::string name(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot);
    const pb::FieldDescriptor* f = nullptr;
    for (int i = 0; i < d->field_count() && f == nullptr; ++i) {
      if (d->field(i)->json_name() == name) f = d->field(i);
    }
    if (f == nullptr) return false;
    d = f->message_type();
  }
  return true;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

json::value Crd(const KindSpec& kind, const pb::Descriptor* d, const Comments* comments) {
  json::array columns;
  for (const PrinterColumn& c : kind.columns) {
    columns.push_back(json::object{{"name", c.name}, {"type", c.type}, {"jsonPath", c.json_path}});
  }
  columns.push_back(json::object{{"name", "AGE"}, {"type", "date"}, {"jsonPath", ".metadata.creationTimestamp"}});
  json::array short_names;
  for (const auto& s : kind.short_names) short_names.emplace_back(s);
  json::object version{{"name", kVersion},
                       {"served", true},
                       {"storage", true},
                       {"subresources", json::object{{"status", json::object{}}}},
                       {"additionalPrinterColumns", std::move(columns)},
                       {"schema", json::object{{"openAPIV3Schema", ObjectSchema(d, comments)}}}};
  json::object names{{"kind", kind.kind},
                     {"listKind", kind.kind + "List"},
                     {"plural", kind.plural},
                     {"singular", Lower(kind.kind)},
                     {"shortNames", std::move(short_names)},
                     {"categories", json::array{json::string(kCategory)}}};
  return json::object{
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", json::object{{"name", kind.plural + "." + std::string(kGroup)}}},
      {"spec", json::object{{"group", kGroup},
                            {"names", std::move(names)},
                            {"scope", "Namespaced"},
                            {"versions", json::array{std::move(version)}}}},
  };
}

}  // namespace

json::object MessageSchema(const pb::Descriptor* message, const Comments* comments) {
  return SchemaBuilder(comments).Message(message);
}

GeneratedCrds GenerateCrds(const pb::DescriptorPool& pool, const std::vector<KindSpec>& kinds,
                           const Comments* comments) {
  GeneratedCrds out;
  for (const KindSpec& kind : kinds) {
    const pb::Descriptor* d = pool.FindMessageTypeByName(kind.message);
    if (d == nullptr) {
      out.notes.push_back(kind.kind + ": left out, its message " + kind.message + " is not in the protos (yet)");
      continue;
    }
    for (const PrinterColumn& c : kind.columns) {
      if (!HasPath(d, c.json_path)) {
        out.notes.push_back(kind.kind + ": printer column " + c.name + " shows " + c.json_path + ", which " +
                            kind.message + " does not have (yet): kubectl prints it empty");
      }
    }
    out.crds.push_back(Crd(kind, d, comments));
  }
  return out;
}

std::string ToYaml(const GeneratedCrds& generated) {
  std::string out =
      "# The vmesh CustomResourceDefinitions (group networking.vmesh.dev), generated from proto/vmesh/api/v1 by\n"
      "# tools/crdgen: do not edit. Regenerate with ./scripts/gen-crds; install with\n"
      "#   kubectl apply -f charts/vmesh-hub/crds/\n";
  for (const json::value& crd : generated.crds) out += "---\n" + api::JsonToYaml(crd);
  return out;
}

}  // namespace vmesh::crdgen
