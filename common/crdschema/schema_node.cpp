#include "common/crdschema/schema_node.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

namespace vmesh::crdschema::internal {
namespace {

namespace json = boost::json;

// Strings longer than this are not matched against `pattern`: libstdc++'s std::regex recurses per character
// and would overflow the stack on very long input. Istio's patterns are all on short, length-limited names.
constexpr size_t kMaxPatternInput = 4096;

// At most this many known field names are listed in an "unknown field" message.
constexpr size_t kMaxListedFields = 24;

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

std::string Quote(std::string_view s) { return json::serialize(json::string_view(s.data(), s.size())); }

// ---------------------------------------------------------------------------------------------------------------
// Compilation

class Compiler {
 public:
  explicit Compiler(SchemaArena& arena) : arena_(arena) {}

  Result<const SchemaNode*> Compile(const json::value& value, const std::string& where) {
    const json::object* o = value.if_object();
    if (o == nullptr) return MakeError(where + ": a schema must be an object, got " + DescribeValue(value));
    SchemaNode& node = arena_.emplace_back();
    node.required_only = !o->empty();
    for (const auto& [key, v] : *o) {
      if (key != "required" && key != "description") node.required_only = false;
      Status s = Keyword(node, key, v, where);
      if (!s.ok()) return s.error();
    }
    if (!node.one_of.empty()) node.exclusive_fields = ExclusiveFields(node.one_of);
    return &node;
  }

