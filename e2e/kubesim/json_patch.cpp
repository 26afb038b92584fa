#include "e2e/kubesim/json_patch.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

constexpr std::string_view kPatchDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrderPrefix = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/";

const json::value* KeyOf(const json::value& element, const std::string& key) {
  if (!element.is_object()) return nullptr;
  auto it = element.get_object().find(key);
  return it == element.get_object().end() ? nullptr : &it->value();
}

Result<json::value> StrategicValue(const json::value& target, const json::value& patch);

// Removes directive keys from a patch fragment that is being inserted as a new value.
json::value StripDirectives(const json::value& value) {
  if (value.is_object()) {
    json::object out;
    for (const auto& [k, v] : value.get_object()) {
      if (!k.empty() && k[0] == '$') continue;
      out[k] = StripDirectives(v);
    }
    return out;
  }
  if (value.is_array()) {
    json::array out;
    for (const auto& e : value.get_array()) {
      if (e.is_object()) {
        auto it = e.get_object().find(kPatchDirective);
        if (it != e.get_object().end() && it->value() == "delete") continue;
      }
      out.push_back(StripDirectives(e));
    }
    return out;
  }
  return value;
}

Result<json::array> MergeList(const json::array& target, const json::array& patch, const std::string& key) {
  json::array result = target;
  for (const auto& element : patch) {
    const json::value* id = KeyOf(element, key);
    if (id == nullptr) {
      // Without a key the element cannot be matched; Kubernetes appends it.
      result.push_back(StripDirectives(element));
      continue;
    }
    const auto& obj = element.get_object();
    auto directive = obj.find(kPatchDirective);
    size_t index = result.size();
    for (size_t i = 0; i < result.size(); ++i) {
      const json::value* other = KeyOf(result[i], key);
      if (other && *other == *id) {
        index = i;
        break;
      }
    }
    if (directive != obj.end()) {
      if (directive->value() == "delete") {
        if (index < result.size()) result.erase(result.begin() + index);
        continue;
      }
      if (directive->value() == "replace") {
        json::value replacement = StripDirectives(element);
        if (index < result.size()) {
          result[index] = std::move(replacement);
        } else {
          result.push_back(std::move(replacement));
        }
        continue;
      }
      if (directive->value() != "merge") {
        return MakeError("unknown $patch directive " + json::serialize(directive->value()));
      }
    }
    if (index < result.size()) {
      auto merged = StrategicValue(result[index], element);
      if (!merged.ok()) return merged.error();
      result[index] = std::move(*merged);
    } else {
      result.push_back(StripDirectives(element));
    }
  }
  return result;
}

// Orders a merged list by `$setElementOrder`: listed elements first in that order, the rest after.
json::array OrderList(const json::array& list, const json::array& order, const std::string& key) {
  json::array ordered;
  std::vector<bool> used(list.size(), false);
  for (const auto& wanted : order) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (used[i]) continue;
      const json::value* id = key.empty() ? &list[i] : KeyOf(list[i], key);
      const json::value* want = key.empty() ? &wanted : KeyOf(wanted, key);
      if (id && want && *id == *want) {
        ordered.push_back(list[i]);
        used[i] = true;
        break;
      }
    }
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (!used[i]) ordered.push_back(list[i]);
  }
  return ordered;
}

