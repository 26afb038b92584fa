#include "common/api/manifest.h"

#include <google/protobuf/util/time_util.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>

#include "common/api/duration.h"
#include "common/api/gloo_import.h"
#include "common/api/secret.h"
#include "common/api/validation.h"
#include "common/base/base64.h"
#include "common/base/utf8.h"

namespace vmesh::api {

namespace pb = google::protobuf;

const pb::Message& AsMessage(const Object& object) {
  return std::visit([](const auto& m) -> const pb::Message& { return m; }, object);
}
pb::Message& AsMessage(Object& object) {
  return std::visit([](auto& m) -> pb::Message& { return m; }, object);
}

namespace {

// ---------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------

struct Location {
  int line = 0;    // 1-based, absolute in the manifest
  int column = 0;  // 1-based
};

// Aliases accepted for fields renamed between API versions: (message full name, key) -> JSON name.
const std::map<std::pair<std::string, std::string>, std::string>& FieldAliases() {
  static const auto* aliases = new std::map<std::pair<std::string, std::string>, std::string>{
      // Gloo Mesh >= 1.2 renamed eastWestIngressGatewaySelectors.
      {{"vmesh.api.v1.VirtualMeshSpec.Federation", "ingressGatewaySelectors"}, "eastWestIngressGatewaySelectors"},
  };
  return *aliases;
}

// Walks a yaml-cpp node tree into a protobuf message using reflection.
class NodeDecoder {
 public:
  NodeDecoder(int document, int line_offset, std::vector<FieldError>* errors,
              std::map<std::string, Location>* locations)
      : document_(document), line_offset_(line_offset), errors_(errors), locations_(locations) {}

  void DecodeMessage(const YAML::Node& node, pb::Message* msg, const std::string& path) {
    if (!Budget(node, path)) return;
    const pb::Descriptor* d = msg->GetDescriptor();
    const std::string& type = d->full_name();
    if (type == "google.protobuf.Empty") {
      if (node.IsNull()) return;
      if (!node.IsMap()) return TypeError(node, path, "an empty object {}");
      if (node.size() != 0) {
        auto first = node.begin();
        Error(first->first, Join(path, first->first.Scalar()), "unknown field (this field takes no settings: use {})");
      }
      return;
    }
    if (type == "google.protobuf.Duration" || type == "google.protobuf.Timestamp") {
      return DecodeTime(node, msg, path);
    }
    if (node.IsNull()) return;
    if (!node.IsMap()) return TypeError(node, path, "an object (a map of fields)");

    std::map<std::string, const pb::FieldDescriptor*> by_json;
    for (int i = 0; i < d->field_count(); ++i) by_json[d->field(i)->json_name()] = d->field(i);

    std::map<std::string, int> seen;  // key -> line
    std::map<const pb::OneofDescriptor*, std::string> oneof_set;
    const pb::Reflection* r = msg->GetReflection();
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies (cheap handles): `it->` returns a temporary proxy, so references into it would dangle.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) {
        Error(key, path, "field names must be strings");
        continue;
      }
      std::string name = key.Scalar();
      std::string field_path = Join(path, name);
      if (auto [pos, inserted] = seen.emplace(name, Line(key)); !inserted) {
        Error(key, field_path, "duplicate field (first set on line " + std::to_string(pos->second) + ")");
        continue;
      }
      auto found = by_json.find(name);
      if (found == by_json.end()) {
        if (auto alias = FieldAliases().find({type, name}); alias != FieldAliases().end()) {
          found = by_json.find(alias->second);
        }
      }
      if (found == by_json.end()) {
        Error(key, field_path, UnknownFieldMessage(name, d));
        continue;
      }
      Record(field_path, key);
      const pb::FieldDescriptor* field = found->second;
      if (value.IsNull() && !field->is_repeated()) continue;  // null = unset, as in proto3 JSON
      if (const pb::OneofDescriptor* oneof = field->real_containing_oneof()) {
        if (auto prior = oneof_set.find(oneof); prior != oneof_set.end()) {
          Error(key, path.empty() ? field_path : path,
                "only one of " + OneofMembers(oneof) + " may be set (both " + prior->second + " and " +
                    field->json_name() + " are)");
          continue;
        }
        oneof_set[oneof] = field->json_name();
      }
      if (field->is_map()) {
        DecodeMap(value, msg, r, field, field_path);
      } else if (field->is_repeated()) {
        if (value.IsNull()) continue;
        if (!value.IsSequence()) {
          TypeError(value, field_path, "a list");
          continue;
        }
        for (size_t i = 0; i < value.size(); ++i) {
          DecodeValue(value[i], msg, r, field, field_path + "[" + std::to_string(i) + "]", /*repeated=*/true);
        }
      } else {
        DecodeValue(value, msg, r, field, field_path, /*repeated=*/false);
      }
    }
  }

