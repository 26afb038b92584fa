#include "e2e/kubesim/managed_fields.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>

#include "common/base/time.h"
#include "e2e/kubesim/json_patch.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

constexpr const char* kApply = "Apply";
constexpr const char* kUpdate = "Update";

// Server-owned or identifying fields that no manager owns.
bool Untracked(const FieldPath& prefix, std::string_view field) {
  if (prefix.empty()) return field == "apiVersion" || field == "kind" || field == "status";
  if (prefix.size() == 1 && prefix[0] == "f:metadata") {
    return field == "name" || field == "namespace" || field == "uid" || field == "resourceVersion" ||
           field == "generation" || field == "creationTimestamp" || field == "deletionTimestamp" ||
           field == "managedFields" || field == "selfLink";
  }
  return false;
}

std::string KeyToken(const std::string& key, const json::value& id) {
  return "k:" + json::serialize(json::object{{key, id}});
}

void CollectFields(const ResourceType& type, const json::object& object, FieldPath& prefix, FieldSet& out) {
  for (const auto& [k, v] : object) {
    if (Untracked(prefix, k)) continue;
    prefix.push_back("f:" + std::string(k));
    if (v.is_object() && !v.get_object().empty()) {
      CollectFields(type, v.get_object(), prefix, out);
    } else if (v.is_array() && type.builtin && !v.get_array().empty()) {
      std::string key = StrategicMergeKey(k, v.get_array(), v.get_array());
      bool keyed = !key.empty() && std::all_of(v.get_array().begin(), v.get_array().end(), [&](const json::value& e) {
        return e.is_object() && e.get_object().contains(key);
      });
      if (!keyed) {
        out.insert(prefix);
      } else {
        for (const auto& element : v.get_array()) {
          prefix.push_back(KeyToken(key, element.get_object().at(key)));
          prefix.push_back(".");
          out.insert(prefix);
          prefix.pop_back();
          CollectFields(type, element.get_object(), prefix, out);
          prefix.pop_back();
        }
      }
    } else {
      out.insert(prefix);
    }
    prefix.pop_back();
  }
}

// The value a path leads to, or null.
const json::value* ValueAt(const json::object& root, const FieldPath& path) {
  const json::value* current = nullptr;
  const json::object* object = &root;
  const json::array* array = nullptr;
  for (const auto& token : path) {
    if (token == ".") continue;
    if (token.starts_with("f:")) {
      if (object == nullptr) return nullptr;
      auto it = object->find(token.substr(2));
      if (it == object->end()) return nullptr;
      current = &it->value();
    } else if (token.starts_with("k:")) {
      if (array == nullptr) return nullptr;
      json::error_code ec;
      json::value key = json::parse(token.substr(2), ec);
      if (ec || !key.is_object()) return nullptr;
      current = nullptr;
      for (const auto& element : *array) {
        if (!element.is_object()) continue;
        bool match = true;
        for (const auto& [kk, kv] : key.get_object()) {
          auto it = element.get_object().find(kk);
          match = match && it != element.get_object().end() && it->value() == kv;
        }
        if (match) {
          current = &element;
          break;
        }
      }
      if (current == nullptr) return nullptr;
    } else {
      return nullptr;
    }
    object = current->is_object() ? &current->get_object() : nullptr;
    array = current->is_array() ? &current->get_array() : nullptr;
  }
  return current;
}

// Removes what a path leads to: a member, or (for a path ending in ".") a list element.
void RemoveAt(json::object& root, const FieldPath& path) {
  if (path.empty()) return;
  const bool element = path.back() == ".";
  FieldPath parent_path(path.begin(), path.end() - (element ? 2 : 1));
  json::value* parent = parent_path.empty() ? nullptr : const_cast<json::value*>(ValueAt(root, parent_path));
  if (element) {
    if (parent == nullptr || !parent->is_array()) return;
    FieldPath element_path = parent_path;
    element_path.push_back(path[path.size() - 2]);
    const json::value* target = ValueAt(root, element_path);
    json::array& list = parent->get_array();
    for (auto it = list.begin(); it != list.end(); ++it) {
      if (&*it == target) {
        list.erase(it);
        return;
      }
    }
    return;
  }
  json::object* owner = parent_path.empty() ? &root : (parent && parent->is_object() ? &parent->get_object() : nullptr);
  if (owner != nullptr && path.back().starts_with("f:")) owner->erase(path.back().substr(2));
}

std::string RenderPath(const FieldPath& path) {
  std::string out;
  for (const auto& token : path) {
    if (token.starts_with("f:")) {
      out += "." + token.substr(2);
    } else if (token.starts_with("k:")) {
      json::error_code ec;
      json::value key = json::parse(token.substr(2), ec);
      std::string inner;
      if (!ec && key.is_object()) {
        for (const auto& [k, v] : key.get_object()) {
          if (!inner.empty()) inner += ",";
          inner += std::string(k) + "=" + json::serialize(v);
        }
      }
      out += "[" + inner + "]";
    }
  }
  return out;
}

