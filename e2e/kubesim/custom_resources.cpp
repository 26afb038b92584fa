#include "e2e/kubesim/custom_resources.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>

#include "common/base/time.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;
using crdschema::internal::Additional;
using crdschema::internal::JsonType;
using crdschema::internal::SchemaNode;

constexpr const char* kCrdGroup = "apiextensions.k8s.io";
constexpr const char* kCrdResource = "customresourcedefinitions";

std::string StringField(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

const json::object* ObjectField(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

std::vector<std::string> Strings(const json::object& object, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = object.if_contains(key);
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& item : v->get_array()) {
    if (item.is_string()) out.emplace_back(item.get_string());
  }
  return out;
}

// kube-apiserver's field error text: "spec.x: Invalid value: 20: ..." and "spec.x: Required value".
struct FieldError {
  std::string field;
  std::string type;    // "Invalid value", "Required value", "Unsupported value"
  std::string detail;  // what follows the type
  std::string reason;  // the StatusCause reason
  std::string Text() const { return field + ": " + type + (detail.empty() ? "" : ": " + detail); }
};

ApiError InvalidObjectError(const std::string& kind, const std::string& group, const std::string& name,
                            const std::vector<FieldError>& errors) {
  std::string list;
  for (const auto& e : errors) list += (list.empty() ? "" : ", ") + e.Text();
  ApiError error = InvalidError(kind + (group.empty() ? "" : "." + group) + " \"" + name +
                                "\" is invalid: " + (errors.size() == 1 ? list : "[" + list + "]"));
  error.details_name = name;
  error.details_group = group;
  error.details_kind = kind;
  for (const auto& e : errors) {
    error.causes.push_back(StatusCause{e.reason, e.type + (e.detail.empty() ? "" : ": " + e.detail), e.field});
  }
  return error;
}

ApiError InvalidCrd(const std::string& name, std::vector<FieldError> errors) {
  return InvalidObjectError("CustomResourceDefinition", kCrdGroup, name, errors);
}

FieldError Required(std::string field) {
  return FieldError{std::move(field), "Required value", "", "FieldValueRequired"};
}

FieldError Invalid(std::string field, const json::value& value, std::string detail) {
  return FieldError{std::move(field), "Invalid value", json::serialize(value) + ": " + detail, "FieldValueInvalid"};
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
      return false;
  }
  return s.front() != '-' && s.back() != '-';
}

bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (!IsDnsLabel(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// A printer column's type as kube-apiserver accepts it.
bool IsColumnType(const std::string& type) {
  return type == "integer" || type == "number" || type == "string" || type == "boolean" || type == "date";
}

}  // namespace

bool IsCustomResourceDefinitionType(const ResourceType& type) {
  return type.group == kCrdGroup && type.resource == kCrdResource;
}

ApiResult<std::vector<ResourceType>> CustomResourceTypes(const json::object& crd) {
  const json::object* metadata = ObjectField(crd, "metadata");
  const std::string name = metadata != nullptr ? StringField(*metadata, "name") : std::string();
  const json::object* spec = ObjectField(crd, "spec");
  if (spec == nullptr) return InvalidCrd(name, {Required("spec")});
  const json::object* names = ObjectField(*spec, "names");
  std::vector<FieldError> errors;
  ResourceType base;
  base.group = StringField(*spec, "group");
  base.builtin = false;
  if (base.group.empty()) errors.push_back(Required("spec.group"));
  if (names == nullptr) {
    errors.push_back(Required("spec.names"));
  } else {
    base.resource = StringField(*names, "plural");
    base.kind = StringField(*names, "kind");
    base.singular = StringField(*names, "singular");
    base.short_names = Strings(*names, "shortNames");
    base.categories = Strings(*names, "categories");
    if (base.resource.empty()) {
      errors.push_back(Required("spec.names.plural"));
    } else if (!IsDnsLabel(base.resource)) {
      errors.push_back(Invalid("spec.names.plural", json::string(base.resource),
                               "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
                               "'-', and must start and end with an alphanumeric character"));
    }
    if (base.kind.empty()) errors.push_back(Required("spec.names.kind"));
  }
  if (base.singular.empty()) {
    base.singular = base.kind;
    std::transform(base.singular.begin(), base.singular.end(), base.singular.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  if (!base.resource.empty() && !base.group.empty() && name != base.resource + "." + base.group) {
    errors.push_back(Invalid("metadata.name", json::string(name), "must be spec.names.plural+\".\"+spec.group"));
  }
  const std::string scope = StringField(*spec, "scope");
  if (scope != "Namespaced" && scope != "Cluster") {
    errors.push_back(scope.empty() ? Required("spec.scope")
                                   : FieldError{"spec.scope", "Unsupported value",
                                                "\"" + scope + "\": supported values: \"Cluster\", \"Namespaced\"",
                                                "FieldValueNotSupported"});
  }
  base.namespaced = scope != "Cluster";

  std::vector<ResourceType> types;
  const json::value* versions = spec->if_contains("versions");
  if (versions == nullptr || !versions->is_array() || versions->get_array().empty()) {
    errors.push_back(Required("spec.versions"));
  } else {
    int storage_versions = 0;
    const json::array& list = versions->get_array();
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = "spec.versions[" + std::to_string(i) + "]";
      const json::object* v = list[i].if_object();
      if (v == nullptr) {
        errors.push_back(Invalid(where, list[i], "must be an object"));
        continue;
      }
      ResourceType type = base;
      type.version = StringField(*v, "name");
      if (type.version.empty()) errors.push_back(Required(where + ".name"));
      const json::value* storage = v->if_contains("storage");
      type.storage = storage != nullptr && storage->is_bool() && storage->get_bool();
      storage_versions += type.storage ? 1 : 0;
      const json::value* served = v->if_contains("served");
      if (served != nullptr && served->is_bool() && !served->get_bool()) continue;
      if (const json::object* sub = ObjectField(*v, "subresources")) {
        type.has_status = sub->contains("status");
        type.has_scale = sub->contains("scale");
      }
      if (const json::value* columns = v->if_contains("additionalPrinterColumns"); columns && columns->is_array()) {
        for (size_t c = 0; c < columns->get_array().size(); ++c) {
          const json::object* col = columns->get_array()[c].if_object();
          if (col == nullptr) continue;
          const std::string at = where + ".additionalPrinterColumns[" + std::to_string(c) + "]";
          PrinterColumn column{StringField(*col, "name"), StringField(*col, "type"), StringField(*col, "jsonPath")};
          if (const json::value* p = col->if_contains("priority"); p && p->is_int64()) {
            column.priority = static_cast<int>(p->get_int64());
          }
          if (column.name.empty()) errors.push_back(Required(at + ".name"));
          if (column.json_path.empty()) errors.push_back(Required(at + ".jsonPath"));
          if (!IsColumnType(column.type)) {
            errors.push_back(FieldError{at + ".type", "Unsupported value",
                                        "\"" + column.type +
                                            "\": supported values: \"boolean\", \"date\", \"integer\", \"number\", "
                                            "\"string\"",
                                        "FieldValueNotSupported"});
          }
          type.printer_columns.push_back(std::move(column));
        }
      }
      if (const json::object* schema = ObjectField(*v, "schema")) {
        if (const json::value* root = schema->if_contains("openAPIV3Schema")) {
          auto compiled = std::make_shared<CustomResourceSchema>();
          auto node = crdschema::internal::CompileSchema(*root, where + ".schema.openAPIV3Schema", compiled->arena);
          if (!node.ok()) {
            // CompileSchema names the keyword: "spec.versions[0].schema.openAPIV3Schema.properties.x: ...".
            const std::string& message = node.error().message;
            const size_t colon = message.find(": ");
            errors.push_back(FieldError{message.substr(0, colon), "Invalid value",
                                        colon == std::string::npos ? "" : message.substr(colon + 2),
                                        "FieldValueInvalid"});
          } else {
            compiled->root = *node;
            type.schema = std::move(compiled);
          }
        }
      }
      types.push_back(std::move(type));
    }
    if (storage_versions != 1) {
      errors.push_back(Invalid("spec.versions", *versions, "must have exactly one version marked as storage version"));
    }
  }
  if (!errors.empty()) return InvalidCrd(name, std::move(errors));
  return types;
}

namespace {

json::object Condition(const json::object* previous_status, const std::string& type, bool ok, const std::string& reason,
                       const std::string& message, const std::string& now) {
  std::string since = now;
  if (previous_status != nullptr) {
    if (const json::value* conditions = previous_status->if_contains("conditions");
        conditions && conditions->is_array()) {
      for (const auto& c : conditions->get_array()) {
        if (c.is_object() && StringField(c.get_object(), "type") == type &&
            StringField(c.get_object(), "status") == (ok ? "True" : "False")) {
          since = StringField(c.get_object(), "lastTransitionTime");
        }
      }
    }
  }
  return json::object{{"type", type},
                      {"status", ok ? "True" : "False"},
                      {"lastTransitionTime", since},
                      {"reason", reason},
                      {"message", message}};
}

json::object AcceptedNames(const json::object& spec) {
  json::object accepted;
  const json::object* names = ObjectField(spec, "names");
  if (names == nullptr) return accepted;
  for (const char* key : {"plural", "singular", "shortNames", "kind", "listKind", "categories"}) {
    if (const json::value* v = names->if_contains(key)) accepted[key] = *v;
  }
  if (!accepted.contains("singular")) {
    std::string singular = StringField(*names, "kind");
    std::transform(singular.begin(), singular.end(), singular.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    accepted["singular"] = singular;
  }
  if (!accepted.contains("listKind")) accepted["listKind"] = StringField(*names, "kind") + "List";
  return accepted;
}

void DeleteObjectsOf(ObjectStore& store, const ResourceType& type) {
  auto list = store.List(type, "", ListOptions{});
  if (!list.ok()) return;
  for (const auto& item : list->items) {
    const json::object& md = item->at("metadata").get_object();
    (void)store.Delete(type, StringField(md, "namespace"), StringField(md, "name"));
  }
}

}  // namespace

void SyncCustomResourceDefinition(ResourceRegistry& registry, ObjectStore& store, const std::string& name) {
  ResourceTypePtr crds = registry.Find(kCrdGroup, "v1", kCrdResource);
  if (crds == nullptr) return;
  auto crd = store.Get(*crds, "", name);
  if (!crd.ok()) {
    // All versions of a resource share storage: delete its objects once.
    std::vector<std::string> done;
    for (const auto& gone : registry.RemoveCustomResource(name)) {
      if (std::find(done.begin(), done.end(), gone->resource) != done.end()) continue;
      done.push_back(gone->resource);
      DeleteObjectsOf(store, *gone);
    }
    return;
  }
  auto types = CustomResourceTypes(**crd);
  if (!types.ok()) return;  // writes of invalid CRDs are refused; a seed's is stored but not served
  std::vector<std::string> stored_versions;
  for (const auto& t : *types) {
    if (t.storage) stored_versions.push_back(t.version);
  }
  const auto conflict = registry.SetCustomResource(name, std::move(*types));
  const std::string now = FormatRfc3339(std::chrono::system_clock::now());
  (void)store.Mutate(
      *crds, "", name,
      [&](const json::object& current) -> ApiResult<json::object> {
        const json::object* previous = ObjectField(current, "status");
        const json::object* spec = ObjectField(current, "spec");
        json::object status = previous != nullptr ? *previous : json::object();
        json::array conditions;
        if (conflict) {
          conditions.push_back(Condition(previous, "NamesAccepted", false, conflict->reason, conflict->message, now));
          // A CRD that was established stays so under its accepted names; a new one never becomes established.
          bool was_established = false;
          if (previous != nullptr) {
            if (const json::value* cs = previous->if_contains("conditions"); cs && cs->is_array()) {
              for (const auto& c : cs->get_array()) {
                if (c.is_object() && StringField(c.get_object(), "type") == "Established" &&
                    StringField(c.get_object(), "status") == "True") {
                  was_established = true;
                }
              }
            }
          }
          if (was_established) {
            conditions.push_back(Condition(previous, "Established", true, "InitialNamesAccepted",
                                           "the initial names have been accepted", now));
          } else {
            conditions.push_back(
                Condition(previous, "Established", false, "NotAccepted", "not all names are accepted", now));
            status["acceptedNames"] = json::object{{"plural", ""}, {"kind", ""}};
          }
        } else {
          conditions.push_back(Condition(previous, "NamesAccepted", true, "NoConflicts", "no conflicts found", now));
          conditions.push_back(Condition(previous, "Established", true, "InitialNamesAccepted",
                                         "the initial names have been accepted", now));
          if (spec != nullptr) status["acceptedNames"] = AcceptedNames(*spec);
        }
        status["conditions"] = std::move(conditions);
        json::array stored;
        if (const json::value* old = status.if_contains("storedVersions"); old && old->is_array()) {
          stored = old->get_array();
        }
        for (const auto& v : stored_versions) {
          if (std::find(stored.begin(), stored.end(), json::value(v)) == stored.end())
            stored.push_back(json::string(v));
        }
        status["storedVersions"] = std::move(stored);
        json::object next = current;
        next["status"] = std::move(status);
        return next;
      },
      UpdateScope::kStatus);
}

FieldValidation ParseFieldValidation(const std::string& value) {
  if (value == "Strict") return FieldValidation::kStrict;
  if (value == "Ignore") return FieldValidation::kIgnore;
  return FieldValidation::kWarn;
}

namespace {

void PruneValue(const SchemaNode& node, json::value& value, std::string& path, std::vector<std::string>& removed,
                bool root);

void PruneObject(const SchemaNode& node, json::object& object, std::string& path, std::vector<std::string>& removed,
                 bool root) {
  for (const auto& [name, child] : node.properties) {
    if (child->default_value && !object.contains(name) && !(root && name == "metadata")) {
      object[name] = *child->default_value;
    }
  }
  const bool prunes = !node.preserve_unknown_fields && node.additional == Additional::kUnspecified &&
                      (node.has_properties || node.type == JsonType::kObject);
  for (auto it = object.begin(); it != object.end();) {
    const std::string_view key = it->key();
    if (root && (key == "apiVersion" || key == "kind" || key == "metadata")) {
      ++it;
      continue;
    }
    const size_t length = path.size();
    crdschema::internal::AppendKey(path, key);
    const SchemaNode* child = node.FindProperty(key);
    if (child == nullptr && node.additional == Additional::kSchema) child = node.additional_schema;
    if (child != nullptr) {
      PruneValue(*child, it->value(), path, removed, false);
    } else if (prunes) {
      removed.push_back(path);
      path.resize(length);
      it = object.erase(it);
      continue;
    }
    path.resize(length);
    ++it;
  }
}

void PruneValue(const SchemaNode& node, json::value& value, std::string& path, std::vector<std::string>& removed,
                bool root) {
  if (value.is_object()) {
    PruneObject(node, value.get_object(), path, removed, root);
  } else if (value.is_array() && node.items != nullptr) {
    json::array& items = value.get_array();
    for (size_t i = 0; i < items.size(); ++i) {
      const size_t length = path.size();
      path += "[" + std::to_string(i) + "]";
      PruneValue(*node.items, items[i], path, removed, false);
      path.resize(length);
    }
  }
}

// The value at a crdschema violation path ("spec.ports[0].name", "metadata.labels[app.kubernetes.io/x]").
const json::value* ValueAtPath(const json::object& object, std::string_view path) {
  const json::value* current = nullptr;  // null: still at `object`
  auto container = [&]() -> const json::object* { return current == nullptr ? &object : current->if_object(); };
  size_t i = 0;
  while (i < path.size()) {
    std::string key;
    if (path[i] == '.') ++i;
    if (i < path.size() && path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string_view::npos) return nullptr;
      key = std::string(path.substr(i + 1, close - i - 1));
      i = close + 1;
      if (current != nullptr && current->is_array()) {
        size_t index = 0;
        for (char c : key) {
          if (!std::isdigit(static_cast<unsigned char>(c))) return nullptr;
          index = index * 10 + static_cast<size_t>(c - '0');
        }
        if (index >= current->get_array().size()) return nullptr;
        current = &current->get_array()[index];
        continue;
      }
    } else {
      const size_t end = path.find_first_of(".[", i);
      key = std::string(path.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
      i = end == std::string_view::npos ? path.size() : end;
    }
    const json::object* o = container();
    if (o == nullptr) return nullptr;
    current = o->if_contains(key);
    if (current == nullptr) return nullptr;
  }
  return current;
}

}  // namespace

std::vector<std::string> PruneAndDefault(const CustomResourceSchema& schema, json::object& object) {
  std::vector<std::string> removed;
  if (schema.root == nullptr) return removed;
  std::string path;
  PruneObject(*schema.root, object, path, removed, /*root=*/true);
  return removed;
}

std::optional<ApiError> PruneCustomResource(const ResourceType& type, json::object& next, FieldValidation validation,
                                            std::vector<std::string>& warnings) {
  if (type.schema == nullptr) return std::nullopt;
  const std::vector<std::string> removed = PruneAndDefault(*type.schema, next);
  if (removed.empty() || validation == FieldValidation::kIgnore) return std::nullopt;
  if (validation == FieldValidation::kStrict) {
    std::string fields;
    for (const auto& f : removed) fields += (fields.empty() ? "" : ", ") + std::string("unknown field \"") + f + "\"";
    return BadRequestError(type.kind + " in version \"" + type.version + "\" cannot be handled as a " + type.kind +
                           ": strict decoding error: " + fields);
  }
  for (const auto& f : removed) warnings.push_back("unknown field \"" + f + "\"");
  return std::nullopt;
}

std::optional<ApiError> ValidateCustomResource(const ResourceType& type, const json::object& object) {
  if (type.schema == nullptr || type.schema->root == nullptr) return std::nullopt;
  std::vector<crdschema::Violation> violations;
  crdschema::internal::ValidateResource(*type.schema->root, object, violations);
  std::vector<FieldError> errors;
  std::string name;
  if (const json::object* md = ObjectField(object, "metadata")) name = StringField(*md, "name");
  if (!name.empty() && !IsDnsSubdomain(name)) {
    errors.push_back(Invalid("metadata.name", json::string(name),
                             "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
                             "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
                             "regex used for validation is "
                             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
  }
  if (violations.empty() && errors.empty()) return std::nullopt;
  for (const auto& v : violations) {
    const std::string field = v.path.empty() ? "<root>" : v.path;
    if (v.message == "is required but missing") {
      errors.push_back(Required(field));
      continue;
    }
    const json::value* value = ValueAtPath(object, v.path);
    // crdschema: `must be one of a, b; got "c"`; kube-apiserver: `Unsupported value: "c": supported values: "a", "b"`.
    if (const size_t got = v.message.rfind("; got ");
        v.message.starts_with("must be one of ") && value != nullptr && got != std::string::npos) {
      std::string supported;
      const std::string list = v.message.substr(15, got - 15);
      for (size_t start = 0; start <= list.size();) {
        const size_t comma = list.find(", ", start);
        const std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        supported +=
            (supported.empty() ? "" : ", ") + (value->is_string() ? json::serialize(json::string(item)) : item);
        if (comma == std::string::npos) break;
        start = comma + 2;
      }
      errors.push_back(FieldError{field, "Unsupported value",
                                  json::serialize(*value) + ": supported values: " + supported,
                                  "FieldValueNotSupported"});
      continue;
    }
    json::value shown = value == nullptr                          ? json::value(nullptr)
                        : value->is_object() || value->is_array() ? json::value(value->is_object() ? "object" : "array")
                                                                  : *value;
    errors.push_back(Invalid(field, shown, v.message));
  }
  return InvalidObjectError(type.kind, type.group, name, errors);
}

}  // namespace vmesh::kubesim