 private:
  static std::string Join(const std::string& path, const std::string& name) {
    return path.empty() ? name : path + "." + name;
  }

  int Line(const YAML::Node& node) const { return node.Mark().line < 0 ? 0 : node.Mark().line + 1 + line_offset_; }

  void Record(const std::string& path, const YAML::Node& node) {
    if (locations_ != nullptr) locations_->emplace(path, Location{Line(node), node.Mark().column + 1});
  }

  void Error(const YAML::Node& at, const std::string& path, const std::string& message) {
    errors_->push_back(FieldError{path, message, document_, Line(at), at.Mark().column + 1});
  }

  // Refuses pathological documents (e.g. alias bombs) instead of walking them for ever.
  bool Budget(const YAML::Node& node, const std::string& path) {
    if (++visited_ <= kMaxNodes) return true;
    if (visited_ == kMaxNodes + 1) Error(node, path, "document is too large or too deeply aliased");
    return false;
  }

  static std::string Describe(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return "a map";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Null:
        return "null";
      default: {
        std::string s = node.Scalar();
        if (s.size() > 60) s = s.substr(0, 57) + "...";
        return "\"" + s + "\"";
      }
    }
  }

  void TypeError(const YAML::Node& node, const std::string& path, const std::string& expected) {
    Error(node, path, "expected " + expected + ", got " + Describe(node));
  }

  static std::string OneofMembers(const pb::OneofDescriptor* oneof) {
    std::string out;
    for (int i = 0; i < oneof->field_count(); ++i) {
      if (i > 0) out += i + 1 == oneof->field_count() ? " or " : ", ";
      out += oneof->field(i)->json_name();
    }
    return out;
  }

  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  static std::string UnknownFieldMessage(const std::string& name, const pb::Descriptor* d) {
    std::string msg = "unknown field \"" + name + "\"";
    std::string folded = Lower(name);
    folded.erase(std::remove(folded.begin(), folded.end(), '_'), folded.end());
    std::string known;
    for (int i = 0; i < d->field_count(); ++i) {
      const std::string& json = d->field(i)->json_name();
      if (Lower(json) == folded) return msg + " (did you mean \"" + json + "\"?)";
      known += (known.empty() ? "" : ", ") + json;
    }
    if (d->field_count() == 0) return msg + " (this object takes no fields)";
    return msg + " (known fields: " + known + ")";
  }

  void DecodeMap(const YAML::Node& value, pb::Message* msg, const pb::Reflection* r, const pb::FieldDescriptor* field,
                 const std::string& path) {
    if (value.IsNull()) return;
    if (!value.IsMap()) return TypeError(value, path, "a map");
    const pb::FieldDescriptor* key_field = field->message_type()->map_key();
    const pb::FieldDescriptor* value_field = field->message_type()->map_value();
    std::set<std::string> seen;
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!it->first.IsScalar()) {
        Error(it->first, path, "map keys must be strings");
        continue;
      }
      std::string key = it->first.Scalar();
      if (key_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING && !CheckUtf8(it->first, key, path + " key")) {
        continue;
      }
      std::string entry_path = path + "[" + key + "]";
      if (!seen.insert(key).second) {
        Error(it->first, entry_path, "duplicate key");
        continue;
      }
      pb::Message* entry = r->AddMessage(msg, field);
      const pb::Reflection* er = entry->GetReflection();
      if (key_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
        er->SetString(entry, key_field, key);
      } else {
        DecodeValue(it->first, entry, er, key_field, entry_path, false);
      }
      Record(entry_path, it->first);
      if (it->second.IsNull() && value_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
        Error(it->second, entry_path, "expected a string, got null (quote the value if it is meant to be empty: \"\")");
        continue;
      }
      DecodeValue(it->second, entry, er, value_field, entry_path, false);
    }
  }

  // Protobuf strings must be UTF-8: anything else would not serialize into the store or onto the link.
  // Strings are UTF-8 text of YAML's printable characters: no control characters other than tab, line feed and
  // carriage return (a NUL or an escape byte in a name or a path is a mistake, and one no output could carry).
  bool CheckUtf8(const YAML::Node& node, const std::string& s, const std::string& path) {
    static const char* kHex = "0123456789abcdef";
    const std::size_t bad = InvalidUtf8Offset(s);
    if (bad != std::string::npos) {
      const auto b = static_cast<unsigned char>(s[bad]);
      Error(node, path,
            std::string("expected UTF-8 text, got the byte 0x") + kHex[b >> 4] + kHex[b & 15] + " at character " +
                std::to_string(bad + 1) + " of the value");
      return false;
    }
    static const char* kUpperHex = "0123456789ABCDEF";
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto b = static_cast<unsigned char>(s[i]);
      if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f) {
        Error(node, path,
              std::string("expected printable text, got the control character U+00") + kUpperHex[b >> 4] +
                  kUpperHex[b & 15] + " at byte " + std::to_string(i + 1) + " of the value");
        return false;
      }
    }
    return true;
  }

  template <typename T>
  bool ParseInteger(const YAML::Node& node, const std::string& path, const char* expected, T* out) {
    if (!node.IsScalar()) {
      TypeError(node, path, expected);
      return false;
    }
    const std::string& s = node.Scalar();
    const char* begin = s.data();
    const char* end = s.data() + s.size();
    if (begin != end && *begin == '+') ++begin;
    auto [ptr, ec] = std::from_chars(begin, end, *out);
    if (ec == std::errc::result_out_of_range) {
      Error(node, path,
            std::string(expected) + " is out of range: \"" + s + "\" (at most " +
                std::to_string(std::numeric_limits<T>::max()) + ")");
      return false;
    }
    if (ec != std::errc() || ptr != end || begin == end) {
      TypeError(node, path, expected);
      return false;
    }
    return true;
  }

  void DecodeValue(const YAML::Node& node, pb::Message* msg, const pb::Reflection* r, const pb::FieldDescriptor* f,
                   const std::string& path, bool repeated) {
    using FD = pb::FieldDescriptor;
    switch (f->cpp_type()) {
      case FD::CPPTYPE_MESSAGE: {
        pb::Message* child = repeated ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
        DecodeMessage(node, child, path);
        return;
      }
      case FD::CPPTYPE_STRING: {
        if (!node.IsScalar()) return TypeError(node, path, "a string");
        if (f->type() == FD::TYPE_BYTES) {
          std::optional<std::string> decoded = vmesh::Base64Decode(node.Scalar());
          if (!decoded) return TypeError(node, path, "base64-encoded bytes");
          repeated ? r->AddString(msg, f, *decoded) : r->SetString(msg, f, *decoded);
        } else {
          if (!CheckUtf8(node, node.Scalar(), path)) return;
          repeated ? r->AddString(msg, f, node.Scalar()) : r->SetString(msg, f, node.Scalar());
        }
        return;
      }
      case FD::CPPTYPE_BOOL: {
        if (!node.IsScalar() || IsQuoted(node) || (node.Scalar() != "true" && node.Scalar() != "false")) {
          return TypeError(node, path, "true or false");
        }
        bool v = node.Scalar() == "true";
        repeated ? r->AddBool(msg, f, v) : r->SetBool(msg, f, v);
        return;
      }
      case FD::CPPTYPE_UINT32: {
        std::uint32_t v;
        if (!IsSignless(node, path, "an unsigned integer") || !ParseInteger(node, path, "an unsigned integer", &v)) {
          return;
        }
        repeated ? r->AddUInt32(msg, f, v) : r->SetUInt32(msg, f, v);
        return;
      }
      case FD::CPPTYPE_UINT64: {
        std::uint64_t v;
        if (!IsSignless(node, path, "an unsigned integer") || !ParseInteger(node, path, "an unsigned integer", &v)) {
          return;
        }
        repeated ? r->AddUInt64(msg, f, v) : r->SetUInt64(msg, f, v);
        return;
      }
      case FD::CPPTYPE_INT32: {
        std::int32_t v;
        if (!ParseInteger(node, path, "an integer", &v)) return;
        repeated ? r->AddInt32(msg, f, v) : r->SetInt32(msg, f, v);
        return;
      }
      case FD::CPPTYPE_INT64: {
        std::int64_t v;
        if (!ParseInteger(node, path, "an integer", &v)) return;
        repeated ? r->AddInt64(msg, f, v) : r->SetInt64(msg, f, v);
        return;
      }
      case FD::CPPTYPE_FLOAT:
      case FD::CPPTYPE_DOUBLE: {
        double v;
        if (!ParseDouble(node, &v)) return TypeError(node, path, "a number");
        if (f->cpp_type() == FD::CPPTYPE_FLOAT) {
          repeated ? r->AddFloat(msg, f, static_cast<float>(v)) : r->SetFloat(msg, f, static_cast<float>(v));
        } else {
          repeated ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
        }
        return;
      }
      case FD::CPPTYPE_ENUM: {
        const pb::EnumDescriptor* e = f->enum_type();
        const pb::EnumValueDescriptor* ev = node.IsScalar() ? e->FindValueByName(node.Scalar()) : nullptr;
        if (ev == nullptr) {
          std::string names;
          for (int i = 0; i < e->value_count(); ++i) names += (i ? ", " : "") + e->value(i)->name();
          return TypeError(node, path, "one of " + names);
        }
        repeated ? r->AddEnumValue(msg, f, ev->number()) : r->SetEnumValue(msg, f, ev->number());
        return;
      }
    }
  }

  // yaml-cpp tags quoted scalars "!" and plain ones "?".
  static bool IsQuoted(const YAML::Node& node) { return node.Tag() == "!"; }

  bool IsSignless(const YAML::Node& node, const std::string& path, const char* expected) {
    if (node.IsScalar() && !node.Scalar().empty() && node.Scalar()[0] == '-') {
      Error(node, path, std::string("expected ") + expected + ", got \"" + node.Scalar() + "\" (must not be negative)");
      return false;
    }
    return true;
  }

  static bool ParseDouble(const YAML::Node& node, double* out) {
    if (!node.IsScalar() || node.Scalar().empty()) return false;
    const std::string& s = node.Scalar();
    char* end = nullptr;
    *out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && std::isfinite(*out);
  }

  void DecodeTime(const YAML::Node& node, pb::Message* msg, const std::string& path) {
    const bool is_duration = msg->GetDescriptor()->full_name() == "google.protobuf.Duration";
    if (!node.IsScalar()) {
      return TypeError(node, path, is_duration ? "a duration such as \"240s\" or \"4m\"" : "an RFC 3339 timestamp");
    }
    const pb::Descriptor* d = msg->GetDescriptor();
    const pb::Reflection* r = msg->GetReflection();
    std::int64_t seconds = 0;
    std::int32_t nanos = 0;
    if (is_duration) {
      auto parsed = ParseDuration(node.Scalar());
      if (!parsed.ok()) return Error(node, path, parsed.error().message);
      seconds = parsed->count() / 1000000000;
      nanos = static_cast<std::int32_t>(parsed->count() % 1000000000);
    } else {
      pb::Timestamp ts;
      if (!pb::util::TimeUtil::FromString(node.Scalar(), &ts)) {
        return TypeError(node, path, "an RFC 3339 timestamp such as \"2026-01-02T15:04:05Z\"");
      }
      seconds = ts.seconds();
      nanos = ts.nanos();
    }
    r->SetInt64(msg, d->FindFieldByName("seconds"), seconds);
    r->SetInt32(msg, d->FindFieldByName("nanos"), nanos);
  }

  static constexpr int kMaxNodes = 1000000;
  int document_;
  int line_offset_;
  std::vector<FieldError>* errors_;
  std::map<std::string, Location>* locations_;
  int visited_ = 0;
};