 private:
  Status Keyword(SchemaNode& node, std::string_view key, const json::value& v, const std::string& where) {
    const std::string at = where + "." + std::string(key);
    if (key == "type") {
      static const std::map<std::string, JsonType, std::less<>> kTypes = {
          {"object", JsonType::kObject},   {"array", JsonType::kArray},   {"string", JsonType::kString},
          {"integer", JsonType::kInteger}, {"number", JsonType::kNumber}, {"boolean", JsonType::kBoolean}};
      const json::string* s = v.if_string();
      auto it = s != nullptr ? kTypes.find(std::string_view(*s)) : kTypes.end();
      if (it == kTypes.end()) return MakeError(at + ": unsupported type " + DescribeValue(v));
      node.type = it->second;
    } else if (key == "nullable") {
      return Bool(v, at, node.nullable);
    } else if (key == "default") {
      node.default_value = v;
    } else if (key == "x-kubernetes-preserve-unknown-fields") {
      return Bool(v, at, node.preserve_unknown_fields);
    } else if (key == "x-kubernetes-int-or-string") {
      return Bool(v, at, node.int_or_string);
    } else if (key == "properties") {
      const json::object* props = v.if_object();
      if (props == nullptr) return MakeError(at + ": must be an object of schemas");
      node.has_properties = true;
      for (const auto& [name, sub] : *props) {
        Result<const SchemaNode*> child = Compile(sub, at + "." + std::string(name));
        if (!child.ok()) return child.error();
        node.properties.emplace_back(std::string(name), *child);
      }
      std::sort(node.properties.begin(), node.properties.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
    } else if (key == "additionalProperties") {
      if (v.is_bool()) {
        node.additional = v.get_bool() ? Additional::kAllow : Additional::kDeny;
      } else {
        Result<const SchemaNode*> child = Compile(v, at);
        if (!child.ok()) return child.error();
        node.additional = Additional::kSchema;
        node.additional_schema = *child;
      }
    } else if (key == "items") {
      if (!v.is_object()) return MakeError(at + ": only a single schema is supported (not a list of schemas)");
      Result<const SchemaNode*> child = Compile(v, at);
      if (!child.ok()) return child.error();
      node.items = *child;
    } else if (key == "required") {
      return Strings(v, at, node.required);
    } else if (key == "enum") {
      const json::array* values = v.if_array();
      if (values == nullptr) return MakeError(at + ": must be a list");
      node.enum_values.emplace(values->begin(), values->end());
    } else if (key == "format") {
      const json::string* s = v.if_string();
      if (s == nullptr) return MakeError(at + ": must be a string");
      static const std::map<std::string, Format, std::less<>> kFormats = {
          {"int32", Format::kInt32},   {"int64", Format::kInt64}, {"uint32", Format::kUint32},
          {"uint64", Format::kUint64}, {"byte", Format::kByte},   {"date-time", Format::kDateTime}};
      auto it = kFormats.find(std::string_view(*s));
      node.format = it == kFormats.end() ? Format::kNone : it->second;  // other formats are accepted as is
    } else if (key == "minimum") {
      return Number(v, at, node.minimum);
    } else if (key == "maximum") {
      return Number(v, at, node.maximum);
    } else if (key == "exclusiveMinimum") {
      return Bool(v, at, node.exclusive_minimum);
    } else if (key == "exclusiveMaximum") {
      return Bool(v, at, node.exclusive_maximum);
    } else if (key == "multipleOf") {
      Status s = Number(v, at, node.multiple_of);
      if (s.ok() && *node.multiple_of <= 0) return MakeError(at + ": must be positive");
      return s;
    } else if (key == "minLength") {
      return Count(v, at, node.min_length);
    } else if (key == "maxLength") {
      return Count(v, at, node.max_length);
    } else if (key == "minItems") {
      return Count(v, at, node.min_items);
    } else if (key == "maxItems") {
      return Count(v, at, node.max_items);
    } else if (key == "minProperties") {
      return Count(v, at, node.min_properties);
    } else if (key == "maxProperties") {
      return Count(v, at, node.max_properties);
    } else if (key == "pattern") {
      const json::string* s = v.if_string();
      if (s == nullptr) return MakeError(at + ": must be a string");
      node.pattern = std::string(*s);
      try {
        node.pattern_regex.emplace(node.pattern, std::regex::ECMAScript | std::regex::optimize);
      } catch (const std::regex_error&) {
        // Kubernetes uses Go's RE2 syntax; a pattern std::regex cannot compile is skipped rather than failing
        // the whole load.
        node.pattern_regex.reset();
      }
    } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
      std::vector<const SchemaNode*>& target =
          key == "allOf" ? node.all_of : (key == "anyOf" ? node.any_of : node.one_of);
      const json::array* branches = v.if_array();
      if (branches == nullptr || branches->empty()) return MakeError(at + ": must be a non-empty list of schemas");
      for (size_t i = 0; i < branches->size(); ++i) {
        Result<const SchemaNode*> child = Compile((*branches)[i], at + "[" + std::to_string(i) + "]");
        if (!child.ok()) return child.error();
        target.push_back(*child);
      }
    } else if (key == "not") {
      Result<const SchemaNode*> child = Compile(v, at);
      if (!child.ok()) return child.error();
      node.not_schema = *child;
    } else if (key == "x-kubernetes-list-type") {
      const json::string* s = v.if_string();
      if (s == nullptr) return MakeError(at + ": must be a string");
      if (*s == "atomic") {
        node.list_type = ListType::kAtomic;
      } else if (*s == "set") {
        node.list_type = ListType::kSet;
      } else if (*s == "map") {
        node.list_type = ListType::kMap;
      } else {
        return MakeError(at + ": unsupported list type " + DescribeValue(v));
      }
    } else if (key == "x-kubernetes-list-map-keys") {
      return Strings(v, at, node.list_map_keys);
    } else if (key == "$ref" || key == "patternProperties" || key == "additionalItems" || key == "dependencies" ||
               key == "definitions" || key == "uniqueItems") {
      // Not allowed in Kubernetes structural schemas; refuse rather than silently validate less.
      return MakeError(at + ": schema keyword not supported in CRD schemas");
    }
    // Everything else carries no validation we can perform: description, title, example, default (defaulting is
    // the API server's job), x-kubernetes-map-type, x-kubernetes-embedded-resource, and x-kubernetes-validations
    // (CEL rules: evaluating CEL is out of scope, so those rules are knowingly not checked).
    return OkStatus();
  }