std::string NowRfc3339() { return FormatRfc3339(std::chrono::system_clock::now()); }

struct Manager {
  std::string name;
  std::string operation;
  std::string api_version;
  std::string time;
  FieldSet fields;
};

void FlattenFieldsV1(const json::object& tree, FieldPath& prefix, FieldSet& out) {
  for (const auto& [k, v] : tree) {
    prefix.push_back(std::string(k));
    if (k == "." || !v.is_object() || v.get_object().empty()) {
      out.insert(prefix);
    } else {
      FlattenFieldsV1(v.get_object(), prefix, out);
    }
    prefix.pop_back();
  }
}

json::object ToFieldsV1(const FieldSet& fields) {
  json::object root;
  for (const auto& path : fields) {
    json::object* node = &root;
    for (const auto& token : path) {
      json::value& child = (*node)[token];
      if (!child.is_object()) child = json::object();
      node = &child.get_object();
    }
  }
  return root;
}

std::vector<Manager> ReadManagers(const json::object& object) {
  std::vector<Manager> managers;
  auto md = object.find("metadata");
  if (md == object.end() || !md->value().is_object()) return managers;
  auto mf = md->value().get_object().find("managedFields");
  if (mf == md->value().get_object().end() || !mf->value().is_array()) return managers;
  for (const auto& entry : mf->value().get_array()) {
    if (!entry.is_object()) continue;
    const json::object& e = entry.get_object();
    auto str = [&](const char* key) {
      auto it = e.find(key);
      return it != e.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
    };
    Manager m{str("manager"), str("operation"), str("apiVersion"), str("time"), {}};
    if (auto f = e.find("fieldsV1"); f != e.end() && f->value().is_object()) {
      FieldPath prefix;
      FlattenFieldsV1(f->value().get_object(), prefix, m.fields);
    }
    managers.push_back(std::move(m));
  }
  return managers;
}

void WriteManagers(json::object& object, const std::vector<Manager>& managers) {
  json::array entries;
  for (const auto& m : managers) {
    if (m.fields.empty()) continue;
    entries.push_back(json::object{{"manager", m.name},
                                   {"operation", m.operation},
                                   {"apiVersion", m.api_version},
                                   {"time", m.time},
                                   {"fieldsType", "FieldsV1"},
                                   {"fieldsV1", ToFieldsV1(m.fields)}});
  }
  json::value& metadata = object["metadata"];
  if (!metadata.is_object()) metadata = json::object();
  if (entries.empty()) {
    metadata.get_object().erase("managedFields");
  } else {
    metadata.get_object()["managedFields"] = std::move(entries);
  }
}

// Gives `fields` to (name, operation), taking `taken` from everyone else. The time changes only when
// the manager's set does, so that a repeated identical write stays a no-op.
void Assign(std::vector<Manager>& managers, const std::string& name, const std::string& operation,
            const std::string& api_version, const FieldSet& fields, const FieldSet& taken, bool replace) {
  for (auto& m : managers) {
    if (m.name == name && m.operation == operation) continue;
    for (const auto& f : taken) m.fields.erase(f);
  }
  auto it = std::find_if(managers.begin(), managers.end(),
                         [&](const Manager& m) { return m.name == name && m.operation == operation; });
  if (it == managers.end()) {
    if (fields.empty()) return;
    managers.push_back(Manager{name, operation, api_version, NowRfc3339(), fields});
    return;
  }
  FieldSet next = fields;
  if (!replace) next.insert(it->fields.begin(), it->fields.end());
  if (next != it->fields || it->api_version != api_version) {
    it->fields = std::move(next);
    it->api_version = api_version;
    it->time = NowRfc3339();
  }
}

json::object WithoutManagedFields(const json::object& object) {
  json::object copy = object;
  if (auto md = copy.find("metadata"); md != copy.end() && md->value().is_object()) {
    md->value().get_object().erase("managedFields");
  }
  return copy;
}

FieldSet LastAppliedFields(const ResourceType& type, const json::object& live) {
  const json::value* md = live.if_contains("metadata");
  const json::value* annotations = md && md->is_object() ? md->get_object().if_contains("annotations") : nullptr;
  const json::value* text =
      annotations && annotations->is_object()
          ? annotations->get_object().if_contains("kubectl.kubernetes.io/last-applied-configuration")
          : nullptr;
  if (!text || !text->is_string()) return {};
  json::error_code ec;
  json::value last = json::parse(text->get_string(), ec);
  if (ec || !last.is_object()) return {};
  return FieldsOf(type, last.get_object());
}

}  // namespace