struct RawDocument {
  std::string text;
  int line_offset = 0;  // lines before the document's first line
};

// Splits a multi-document YAML stream on "---" lines (and "..." document ends). Splitting ourselves keeps
// one broken document from hiding the errors of the others and gives every document its line offset.
std::vector<RawDocument> SplitDocuments(std::string_view text) {
  std::vector<RawDocument> docs;
  RawDocument current;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    bool separator = (line.rfind("---", 0) == 0 &&
                      (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r' || line[3] == '#')) ||
                     line == "..." || line == "...\r";
    if (separator) {
      docs.push_back(std::move(current));
      current = RawDocument{};
      current.line_offset = line_no;
      // Content after "--- " on the same line belongs to the new document; keep the line so numbering holds.
      std::string rest(line.size() > 3 && line.substr(0, 3) == "---" ? line.substr(3) : std::string_view());
      current.text += rest;
      current.text += '\n';
    } else {
      current.text += line;
      current.text += '\n';
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
    ++line_no;
  }
  docs.push_back(std::move(current));
  return docs;
}

bool IsBlank(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t eol = text.find('\n', i);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + i, eol - i);
    size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#') return false;
    i = eol + 1;
  }
  return true;
}

std::string ScalarOr(const YAML::Node& map, const char* key) {
  const YAML::Node v = map[key];
  return v && v.IsScalar() ? v.Scalar() : std::string();
}