Result<json::object> StrategicObject(const json::object& target, const json::object& patch) {
  auto directive = patch.find(kPatchDirective);
  if (directive != patch.end()) {
    if (directive->value() == "replace") return StripDirectives(patch).get_object();
    if (directive->value() == "delete") return json::object();
    if (directive->value() != "merge") {
      return MakeError("unknown $patch directive " + json::serialize(directive->value()));
    }
  }
  json::object result = target;
  if (auto retain = patch.find(kRetainKeys); retain != patch.end() && retain->value().is_array()) {
    json::object kept;
    for (const auto& [k, v] : result) {
      for (const auto& name : retain->value().get_array()) {
        if (name.is_string() && name.get_string() == k) kept[k] = v;
      }
    }
    result = std::move(kept);
  }
  for (const auto& [k, v] : patch) {
    std::string_view key = k;
    if (key.starts_with(kDeleteFromPrimitiveListPrefix)) {
      std::string field(key.substr(kDeleteFromPrimitiveListPrefix.size()));
      auto it = result.find(field);
      if (it != result.end() && it->value().is_array() && v.is_array()) {
        json::array kept;
        for (const auto& e : it->value().get_array()) {
          bool drop = false;
          for (const auto& d : v.get_array()) drop = drop || d == e;
          if (!drop) kept.push_back(e);
        }
        it->value() = std::move(kept);
      }
      continue;
    }
    if (!key.empty() && key[0] == '$') continue;  // other directives are handled around their lists
    if (v.is_null()) {
      result.erase(k);
      continue;
    }
    auto existing = result.find(k);
    if (v.is_array() && existing != result.end() && existing->value().is_array()) {
      const json::array& current = existing->value().get_array();
      std::string merge_key = StrategicMergeKey(key, current, v.get_array());
      if (!merge_key.empty()) {
        auto merged = MergeList(current, v.get_array(), merge_key);
        if (!merged.ok()) return merged.error();
        existing->value() = std::move(*merged);
        continue;
      }
    }
    if (existing == result.end()) {
      result[k] = StripDirectives(v);
      continue;
    }
    auto merged = StrategicValue(existing->value(), v);
    if (!merged.ok()) return merged.error();
    existing->value() = std::move(*merged);
  }
  // `$setElementOrder/<list>` fixes the order of a merged list.
  for (const auto& [k, v] : patch) {
    std::string_view key = k;
    if (!key.starts_with(kSetElementOrderPrefix) || !v.is_array()) continue;
    std::string field(key.substr(kSetElementOrderPrefix.size()));
    auto it = result.find(field);
    if (it == result.end() || !it->value().is_array()) continue;
    const json::array& list = it->value().get_array();
    std::string merge_key = StrategicMergeKey(field, list, v.get_array());
    bool primitive = !list.empty() && !list[0].is_object();
    if (merge_key.empty() && !primitive) continue;
    it->value() = OrderList(list, v.get_array(), primitive ? std::string() : merge_key);
  }
  return result;
}

Result<json::value> StrategicValue(const json::value& target, const json::value& patch) {
  if (patch.is_object() && target.is_object()) {
    auto merged = StrategicObject(target.get_object(), patch.get_object());
    if (!merged.ok()) return merged.error();
    return json::value(std::move(*merged));
  }
  if (patch.is_object()) {
    auto merged = StrategicObject(json::object(), patch.get_object());
    if (!merged.ok()) return merged.error();
    return json::value(std::move(*merged));
  }
  return StripDirectives(patch);
}

}  // namespace

// The merge key of a list field in built-in kinds, found from the field name (and, for "ports", from the
// elements: container ports merge on containerPort, service ports on port). Empty when the list is atomic.
std::string StrategicMergeKey(std::string_view field, const json::array& a, const json::array& b) {
  if (field == "containers" || field == "initContainers" || field == "ephemeralContainers" || field == "env" ||
      field == "volumes" || field == "imagePullSecrets" || field == "conditions") {
    return field == "conditions" ? "type" : "name";
  }
  if (field == "volumeMounts") return "mountPath";
  if (field == "volumeDevices") return "devicePath";
  if (field == "hostAliases") return "ip";
  if (field == "ports") {
    auto has = [](const json::array& arr, std::string_view key) {
      for (const auto& e : arr) {
        if (e.is_object() && e.get_object().contains(key)) return true;
      }
      return false;
    };
    if (has(a, "containerPort") || has(b, "containerPort")) return "containerPort";
    return "port";
  }
  return {};
}

namespace {

// Splits an RFC 6901 pointer into unescaped tokens; nullopt when it does not start with '/'.
std::optional<std::vector<std::string>> PointerTokens(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') return std::nullopt;
  size_t start = 1;
  while (true) {
    size_t slash = pointer.find('/', start);
    std::string_view raw =
        pointer.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += raw[i];
      }
    }
    tokens.push_back(std::move(token));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return tokens;
}

std::optional<size_t> ArrayIndex(const std::string& token, size_t size, bool allow_end) {
  if (token == "-") return allow_end ? std::optional<size_t>(size) : std::nullopt;
  if (token.empty() || (token.size() > 1 && token[0] == '0')) return std::nullopt;
  size_t index = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<size_t>(c - '0');
  }
  if (index > size || (!allow_end && index == size)) return std::nullopt;
  return index;
}

// The value a pointer names, or null.
json::value* Resolve(json::value& root, const std::vector<std::string>& tokens) {
  json::value* current = &root;
  for (const auto& token : tokens) {
    if (current->is_object()) {
      auto it = current->get_object().find(token);
      if (it == current->get_object().end()) return nullptr;
      current = &it->value();
    } else if (current->is_array()) {
      auto index = ArrayIndex(token, current->get_array().size(), false);
      if (!index) return nullptr;
      current = &current->get_array()[*index];
    } else {
      return nullptr;
    }
  }
  return current;
}