  // The field names of a protobuf-oneof shaped oneOf, or empty.
  static std::vector<std::string> ExclusiveFields(const std::vector<const SchemaNode*>& branches) {
    std::vector<std::string> fields;
    bool saw_none_branch = false;
    for (const SchemaNode* b : branches) {
      if (b->required_only && b->required.size() == 1) {
        fields.push_back(b->required[0]);
        continue;
      }
      const SchemaNode* n = b->not_schema;
      bool none_branch = n != nullptr && b->type == JsonType::kAny && b->all_of.empty() && b->any_of.empty() &&
                         b->one_of.empty() && !b->has_properties && b->required.empty() && !n->any_of.empty();
      if (none_branch) {
        for (const SchemaNode* alt : n->any_of) none_branch = none_branch && alt->required_only;
      }
      if (!none_branch || saw_none_branch) return {};
      saw_none_branch = true;
    }
    return saw_none_branch ? fields : std::vector<std::string>{};
  }

  static Status Bool(const json::value& v, const std::string& at, bool& out) {
    if (!v.is_bool()) return MakeError(at + ": must be true or false, got " + DescribeValue(v));
    out = v.get_bool();
    return OkStatus();
  }

  static Status Number(const json::value& v, const std::string& at, std::optional<long double>& out) {
    if (v.is_int64()) {
      out = static_cast<long double>(v.get_int64());
    } else if (v.is_uint64()) {
      out = static_cast<long double>(v.get_uint64());
    } else if (v.is_double()) {
      out = static_cast<long double>(v.get_double());
    } else {
      return MakeError(at + ": must be a number, got " + DescribeValue(v));
    }
    return OkStatus();
  }

  static Status Count(const json::value& v, const std::string& at, std::optional<std::uint64_t>& out) {
    if (v.is_int64() && v.get_int64() >= 0) {
      out = static_cast<std::uint64_t>(v.get_int64());
    } else if (v.is_uint64()) {
      out = v.get_uint64();
    } else {
      return MakeError(at + ": must be a non-negative integer, got " + DescribeValue(v));
    }
    return OkStatus();
  }

  static Status Strings(const json::value& v, const std::string& at, std::vector<std::string>& out) {
    const json::array* a = v.if_array();
    if (a == nullptr) return MakeError(at + ": must be a list of strings");
    for (const json::value& item : *a) {
      if (!item.is_string()) return MakeError(at + ": must be a list of strings, has " + DescribeValue(item));
      out.emplace_back(item.get_string());
    }
    return OkStatus();
  }