// Fills document/line of validation errors from the locations recorded while decoding.
void Locate(std::vector<FieldError>& errors, int document, int fallback_line,
            const std::map<std::string, Location>& locations) {
  for (auto& e : errors) {
    e.document = document;
    std::string path = e.path;
    while (!path.empty()) {
      if (auto it = locations.find(path); it != locations.end()) {
        e.line = it->second.line;
        e.column = it->second.column;
        break;
      }
      size_t cut = path.find_last_of(".[");
      path = cut == std::string::npos ? std::string() : path.substr(0, cut);
    }
    if (e.line == 0) e.line = fallback_line;
  }
}

struct KindInfo {
  std::string_view api_version;
  std::string_view kind;
  Object (*make)();
};

const std::vector<KindInfo>& Kinds() {
  static const auto* kinds = new std::vector<KindInfo>{
      {kNetworkingApiVersion, "VirtualMesh", [] { return Object(v1::VirtualMesh()); }},
      {kNetworkingApiVersion, "AccessPolicy", [] { return Object(v1::AccessPolicy()); }},
      {kDiscoveryApiVersion, "Mesh", [] { return Object(v1::Mesh()); }},
      {kDiscoveryApiVersion, "Destination", [] { return Object(v1::Destination()); }},
      {kDiscoveryApiVersion, "Workload", [] { return Object(v1::Workload()); }},
      {kDiscoveryApiVersion, "Cluster", [] { return Object(v1::Cluster()); }},
      {kCoreApiVersion, kSecretKind, [] { return Object(v1::Secret()); }},
  };
  return *kinds;
}

