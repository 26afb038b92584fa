#include "common/crdschema/schema_set.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <cctype>
#include <map>
#include <utility>

#include "common/base/files.h"
#include "common/crdschema/schema_node.h"
#include "common/crdschema/yaml_to_json.h"

namespace vmesh::crdschema {

namespace json = boost::json;

namespace internal {

struct CompiledSchemas {
  SchemaArena arena;
  // (apiVersion "group/version", kind) -> root schema of that served version.
  std::map<std::pair<std::string, std::string>, const SchemaNode*> roots;
};

}  // namespace internal

namespace {

using internal::CompiledSchemas;
using internal::DescribeValue;

const json::string* StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_string() : nullptr;
}

const json::object* ObjectAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

// Adds the served versions of one CRD document to `schemas`.
Status AddCrd(const json::object& crd, CompiledSchemas& schemas) {
  const json::string* api_version = StringAt(crd, "apiVersion");
  if (api_version == nullptr || *api_version != "apiextensions.k8s.io/v1") {
    return MakeError("apiVersion must be apiextensions.k8s.io/v1 (the only CRD version with per-version schemas)");
  }
  const json::object* spec = ObjectAt(crd, "spec");
  if (spec == nullptr) return MakeError("spec is missing");
  const json::string* group = StringAt(*spec, "group");
  if (group == nullptr || group->empty()) return MakeError("spec.group is missing");
  const json::object* names = ObjectAt(*spec, "names");
  const json::string* kind = names != nullptr ? StringAt(*names, "kind") : nullptr;
  if (kind == nullptr || kind->empty()) return MakeError("spec.names.kind is missing");
  const json::value* versions_value = spec->if_contains("versions");
  const json::array* versions = versions_value != nullptr ? versions_value->if_array() : nullptr;
  if (versions == nullptr || versions->empty()) return MakeError("spec.versions is missing or empty");

  for (size_t i = 0; i < versions->size(); ++i) {
    const std::string where = "spec.versions[" + std::to_string(i) + "]";
    const json::object* version = (*versions)[i].if_object();
    if (version == nullptr) return MakeError(where + " is not an object");
    const json::string* name = StringAt(*version, "name");
    if (name == nullptr || name->empty()) return MakeError(where + ".name is missing");
    const json::value* served = version->if_contains("served");
    if (served == nullptr || !served->is_bool()) return MakeError(where + ".served must be true or false");
    if (!served->get_bool()) continue;
    const json::object* schema = ObjectAt(*version, "schema");
    const json::value* root = schema != nullptr ? schema->if_contains("openAPIV3Schema") : nullptr;
    if (root == nullptr) return MakeError(where + ".schema.openAPIV3Schema is missing");
    Result<const internal::SchemaNode*> compiled =
        internal::CompileSchema(*root, where + ".schema.openAPIV3Schema", schemas.arena);
    if (!compiled.ok()) return compiled.error();
    std::string gv = std::string(*group) + "/" + std::string(*name);
    if (!schemas.roots.emplace(std::make_pair(gv, std::string(*kind)), *compiled).second) {
      return MakeError(gv + " " + std::string(*kind) + " is defined twice");
    }
  }
  return OkStatus();
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// RFC 1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric, at most 63 characters.
bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63 || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
bool IsDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!IsDns1123Label(s.substr(start, dot == s.npos ? s.npos : dot - start))) return false;
    if (dot == s.npos) return true;
    start = dot + 1;
  }
}

// Kubernetes label name / value body: alphanumerics, '-', '_', '.', starting and ending alphanumeric, <= 63.
bool IsLabelToken(std::string_view s) {
  if (s.empty() || s.size() > 63 || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

bool IsLabelKey(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == key.npos) return IsLabelToken(key);
  return IsDns1123Subdomain(key.substr(0, slash)) && IsLabelToken(key.substr(slash + 1));
}

class MetadataChecker {
 public:
  explicit MetadataChecker(std::vector<Violation>& out) : out_(out) {}

  void Check(const json::object& resource) {
    const json::value* metadata = resource.if_contains("metadata");
    if (metadata == nullptr) {
      Report("metadata", "is required but missing");
      return;
    }
    const json::object* m = metadata->if_object();
    if (m == nullptr) {
      Report("metadata", "must be an object; got " + DescribeValue(*metadata));
      return;
    }
    const json::value* name = m->if_contains("name");
    if (name == nullptr) {
      Report("metadata.name", "is required but missing");
    } else if (!name->is_string()) {
      Report("metadata.name", "must be a string; got " + DescribeValue(*name));
    } else if (!IsDns1123Subdomain(name->get_string())) {
      Report("metadata.name",
             "must be a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', at most 253 "
             "characters); got " +
                 DescribeValue(*name));
    }
    if (const json::value* ns = m->if_contains("namespace")) {
      if (!ns->is_string() || !IsDns1123Label(ns->get_string())) {
        Report("metadata.namespace", "must be a DNS-1123 label (a namespace name); got " + DescribeValue(*ns));
      }
    }
    CheckStringMap(*m, "labels", /*label_syntax=*/true);
    CheckStringMap(*m, "annotations", /*label_syntax=*/false);
  }

 private:
  void Report(std::string path, std::string message) { out_.push_back(Violation{std::move(path), std::move(message)}); }

  void CheckStringMap(const json::object& metadata, std::string_view field, bool label_syntax) {
    const json::value* v = metadata.if_contains(field);
    if (v == nullptr) return;
    std::string path = "metadata." + std::string(field);
    const json::object* map = v->if_object();
    if (map == nullptr) {
      Report(path, "must be a map of strings; got " + DescribeValue(*v));
      return;
    }
    for (const auto& [key, value] : *map) {
      std::string entry = path;
      internal::AppendKey(entry, key);
      if (!value.is_string()) {
        Report(entry, "must be a string; got " + DescribeValue(value));
        continue;
      }
      if (!label_syntax) continue;
      if (!IsLabelKey(key)) {
        Report(entry,
               "is not a valid label key (optional DNS subdomain prefix and '/', then at most 63 "
               "alphanumerics, '-', '_' or '.', starting and ending alphanumeric)");
      }
      std::string_view text = value.get_string();
      if (!text.empty() && !IsLabelToken(text)) {
        Report(entry,
               "is not a valid label value (at most 63 alphanumerics, '-', '_' or '.', starting and ending "
               "alphanumeric); got " +
                   DescribeValue(value));
      }
    }
  }

  std::vector<Violation>& out_;
};

}  // namespace