  SchemaArena& arena_;
};

// ---------------------------------------------------------------------------------------------------------------
// Value helpers

const char* TypeName(JsonType type) {
  switch (type) {
    case JsonType::kObject:
      return "an object";
    case JsonType::kArray:
      return "an array";
    case JsonType::kString:
      return "a string";
    case JsonType::kInteger:
      return "an integer";
    case JsonType::kNumber:
      return "a number";
    case JsonType::kBoolean:
      return "a boolean";
    case JsonType::kAny:
      break;
  }
  return "any value";
}

bool IsInteger(const json::value& v) { return v.is_int64() || v.is_uint64(); }

bool HasType(JsonType type, const json::value& v) {
  switch (type) {
    case JsonType::kAny:
      return true;
    case JsonType::kObject:
      return v.is_object();
    case JsonType::kArray:
      return v.is_array();
    case JsonType::kString:
      return v.is_string();
    case JsonType::kInteger:
      // A double is never an integer here, not even 80.0: vmesh builds its JSON itself, and a double where Istio
      // wants an integer is a bug worth reporting.
      return IsInteger(v);
    case JsonType::kNumber:
      return v.is_number();
    case JsonType::kBoolean:
      return v.is_bool();
  }
  return false;
}

long double AsLongDouble(const json::value& v) {
  if (v.is_int64()) return static_cast<long double>(v.get_int64());
  if (v.is_uint64()) return static_cast<long double>(v.get_uint64());
  return static_cast<long double>(v.get_double());
}

// Shortest round-trip text of a double, with ".0" on whole numbers so they read as non-integers.
std::string FormatDouble(double d) {
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), d);
  std::string text(buf, result.ptr);
  if (std::isfinite(d) && text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string FormatNumber(long double n) {
  if (n == std::floor(n) && n >= -9223372036854775808.0L && n < 18446744073709551616.0L) {
    return n < 0 ? std::to_string(static_cast<std::int64_t>(n)) : std::to_string(static_cast<std::uint64_t>(n));
  }
  return FormatDouble(static_cast<double>(n));
}

// The value as written: integers exactly, doubles via FormatDouble.
std::string NumberText(const json::value& v) {
  return v.is_double() ? FormatDouble(v.get_double()) : json::serialize(v);
}

bool JsonEquals(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return AsLongDouble(a) == AsLongDouble(b);
  return a == b;
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool IsBase64(std::string_view s) {
  if (s.size() % 4 != 0) return false;
  size_t padding = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return false;  // '=' only at the end
    if (!std::isalnum(c) && c != '+' && c != '/') return false;
  }
  return padding <= 2;
}

// RFC 3339 date-time: 2006-01-02T15:04:05(.999)?(Z|+07:00).
bool IsDateTime(std::string_view s) {
  auto digits = [&](size_t pos, size_t n) {
    if (pos + n > s.size()) return false;
    for (size_t i = pos; i < pos + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
  };
  auto at = [&](size_t pos, std::string_view chars) { return pos < s.size() && chars.find(s[pos]) != chars.npos; };
  if (!digits(0, 4) || !at(4, "-") || !digits(5, 2) || !at(7, "-") || !digits(8, 2) || !at(10, "Tt ") ||
      !digits(11, 2) || !at(13, ":") || !digits(14, 2) || !at(16, ":") || !digits(17, 2)) {
    return false;
  }
  int month = std::stoi(std::string(s.substr(5, 2))), day = std::stoi(std::string(s.substr(8, 2)));
  int hour = std::stoi(std::string(s.substr(11, 2))), minute = std::stoi(std::string(s.substr(14, 2)));
  int second = std::stoi(std::string(s.substr(17, 2)));
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  size_t i = 19;
  if (at(i, ".")) {
    ++i;
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return false;
  }
  if (at(i, "Zz")) return i + 1 == s.size();
  return at(i, "+-") && digits(i + 1, 2) && at(i + 3, ":") && digits(i + 4, 2) && i + 6 == s.size();
}

struct IntRange {
  long double min;
  long double max;
  const char* name;
};

std::optional<IntRange> FormatRange(Format format) {
  switch (format) {
    case Format::kInt32:
      return IntRange{static_cast<long double>(std::numeric_limits<std::int32_t>::min()),
                      static_cast<long double>(std::numeric_limits<std::int32_t>::max()), "int32"};
    case Format::kUint32:
      return IntRange{0, static_cast<long double>(std::numeric_limits<std::uint32_t>::max()), "uint32"};
    case Format::kInt64:
      return IntRange{static_cast<long double>(std::numeric_limits<std::int64_t>::min()),
                      static_cast<long double>(std::numeric_limits<std::int64_t>::max()), "int64"};
    case Format::kUint64:
      return IntRange{0, static_cast<long double>(std::numeric_limits<std::uint64_t>::max()), "uint64"};
    default:
      return std::nullopt;
  }
}

bool IsPlainKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '$') return false;
  }
  return true;
}

// Restores a path string to its previous length when a scope ends.
class PathScope {
 public:
  explicit PathScope(std::string& path) : path_(path), size_(path.size()) {}
  ~PathScope() { path_.resize(size_); }
  PathScope(const PathScope&) = delete;
  PathScope& operator=(const PathScope&) = delete;

 private:
  std::string& path_;
  size_t size_;
};

// ---------------------------------------------------------------------------------------------------------------
// Validation

class Checker {
 public:
  Checker(const SchemaNode* root, std::vector<Violation>& out) : root_(root), out_(out) {}