bool Add(json::value& root, const std::vector<std::string>& tokens, json::value value) {
  if (tokens.empty()) {
    root = std::move(value);
    return true;
  }
  std::vector<std::string> parent_tokens(tokens.begin(), tokens.end() - 1);
  json::value* parent = Resolve(root, parent_tokens);
  if (parent == nullptr) return false;
  if (parent->is_object()) {
    parent->get_object()[tokens.back()] = std::move(value);
    return true;
  }
  if (parent->is_array()) {
    json::array& array = parent->get_array();
    auto index = ArrayIndex(tokens.back(), array.size(), true);
    if (!index) return false;
    array.insert(array.begin() + static_cast<std::ptrdiff_t>(*index), std::move(value));
    return true;
  }
  return false;
}

std::optional<json::value> Remove(json::value& root, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return std::nullopt;
  std::vector<std::string> parent_tokens(tokens.begin(), tokens.end() - 1);
  json::value* parent = Resolve(root, parent_tokens);
  if (parent == nullptr) return std::nullopt;
  if (parent->is_object()) {
    auto it = parent->get_object().find(tokens.back());
    if (it == parent->get_object().end()) return std::nullopt;
    json::value removed = it->value();
    parent->get_object().erase(it);
    return removed;
  }
  if (parent->is_array()) {
    json::array& array = parent->get_array();
    auto index = ArrayIndex(tokens.back(), array.size(), false);
    if (!index) return std::nullopt;
    json::value removed = array[*index];
    array.erase(array.begin() + static_cast<std::ptrdiff_t>(*index));
    return removed;
  }
  return std::nullopt;
}

}  // namespace

Result<json::value> ApplyJsonPatch(const json::value& target, const json::value& patch) {
  if (!patch.is_array()) return MakeError("a JSON patch must be a list of operations");
  json::value result = target;
  for (size_t i = 0; i < patch.get_array().size(); ++i) {
    const json::value& operation = patch.get_array()[i];
    const std::string where = "operation " + std::to_string(i + 1);
    if (!operation.is_object()) return MakeError(where + ": not an object");
    const json::object& op = operation.get_object();
    auto string_member = [&](const char* key) -> std::optional<std::string> {
      auto it = op.find(key);
      if (it == op.end() || !it->value().is_string()) return std::nullopt;
      return std::string(it->value().get_string());
    };
    auto name = string_member("op");
    auto path = string_member("path");
    if (!name || !path) return MakeError(where + ": op and path are required");
    auto tokens = PointerTokens(*path);
    if (!tokens) return MakeError(where + ": invalid path \"" + *path + "\"");
    const json::value* value = op.if_contains("value");
    if (*name == "add" || *name == "replace" || *name == "test") {
      if (value == nullptr) return MakeError(where + ": " + *name + " needs a value");
    }
    bool ok = false;
    if (*name == "add") {
      ok = Add(result, *tokens, *value);
    } else if (*name == "remove") {
      ok = Remove(result, *tokens).has_value();
    } else if (*name == "replace") {
      json::value* existing = Resolve(result, *tokens);
      if (existing != nullptr) *existing = *value;
      ok = existing != nullptr;
    } else if (*name == "test") {
      json::value* existing = Resolve(result, *tokens);
      if (existing == nullptr || *existing != *value) return MakeError(where + ": test failed at " + *path);
      ok = true;
    } else if (*name == "move" || *name == "copy") {
      auto from = string_member("from");
      auto from_tokens = from ? PointerTokens(*from) : std::nullopt;
      if (!from_tokens) return MakeError(where + ": " + *name + " needs a valid from");
      std::optional<json::value> moved;
      if (*name == "move") {
        moved = Remove(result, *from_tokens);
      } else if (json::value* source = Resolve(result, *from_tokens)) {
        moved = *source;
      }
      ok = moved.has_value() && Add(result, *tokens, std::move(*moved));
    } else {
      return MakeError(where + ": unknown op \"" + *name + "\"");
    }
    if (!ok) return MakeError(where + ": " + *name + " " + *path + ": the path does not exist");
  }
  return result;
}

json::value ApplyMergePatch(const json::value& target, const json::value& patch) {
  if (!patch.is_object()) return patch;
  json::object result = target.is_object() ? target.get_object() : json::object();
  for (const auto& [k, v] : patch.get_object()) {
    if (v.is_null()) {
      result.erase(k);
      continue;
    }
    auto it = result.find(k);
    result[k] = ApplyMergePatch(it == result.end() ? json::value() : it->value(), v);
  }
  return result;
}

Result<json::value> ApplyStrategicMergePatch(const json::value& target, const json::value& patch) {
  return StrategicValue(target, patch);
}

}  // namespace vmesh::kubesim