class ManifestDecoder {
 public:
  explicit ManifestDecoder(const DecodeOptions& options) : options_(options) {}

  DecodeResult Run(std::string_view text) {
    DecodeResult result;
    if (text.size() > options_.max_bytes) {
      result.errors.push_back(FieldError{"", "manifest is " + std::to_string(text.size()) + " bytes, more than the " +
                                                 std::to_string(options_.max_bytes) + " accepted"});
      return result;
    }
    int document = 0;
    for (RawDocument& raw : SplitDocuments(text)) {
      if (IsBlank(raw.text)) continue;
      ++document;
      DecodeDocument(raw, document, &result);
    }
    if (document == 0) result.errors.push_back(FieldError{"", "manifest contains no objects"});
    if (!result.errors.empty()) result.objects.clear();
    return result;
  }

 private:
  void DecodeDocument(const RawDocument& raw, int document, DecodeResult* result) {
    YAML::Node root;
    try {
      root = YAML::Load(raw.text);
    } catch (const YAML::Exception& e) {
      int line = e.mark.line < 0 ? raw.line_offset + 1 : e.mark.line + 1 + raw.line_offset;
      result->errors.push_back(FieldError{"", "invalid YAML/JSON: " + e.msg, document, line, e.mark.column + 1});
      return;
    }
    const int start_line = raw.line_offset + 1 + FirstContentLine(raw.text);
    if (!root.IsMap()) {
      result->errors.push_back(FieldError{"",
                                          "expected an object with apiVersion and kind, got " +
                                              std::string(root.IsSequence() ? "a list" : "a scalar value"),
                                          document, start_line});
      return;
    }
    if (ScalarOr(root, "kind") == "List" && root["items"]) {
      DecodeList(root, raw, document, result);
      return;
    }
    DecodeObject(root, raw.line_offset, document, start_line, "", result);
  }

  static int FirstContentLine(const std::string& text) {
    int line = 0;
    size_t i = 0;
    while (i < text.size()) {
      size_t eol = text.find('\n', i);
      if (eol == std::string::npos) eol = text.size();
      std::string_view l(text.data() + i, eol - i);
      size_t first = l.find_first_not_of(" \t\r");
      if (first != std::string_view::npos && l[first] != '#') return line;
      ++line;
      i = eol + 1;
    }
    return 0;
  }

  void DecodeList(const YAML::Node& root, const RawDocument& raw, int document, DecodeResult* result) {
    const YAML::Node items = root["items"];
    if (!items.IsSequence()) {
      result->errors.push_back(
          FieldError{"items", "expected a list", document, items.Mark().line + 1 + raw.line_offset});
      return;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const YAML::Node item = items[i];
      int line = item.Mark().line + 1 + raw.line_offset;
      std::string prefix = "items[" + std::to_string(i) + "]";
      if (!item.IsMap()) {
        result->errors.push_back(FieldError{prefix, "expected an object with apiVersion and kind", document, line});
        continue;
      }
      DecodeObject(item, raw.line_offset, document, line, prefix, result);
    }
  }