  // `structural` is false below allOf/anyOf/oneOf/not: those subschemas validate values but, as in Kubernetes,
  // do not define which fields exist, so unknown-field checks only happen along the structural schema.
  void Check(const SchemaNode& n, const json::value& v, std::string& path, bool structural) {
    if (v.is_null()) {
      if (n.nullable || (n.type == JsonType::kAny && !n.int_or_string)) return;
      Report(path,
             std::string("must be ") + (n.int_or_string ? "an integer or a string" : TypeName(n.type)) + "; got null");
      return;
    }
    if (n.int_or_string && !IsInteger(v) && !v.is_string()) {
      Report(path, "must be an integer or a string; got " + DescribeValue(v));
      return;
    }
    if (!HasType(n.type, v)) {
      Report(path, std::string("must be ") + TypeName(n.type) + "; got " + DescribeValue(v));
      return;
    }
    if (n.enum_values) CheckEnum(n, v, path);
    if (v.is_string()) {
      CheckString(n, v.get_string(), path);
    } else if (v.is_number()) {
      CheckNumber(n, v, path);
    } else if (v.is_array()) {
      CheckArray(n, v.get_array(), path, structural);
    } else if (v.is_object()) {
      CheckObject(n, v.get_object(), path, structural);
    }
    CheckCombinators(n, v, path);
  }

 private:
  void Report(const std::string& path, std::string message) { out_.push_back(Violation{path, std::move(message)}); }

  // Whether `v` satisfies `n` (used for anyOf/oneOf/not branches); the branch's violations go to `why`.
  bool Matches(const SchemaNode& n, const json::value& v, std::string& path, std::vector<Violation>* why = nullptr) {
    std::vector<Violation> local;
    Checker branch(root_, local);
    branch.Check(n, v, path, /*structural=*/false);
    const bool ok = local.empty();
    if (why != nullptr) *why = std::move(local);
    return ok;
  }

  void CheckEnum(const SchemaNode& n, const json::value& v, const std::string& path) {
    for (const json::value& allowed : *n.enum_values) {
      if (JsonEquals(allowed, v)) return;
    }
    std::vector<std::string> names;
    for (const json::value& allowed : *n.enum_values) {
      names.push_back(allowed.is_string() ? std::string(allowed.get_string()) : json::serialize(allowed));
    }
    Report(path, "must be one of " + Join(names, ", ") + "; got " +
                     (v.is_string() ? Quote(v.get_string()) : DescribeValue(v)));
  }

  void CheckString(const SchemaNode& n, std::string_view s, const std::string& path) {
    size_t length = (n.min_length || n.max_length) ? CodePoints(s) : 0;
    bool too_long = n.max_length && length > *n.max_length;
    if (n.min_length && length < *n.min_length) {
      Report(path,
             "must be at least " + std::to_string(*n.min_length) + " characters long; got " + std::to_string(length));
    }
    if (too_long) {
      Report(path,
             "must be at most " + std::to_string(*n.max_length) + " characters long; got " + std::to_string(length));
    }
    if (n.pattern_regex) {
      if (s.size() > kMaxPatternInput) {
        if (!too_long) {
          Report(path,
                 "is too long (" + std::to_string(s.size()) + " bytes) to check against pattern " + Quote(n.pattern));
        }
      } else if (!std::regex_search(s.begin(), s.end(), *n.pattern_regex)) {
        Report(path, "must match pattern " + Quote(n.pattern) + "; got " + Quote(s));
      }
    }
    if (n.format == Format::kByte && !IsBase64(s)) {
      Report(path, "must be base64-encoded bytes (format byte)");
    } else if (n.format == Format::kDateTime && !IsDateTime(s)) {
      Report(path, "must be an RFC 3339 date-time such as 2006-01-02T15:04:05Z; got " + Quote(s));
    }
  }

  void CheckNumber(const SchemaNode& n, const json::value& v, const std::string& path) {
    long double x = AsLongDouble(v);
    if (IsInteger(v)) {
      if (std::optional<IntRange> range = FormatRange(n.format); range && (x < range->min || x > range->max)) {
        Report(path, std::string("must fit in ") + range->name + " (" + FormatNumber(range->min) + ".." +
                         FormatNumber(range->max) + "); got " + NumberText(v));
      }
    }
    if (n.minimum && (n.exclusive_minimum ? x <= *n.minimum : x < *n.minimum)) {
      Report(path, std::string("must be ") + (n.exclusive_minimum ? "greater than " : "at least ") +
                       FormatNumber(*n.minimum) + "; got " + NumberText(v));
    }
    if (n.maximum && (n.exclusive_maximum ? x >= *n.maximum : x > *n.maximum)) {
      Report(path, std::string("must be ") + (n.exclusive_maximum ? "less than " : "at most ") +
                       FormatNumber(*n.maximum) + "; got " + NumberText(v));
    }
    if (n.multiple_of) {
      long double q = x / *n.multiple_of;
      // A relative tolerance, so that decimal fractions (0.3 / 0.1) are not rejected for binary rounding.
      if (std::isfinite(q) && std::fabs(q - std::round(q)) > 1e-9L * std::max(1.0L, std::fabs(q))) {
        Report(path, "must be a multiple of " + FormatNumber(*n.multiple_of) + "; got " + NumberText(v));
      }
    }
  }

