// Tolerant accessors for Kubernetes objects as JSON: a missing or mistyped field yields an empty value, never
// an exception (discovery reads whatever the cluster holds).
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace vmesh::agent::jsonf {

namespace json = boost::json;

inline const json::object* Obj(const json::object* o, std::string_view key) {
  if (o == nullptr) return nullptr;
  auto it = o->find(key);
  return it != o->end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}
inline const json::object* Obj(const json::object& o, std::string_view key) { return Obj(&o, key); }

inline const json::array* Arr(const json::object* o, std::string_view key) {
  if (o == nullptr) return nullptr;
  auto it = o->find(key);
  return it != o->end() && it->value().is_array() ? &it->value().get_array() : nullptr;
}
inline const json::array* Arr(const json::object& o, std::string_view key) { return Arr(&o, key); }

inline std::string Str(const json::object* o, std::string_view key) {
  if (o == nullptr) return "";
  auto it = o->find(key);
  return it != o->end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}

inline std::int64_t Int(const json::object* o, std::string_view key) {
  if (o == nullptr) return 0;
  auto it = o->find(key);
  if (it == o->end()) return 0;
  if (it->value().is_int64()) return it->value().get_int64();
  if (it->value().is_uint64()) return static_cast<std::int64_t>(it->value().get_uint64());
  return 0;
}

inline bool Bool(const json::object* o, std::string_view key) {
  if (o == nullptr) return false;
  auto it = o->find(key);
  return it != o->end() && it->value().is_bool() && it->value().get_bool();
}

inline std::map<std::string, std::string> StrMap(const json::object* o) {
  std::map<std::string, std::string> out;
  if (o == nullptr) return out;
  for (const auto& [k, v] : *o) {
    if (v.is_string()) out[std::string(k)] = std::string(v.get_string());
  }
  return out;
}

inline const json::object* Meta(const json::object& o) { return Obj(o, "metadata"); }
inline std::string Name(const json::object& o) { return Str(Meta(o), "name"); }
inline std::string Namespace(const json::object& o) { return Str(Meta(o), "namespace"); }
inline std::map<std::string, std::string> Labels(const json::object& o) { return StrMap(Obj(Meta(o), "labels")); }
inline std::map<std::string, std::string> Annotations(const json::object& o) {
  return StrMap(Obj(Meta(o), "annotations"));
}

}  // namespace vmesh::agent::jsonf