  void DecodeObject(const YAML::Node& node, int line_offset, int document, int start_line, const std::string& prefix,
                    DecodeResult* result) {
    auto at = [&](const char* field) { return prefix.empty() ? std::string(field) : prefix + "." + field; };
    const YAML::Node api_version_node = node["apiVersion"];
    const YAML::Node kind_node = node["kind"];
    std::vector<FieldError> errors;
    if (!api_version_node || !api_version_node.IsScalar()) {
      errors.push_back(FieldError{at("apiVersion"),
                                  "required: every object needs apiVersion and kind (this document looks like a "
                                  "fragment, not a complete object)",
                                  document, start_line});
    }
    if (!kind_node || !kind_node.IsScalar()) {
      errors.push_back(
          FieldError{at("kind"), "required: every object needs apiVersion and kind", document, start_line});
    }
    if (!errors.empty()) {
      result->errors.insert(result->errors.end(), errors.begin(), errors.end());
      return;
    }
    std::string api_version = api_version_node.Scalar();
    std::string kind = kind_node.Scalar();
    int kind_line = kind_node.Mark().line + 1 + line_offset;

    const bool gloo = api_version == kGlooNetworkingApiVersion;
    const std::string effective_api_version = gloo ? std::string(kNetworkingApiVersion) : api_version;
    const KindInfo* info = nullptr;
    bool api_version_known = false;
    for (const KindInfo& k : Kinds()) {
      if (k.api_version == effective_api_version) {
        api_version_known = true;
        if (k.kind == kind) info = &k;
      }
    }
    if (info == nullptr) {
      std::string supported;
      for (const KindInfo& k : Kinds())
        supported += (supported.empty() ? "" : ", ") + std::string(k.api_version) + " " + std::string(k.kind);
      supported += ", " + std::string(kGlooNetworkingApiVersion) + " VirtualMesh and AccessPolicy (imported)";
      if (!api_version_known) {
        result->errors.push_back(FieldError{
            at("apiVersion"), "unsupported apiVersion \"" + api_version + "\" (supported: " + supported + ")", document,
            api_version_node.Mark().line + 1 + line_offset});
      } else {
        result->errors.push_back(FieldError{
            at("kind"),
            "unsupported kind \"" + kind + "\" for apiVersion " + api_version + " (supported: " + supported + ")",
            document, kind_line});
      }
      return;
    }

    Object object = info->make();
    pb::Message& msg = AsMessage(object);
    std::map<std::string, Location> locations;
    std::vector<FieldError> decode_errors;
    NodeDecoder decoder(document, line_offset, &decode_errors, &locations);
    decoder.DecodeMessage(node, &msg, prefix);
    if (!prefix.empty()) {
      // Paths of list items are reported with their "items[i]." prefix; validation paths are relative.
      std::map<std::string, Location> relative;
      for (auto& [path, loc] : locations) {
        if (path.rfind(prefix + ".", 0) == 0) relative.emplace(path.substr(prefix.size() + 1), loc);
      }
      locations.swap(relative);
    }
    if (!decode_errors.empty()) {
      result->errors.insert(result->errors.end(), decode_errors.begin(), decode_errors.end());
      return;
    }

    std::string note;
    if (gloo) {
      auto imported = ImportGlooObject(object, options_.hub_namespace);
      if (!imported.errors.empty()) {
        Locate(imported.errors, document, start_line, locations);
        Prefix(imported.errors, prefix);
        result->errors.insert(result->errors.end(), imported.errors.begin(), imported.errors.end());
        return;
      }
      note = imported.note;
    }

    const pb::FieldDescriptor* meta_field = msg.GetDescriptor()->FindFieldByName("metadata");
    auto* meta = static_cast<v1::ObjectMeta*>(msg.GetReflection()->MutableMessage(&msg, meta_field));
    if (meta->namespace_().empty()) meta->set_namespace_(options_.hub_namespace);

    if (options_.validate) {
      std::vector<FieldError> invalid;
      if (auto* vm = std::get_if<v1::VirtualMesh>(&object)) invalid = ValidateVirtualMesh(*vm);
      if (auto* ap = std::get_if<v1::AccessPolicy>(&object)) invalid = ValidateAccessPolicy(*ap);
      if (auto* secret = std::get_if<v1::Secret>(&object)) invalid = ValidateSecret(*secret);
      if (!invalid.empty()) {
        Locate(invalid, document, start_line, locations);
        Prefix(invalid, prefix);
        std::string who = kind + " " + Identify(msg);
        for (auto& e : invalid) e.object = who;
        result->errors.insert(result->errors.end(), invalid.begin(), invalid.end());
        return;
      }
    }
    result->objects.push_back(DecodedObject{std::move(object), document, start_line, std::move(note)});
  }