  void CheckArray(const SchemaNode& n, const json::array& a, std::string& path, bool structural) {
    if (n.min_items && a.size() < *n.min_items) {
      Report(path, "must have at least " + std::to_string(*n.min_items) + " item(s); has " + std::to_string(a.size()));
    }
    if (n.max_items && a.size() > *n.max_items) {
      Report(path, "must have at most " + std::to_string(*n.max_items) + " item(s); has " + std::to_string(a.size()));
    }
    if (n.items != nullptr) {
      for (size_t i = 0; i < a.size(); ++i) {
        PathScope scope(path);
        path += "[" + std::to_string(i) + "]";
        Check(*n.items, a[i], path, structural);
      }
    }
    if (n.list_type != ListType::kAtomic) CheckListUniqueness(n, a, path);
  }

  void CheckListUniqueness(const SchemaNode& n, const json::array& a, std::string& path) {
    std::map<std::string, size_t> first_index;
    for (size_t i = 0; i < a.size(); ++i) {
      std::string key;
      if (n.list_type == ListType::kSet) {
        key = json::serialize(a[i]);
      } else {
        const json::object* item = a[i].if_object();
        if (item == nullptr) continue;  // reported by the items schema
        std::vector<std::string> parts;
        for (const std::string& k : n.list_map_keys) {
          const json::value* kv = item->if_contains(k);
          parts.push_back(k + "=" + (kv != nullptr ? json::serialize(*kv) : "null"));
        }
        key = Join(parts, ", ");
      }
      auto [it, inserted] = first_index.emplace(key, i);
      if (!inserted) {
        PathScope scope(path);
        path += "[" + std::to_string(i) + "]";
        Report(path, (n.list_type == ListType::kSet ? "duplicate of item [" : "duplicate entry " + key + " of item [") +
                         std::to_string(it->second) + "]; entries of this list must be unique");
      }
    }
  }

  void CheckObject(const SchemaNode& n, const json::object& o, std::string& path, bool structural) {
    if (n.min_properties && o.size() < *n.min_properties) {
      Report(path,
             "must have at least " + std::to_string(*n.min_properties) + " entries; has " + std::to_string(o.size()));
    }
    if (n.max_properties && o.size() > *n.max_properties) {
      Report(path,
             "must have at most " + std::to_string(*n.max_properties) + " entries; has " + std::to_string(o.size()));
    }
    for (const std::string& name : n.required) {
      if (o.contains(name)) continue;
      PathScope scope(path);
      AppendKey(path, name);
      Report(path, "is required but missing");
    }
    const bool at_root = &n == root_ && path.empty();
    for (const auto& [key, child] : o) {
      if (at_root && (key == "apiVersion" || key == "kind" || key == "metadata")) continue;
      PathScope scope(path);
      AppendKey(path, key);
      if (const SchemaNode* property = n.FindProperty(key)) {
        Check(*property, child, path, structural);
        continue;
      }
      switch (n.additional) {
        case Additional::kSchema:
          Check(*n.additional_schema, child, path, structural);
          break;
        case Additional::kAllow:
          break;
        case Additional::kDeny:
          ReportUnknown(n, key, path);
          break;
        case Additional::kUnspecified:
          if (structural && !n.preserve_unknown_fields && (n.has_properties || n.type == JsonType::kObject)) {
            ReportUnknown(n, key, path);
          }
          break;
      }
    }
  }