std::string ToString(const Violation& violation) {
  return violation.path.empty() ? violation.message : violation.path + ": " + violation.message;
}

SchemaSet::SchemaSet(std::shared_ptr<const internal::CompiledSchemas> schemas) : schemas_(std::move(schemas)) {}

Result<SchemaSet> SchemaSet::Load(std::string_view crd_yaml) {
  Result<std::vector<json::value>> documents = YamlDocumentsToJson(crd_yaml);
  if (!documents.ok()) return documents.error().Wrap("loading CRDs");
  return LoadObjects(*documents);
}

Result<SchemaSet> SchemaSet::LoadObjects(const std::vector<json::value>& documents) {
  auto schemas = std::make_shared<CompiledSchemas>();
  for (size_t i = 0; i < documents.size(); ++i) {
    const json::object* doc = documents[i].if_object();
    if (doc == nullptr) continue;
    const json::string* kind = StringAt(*doc, "kind");
    if (kind == nullptr || *kind != "CustomResourceDefinition") continue;
    const json::object* metadata = ObjectAt(*doc, "metadata");
    const json::string* name = metadata != nullptr ? StringAt(*metadata, "name") : nullptr;
    Status added = AddCrd(*doc, *schemas);
    if (!added.ok()) {
      return added.error().Wrap("loading CRDs: document " + std::to_string(i + 1) + " (CustomResourceDefinition " +
                                (name != nullptr ? std::string(*name) : std::string("without a name")) + ")");
    }
  }
  if (schemas->roots.empty()) return MakeError("loading CRDs: no served CustomResourceDefinition found");
  return SchemaSet(std::move(schemas));
}

Result<SchemaSet> SchemaSet::LoadFile(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.error().Wrap("loading CRDs");
  Result<SchemaSet> set = Load(*text);
  if (!set.ok()) return set.error().Wrap(path);
  return set;
}

std::vector<std::string> SchemaSet::Kinds() const {
  std::vector<std::string> kinds;
  kinds.reserve(schemas_->roots.size());
  for (const auto& [key, _] : schemas_->roots) kinds.push_back(key.first + " " + key.second);
  std::sort(kinds.begin(), kinds.end());
  return kinds;
}

std::vector<Violation> SchemaSet::Validate(const boost::json::value& object) const {
  std::vector<Violation> out;
  const json::object* resource = object.if_object();
  if (resource == nullptr) {
    out.push_back(
        {"", "must be a Kubernetes object (a JSON object with apiVersion and kind); got " + DescribeValue(object)});
    return out;
  }
  const json::string* api_version = nullptr;
  const json::string* kind = nullptr;
  for (std::string_view field : {"apiVersion", "kind"}) {
    const json::value* v = resource->if_contains(field);
    const json::string* s = v != nullptr ? v->if_string() : nullptr;
    if (v == nullptr) {
      out.push_back({std::string(field), "is required but missing"});
    } else if (s == nullptr || s->empty()) {
      out.push_back({std::string(field), "must be a non-empty string; got " + DescribeValue(*v)});
    }
    (field == "kind" ? kind : api_version) = s != nullptr && !s->empty() ? s : nullptr;
  }
  if (api_version == nullptr || kind == nullptr) return out;

  const std::pair<std::string, std::string> key{std::string(*api_version), std::string(*kind)};
  auto it = schemas_->roots.find(key);
  if (it == schemas_->roots.end()) {
    std::vector<std::string> served_as, kinds_here;
    for (const auto& [k, _] : schemas_->roots) {
      if (k.second == key.second) served_as.push_back(k.first);
      if (k.first == key.first) kinds_here.push_back(k.second);
    }
    auto join = [](const std::vector<std::string>& items) {
      std::string s;
      for (const std::string& item : items) s += (s.empty() ? "" : ", ") + item;
      return s;
    };
    if (!served_as.empty()) {
      out.push_back(
          {"apiVersion", key.second + " is not served as " + key.first + "; served versions: " + join(served_as)});
    } else if (!kinds_here.empty()) {
      out.push_back({"kind", "unknown kind " + key.second + " in " + key.first + "; known kinds: " + join(kinds_here)});
    } else {
      out.push_back({"apiVersion", "no CRD serves " + key.first + " " + key.second});
    }
    return out;
  }

  MetadataChecker(out).Check(*resource);
  internal::ValidateResource(*it->second, object, out);
  return out;
}

}  // namespace vmesh::crdschema