  static void Prefix(std::vector<FieldError>& errors, const std::string& prefix) {
    if (prefix.empty()) return;
    for (auto& e : errors) e.path = e.path.empty() ? prefix : prefix + "." + e.path;
  }

  static std::string Identify(const pb::Message& msg) {
    const pb::FieldDescriptor* meta_field = msg.GetDescriptor()->FindFieldByName("metadata");
    if (meta_field == nullptr) return "";
    const auto& meta = static_cast<const v1::ObjectMeta&>(msg.GetReflection()->GetMessage(msg, meta_field));
    return (meta.namespace_().empty() ? "" : meta.namespace_() + "/") + meta.name();
  }

  const DecodeOptions& options_;
};

// ---------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------

boost::json::value FloatValue(float f) {
  // Print the shortest decimal that round-trips the float (0.1f -> 0.1, not 0.10000000149).
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f);
  return std::strtod(std::string(buf, end).c_str(), nullptr);
}

boost::json::value ScalarToJson(const pb::Message& m, const pb::Reflection* r, const pb::FieldDescriptor* f, int index);

boost::json::value MessageToJson(const pb::Message& m) {
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  const std::string& type = d->full_name();
  if (type == "google.protobuf.Duration" || type == "google.protobuf.Timestamp") {
    std::int64_t seconds = r->GetInt64(m, d->FindFieldByName("seconds"));
    std::int32_t nanos = r->GetInt32(m, d->FindFieldByName("nanos"));
    if (type == "google.protobuf.Duration") return boost::json::string(FormatDuration(seconds, nanos));
    pb::Timestamp ts;
    ts.set_seconds(seconds);
    ts.set_nanos(nanos);
    return boost::json::string(pb::util::TimeUtil::ToString(ts));
  }
  boost::json::object out;
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->is_map()) {
      int n = r->FieldSize(m, f);
      if (n == 0) continue;
      const pb::FieldDescriptor* kf = f->message_type()->map_key();
      const pb::FieldDescriptor* vf = f->message_type()->map_value();
      std::map<std::string, boost::json::value> sorted;
      for (int j = 0; j < n; ++j) {
        const pb::Message& entry = r->GetRepeatedMessage(m, f, j);
        boost::json::value key = ScalarToJson(entry, entry.GetReflection(), kf, -1);
        std::string key_string = key.is_string() ? std::string(key.as_string()) : boost::json::serialize(key);
        sorted[key_string] = ScalarToJson(entry, entry.GetReflection(), vf, -1);
      }
      boost::json::object obj;
      for (auto& [k, v] : sorted) obj[k] = std::move(v);
      out[f->json_name()] = std::move(obj);
    } else if (f->is_repeated()) {
      int n = r->FieldSize(m, f);
      if (n == 0) continue;
      boost::json::array arr;
      for (int j = 0; j < n; ++j) arr.push_back(ScalarToJson(m, r, f, j));
      out[f->json_name()] = std::move(arr);
    } else if (r->HasField(m, f)) {
      out[f->json_name()] = ScalarToJson(m, r, f, -1);
    }
  }
  return out;
}

boost::json::value ScalarToJson(const pb::Message& m, const pb::Reflection* r, const pb::FieldDescriptor* f, int i) {
  using FD = pb::FieldDescriptor;
  const bool rep = i >= 0;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_MESSAGE:
      return MessageToJson(rep ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f));
    case FD::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(m, f, i) : r->GetString(m, f);
      return boost::json::string(f->type() == FD::TYPE_BYTES ? vmesh::Base64Encode(s) : s);
    }
    case FD::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f);
    case FD::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f);
    case FD::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f);
    case FD::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f);
    case FD::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f);
    case FD::CPPTYPE_FLOAT:
      return FloatValue(rep ? r->GetRepeatedFloat(m, f, i) : r->GetFloat(m, f));
    case FD::CPPTYPE_DOUBLE:
      return rep ? r->GetRepeatedDouble(m, f, i) : r->GetDouble(m, f);
    case FD::CPPTYPE_ENUM: {
      int number = rep ? r->GetRepeatedEnumValue(m, f, i) : r->GetEnumValue(m, f);
      const pb::EnumValueDescriptor* ev = f->enum_type()->FindValueByNumber(number);
      if (ev == nullptr) return number;
      return boost::json::string(ev->name());
    }
  }
  return nullptr;
}

// A string that YAML would read as something else (a number, a bool, null, ...) must be quoted.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const std::set<std::string> kSpecial = {"true", "false", "True", "False", "TRUE", "FALSE", "yes",  "no", "Yes",
                                                 "No",   "YES",   "NO",   "on",    "off",  "On",    "Off",  "ON", "OFF",
                                                 "y",    "n",     "Y",    "N",     "null", "Null",  "NULL", "~"};
  if (kSpecial.count(s)) return true;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  if (end == s.c_str() + s.size()) return true;
  return false;
}