  void ReportUnknown(const SchemaNode& n, std::string_view key, const std::string& path) {
    std::string message = "unknown field " + Quote(key);
    if (n.properties.empty()) {
      Report(path, message + " (this object takes no fields)");
      return;
    }
    std::vector<std::string> known;
    for (const auto& [name, _] : n.properties) {
      if (known.size() == kMaxListedFields) {
        known.push_back("...");
        break;
      }
      known.push_back(name);
    }
    Report(path, message + "; known fields: " + Join(known, ", "));
  }

  void CheckCombinators(const SchemaNode& n, const json::value& v, std::string& path) {
    for (const SchemaNode* branch : n.all_of) Check(*branch, v, path, /*structural=*/false);
    if (!n.any_of.empty()) CheckAnyOf(n, v, path);
    if (!n.one_of.empty()) CheckOneOf(n, v, path);
    if (n.not_schema != nullptr && Matches(*n.not_schema, v, path)) {
      const SchemaNode& no = *n.not_schema;
      if (no.required_only && v.is_object()) {
        Report(path, "must not set " + Join(no.required, " together with "));
      } else {
        Report(path, "must not match the schema given under `not`");
      }
    }
  }

  void CheckAnyOf(const SchemaNode& n, const json::value& v, std::string& path) {
    std::vector<std::string> reasons;
    bool all_required_only = true;
    std::vector<std::string> fields;
    for (const SchemaNode* branch : n.any_of) {
      std::vector<Violation> why;
      if (Matches(*branch, v, path, &why)) return;
      all_required_only = all_required_only && branch->required_only;
      fields.insert(fields.end(), branch->required.begin(), branch->required.end());
      reasons.push_back(why.empty() ? "?" : ToString(why.front()));
    }
    if (all_required_only && v.is_object()) {
      Report(path, "must set one of " + Join(fields, ", "));
    } else {
      Report(path, "matches none of the anyOf alternatives: " + Join(reasons, " | "));
    }
  }

  void CheckOneOf(const SchemaNode& n, const json::value& v, std::string& path) {
    size_t matches = 0;
    for (const SchemaNode* branch : n.one_of) matches += Matches(*branch, v, path);
    if (matches == 1) return;
    if (!n.exclusive_fields.empty() && v.is_object()) {
      std::vector<std::string> present;
      for (const std::string& f : n.exclusive_fields) {
        if (v.get_object().contains(f)) present.push_back(f);
      }
      if (present.size() > 1) {
        Report(path, "must set at most one of " + Join(n.exclusive_fields, ", ") + "; found " + Join(present, ", "));
        return;
      }
    }
    Report(path, "must match exactly one of the oneOf alternatives; matches " + std::to_string(matches));
  }

  const SchemaNode* root_;
  std::vector<Violation>& out_;
};

}  // namespace

const SchemaNode* SchemaNode::FindProperty(std::string_view name) const {
  auto it = std::lower_bound(properties.begin(), properties.end(), name,
                             [](const auto& entry, std::string_view n) { return entry.first < n; });
  return it != properties.end() && it->first == name ? it->second : nullptr;
}

Result<const SchemaNode*> CompileSchema(const boost::json::value& schema, const std::string& where,
                                        SchemaArena& arena) {
  return Compiler(arena).Compile(schema, where);
}

void ValidateResource(const SchemaNode& root, const boost::json::value& resource, std::vector<Violation>& out) {
  std::string path;
  Checker(&root, out).Check(root, resource, path, /*structural=*/true);
}

void AppendKey(std::string& path, std::string_view key) {
  if (IsPlainKey(key)) {
    if (!path.empty()) path += '.';
    path += key;
  } else {
    path += '[';
    path += key;
    path += ']';
  }
}

std::string DescribeValue(const boost::json::value& value) {
  constexpr size_t kMaxShown = 60;
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return value.get_bool() ? "boolean true" : "boolean false";
    case json::kind::int64:
    case json::kind::uint64:
      return "integer " + json::serialize(value);
    case json::kind::double_:
      return "number " + FormatDouble(value.get_double());
    case json::kind::string: {
      std::string shown = Quote(value.get_string());
      if (shown.size() > kMaxShown) shown = shown.substr(0, kMaxShown) + "...\"";
      return "string " + shown;
    }
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

}  // namespace vmesh::crdschema::internal