FieldSet FieldsOf(const ResourceType& type, const json::object& object) {
  FieldSet out;
  FieldPath prefix;
  CollectFields(type, object, prefix, out);
  return out;
}

void RecordUpdate(const ResourceType& type, const json::object* old, json::object& updated,
                  const std::string& manager) {
  std::vector<Manager> managers = old ? ReadManagers(*old) : std::vector<Manager>();
  const json::object old_plain = old ? WithoutManagedFields(*old) : json::object();
  FieldSet changed;
  for (const auto& path : FieldsOf(type, WithoutManagedFields(updated))) {
    const json::value* before = ValueAt(old_plain, path);
    const json::value* after = ValueAt(updated, path);
    if (before == nullptr || after == nullptr || *before != *after) changed.insert(path);
  }
  // Fields that are gone belong to nobody.
  const FieldSet present = FieldsOf(type, WithoutManagedFields(updated));
  for (auto& m : managers) {
    for (auto it = m.fields.begin(); it != m.fields.end();) {
      it = present.contains(*it) ? std::next(it) : m.fields.erase(it);
    }
  }
  Assign(managers, manager, kUpdate, type.GroupVersion(), changed, changed, /*replace=*/false);
  WriteManagers(updated, managers);
}

ApiResult<json::object> ServerSideApply(const ResourceType& type, const json::object* live, const json::object& config,
                                        const std::string& manager, bool force) {
  std::vector<Manager> managers = live ? ReadManagers(*live) : std::vector<Manager>();
  const json::object live_plain = live ? WithoutManagedFields(*live) : json::object();
  const FieldSet applied = FieldsOf(type, WithoutManagedFields(config));

  // Conflicts: fields someone else owns whose value the configuration would change.
  std::map<std::string, std::vector<std::string>> conflicts;  // "manager" using apiVersion -> rendered paths
  size_t conflict_count = 0;
  FieldSet contested;  // taken over when forced; fields applied with their current value are shared
  for (const auto& m : managers) {
    if (m.name == manager && m.operation == kApply) continue;
    for (const auto& path : applied) {
      if (!m.fields.contains(path)) continue;
      if (path.back() == ".") continue;  // a list element's existence is shared, not contested
      const json::value* current = ValueAt(live_plain, path);
      const json::value* wanted = ValueAt(config, path);
      if (current && wanted && *current == *wanted) continue;
      contested.insert(path);
      conflicts["\"" + m.name + "\" using " + m.api_version].push_back(RenderPath(path));
      ++conflict_count;
    }
  }
  // As kube-apiserver does for kubectl, fields that client-side apply set (they are in the
  // last-applied-configuration annotation) pass to a kubectl server-side apply without conflict.
  if (conflict_count > 0 && !force && manager.starts_with("kubectl") && live != nullptr) {
    const FieldSet last_applied = LastAppliedFields(type, *live);
    force = std::all_of(contested.begin(), contested.end(),
                        [&](const FieldPath& path) { return last_applied.contains(path); });
  }
  if (conflict_count > 0 && !force) {
    std::string message =
        "Apply failed with " + std::to_string(conflict_count) + (conflict_count == 1 ? " conflict: " : " conflicts: ");
    bool first = true;
    for (const auto& [name, paths] : conflicts) {
      if (!first) message += "\n";
      first = false;
      message += std::string(paths.size() == 1 ? "conflict" : "conflicts") + " with " + name;
      if (paths.size() == 1) {
        message += ": " + paths[0];
      } else {
        for (const auto& p : paths) message += "\n- " + p;
      }
    }
    return ApiError{409, "Conflict", message};
  }

  // Merge the configuration in, then drop what this applier gave up and nobody else holds.
  json::value merged;
  if (type.builtin) {
    auto result = ApplyStrategicMergePatch(live_plain, config);
    if (!result.ok()) return BadRequestError(result.error().message);
    merged = std::move(*result);
  } else {
    merged = ApplyMergePatch(live_plain, config);
  }
  json::object result = merged.is_object() ? std::move(merged.get_object()) : json::object();
  auto previous = std::find_if(managers.begin(), managers.end(),
                               [&](const Manager& m) { return m.name == manager && m.operation == kApply; });
  if (previous != managers.end()) {
    for (const auto& path : previous->fields) {
      if (applied.contains(path)) continue;
      bool shared = std::any_of(managers.begin(), managers.end(),
                                [&](const Manager& m) { return &m != &*previous && m.fields.contains(path); });
      if (!shared) RemoveAt(result, path);
    }
  }
  Assign(managers, manager, kApply, type.GroupVersion(), applied, contested, /*replace=*/true);
  WriteManagers(result, managers);
  return result;
}

}  // namespace vmesh::kubesim