void EmitYaml(YAML::Emitter& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      const auto& obj = v.get_object();
      if (obj.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (const auto& [k, val] : obj) {
        out << YAML::Key;
        std::string key(k);
        if (NeedsQuotes(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        EmitYaml(out, val);
      }
      out << YAML::EndMap;
      return;
    }
    case boost::json::kind::array: {
      const auto& arr = v.get_array();
      if (arr.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& item : arr) EmitYaml(out, item);
      out << YAML::EndSeq;
      return;
    }
    case boost::json::kind::string: {
      std::string s(v.get_string());
      if (s.find('\n') != std::string::npos) {
        // A literal block (PEM reads best so) gives back exactly its text only when that ends in one line break
        // (clip chomping) and has no CR, tab or leading space; anything else is written double-quoted with escapes.
        const bool literal_exact = s.back() == '\n' && (s.size() < 2 || s[s.size() - 2] != '\n') && s[0] != ' ' &&
                                   s[0] != '\n' && s.find_first_of("\r\t") == std::string::npos;
        out << (literal_exact ? YAML::Literal : YAML::DoubleQuoted) << s;
      } else {
        if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
        out << s;
      }
      return;
    }
    case boost::json::kind::bool_:
      out << (v.get_bool() ? "true" : "false");
      return;
    case boost::json::kind::int64:
      out << v.get_int64();
      return;
    case boost::json::kind::uint64:
      out << v.get_uint64();
      return;
    case boost::json::kind::double_: {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
      out << std::string(buf, end);
      return;
    }
    case boost::json::kind::null:
      out << YAML::Null;
      return;
  }
}

void PrettyPrint(std::string& out, const boost::json::value& v, int indent) {
  const std::string pad(indent + 2, ' ');
  switch (v.kind()) {
    case boost::json::kind::object: {
      const auto& obj = v.get_object();
      if (obj.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      bool first = true;
      for (const auto& [k, val] : obj) {
        if (!first) out += ",\n";
        first = false;
        out += pad + boost::json::serialize(boost::json::string(k)) + ": ";
        PrettyPrint(out, val, indent + 2);
      }
      out += "\n" + std::string(indent, ' ') + "}";
      return;
    }
    case boost::json::kind::array: {
      const auto& arr = v.get_array();
      if (arr.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      for (size_t i = 0; i < arr.size(); ++i) {
        if (i) out += ",\n";
        out += pad;
        PrettyPrint(out, arr[i], indent + 2);
      }
      out += "\n" + std::string(indent, ' ') + "]";
      return;
    }
    default:
      out += boost::json::serialize(v);
  }
}

}  // namespace

DecodeResult DecodeManifests(std::string_view text, const DecodeOptions& options) {
  return ManifestDecoder(options).Run(text);
}

std::vector<FieldError> DecodeInto(std::string_view text, pb::Message* message, const std::string& path_prefix) {
  std::vector<FieldError> errors;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    errors.push_back(FieldError{path_prefix, "invalid YAML/JSON: " + e.msg, 0, e.mark.line + 1, e.mark.column + 1});
    return errors;
  }
  NodeDecoder(0, 0, &errors, nullptr).DecodeMessage(root, message, path_prefix);
  return errors;
}

boost::json::value ToJson(const pb::Message& message) { return MessageToJson(message); }

std::string PrettyJson(const boost::json::value& value) {
  std::string out;
  PrettyPrint(out, value, 0);
  out += '\n';
  return out;
}

std::string JsonToYaml(const boost::json::value& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  EmitYaml(out, value);
  std::string s = out.c_str();
  if (s.empty() || s.back() != '\n') s += '\n';
  return s;
}

std::string Encode(const pb::Message& message, Format format) {
  boost::json::value v = ToJson(message);
  return format == Format::kJson ? PrettyJson(v) : JsonToYaml(v);
}

std::string EncodeAll(const std::vector<const pb::Message*>& messages, Format format) {
  if (format == Format::kJson) {
    boost::json::array items;
    for (const auto* m : messages) items.push_back(ToJson(*m));
    return PrettyJson(boost::json::object{{"apiVersion", "v1"}, {"kind", "List"}, {"items", std::move(items)}});
  }
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i > 0) out += "---\n";
    out += JsonToYaml(ToJson(*messages[i]));
  }
  return out;
}

}  // namespace vmesh::api
