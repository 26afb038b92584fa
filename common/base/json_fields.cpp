#include "common/base/json_fields.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace vmesh::jsonf {
namespace {

const json::value* Member(const json::object* o, std::string_view key) {
  return o != nullptr ? o->if_contains(key) : nullptr;
}

std::int64_t AsInt(const json::value* v, std::int64_t fallback) {
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return fallback;
}

std::string AsStr(const json::value* v) { return v != nullptr && v->is_string() ? std::string(v->get_string()) : ""; }

}  // namespace

const json::object* Obj(const json::object* o, std::string_view key) {
  const json::value* v = Member(o, key);
  return v != nullptr ? v->if_object() : nullptr;
}
const json::object* Obj(const json::object& o, std::string_view key) { return Obj(&o, key); }

const json::array* Arr(const json::object* o, std::string_view key) {
  const json::value* v = Member(o, key);
  return v != nullptr ? v->if_array() : nullptr;
}
const json::array* Arr(const json::object& o, std::string_view key) { return Arr(&o, key); }

std::string Str(const json::object* o, std::string_view key) { return AsStr(Member(o, key)); }
std::string Str(const json::object& o, std::string_view key) { return Str(&o, key); }

std::int64_t Int(const json::object* o, std::string_view key, std::int64_t fallback) {
  return AsInt(Member(o, key), fallback);
}

bool Bool(const json::object* o, std::string_view key) {
  const json::value* v = Member(o, key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

std::map<std::string, std::string> StrMap(const json::object* o) {
  std::map<std::string, std::string> out;
  if (o == nullptr) return out;
  for (const auto& [k, v] : *o) {
    if (v.is_string()) out[std::string(k)] = std::string(v.get_string());
  }
  return out;
}

const json::value* At(const json::object& root, std::initializer_list<std::string_view> path) {
  const json::object* current = &root;
  const json::value* v = nullptr;
  for (std::string_view key : path) {
    v = Member(current, key);
    if (v == nullptr) return nullptr;
    current = v->if_object();
  }
  return v;
}

const json::value* At(const json::value& root, std::initializer_list<std::string_view> path) {
  return root.is_object() ? At(root.get_object(), path) : nullptr;
}

std::string StrAt(const json::object& root, std::initializer_list<std::string_view> path) {
  return AsStr(At(root, path));
}
std::string StrAt(const json::value& root, std::initializer_list<std::string_view> path) {
  return AsStr(At(root, path));
}

std::int64_t IntAt(const json::object& root, std::initializer_list<std::string_view> path, std::int64_t fallback) {
  return AsInt(At(root, path), fallback);
}

json::object ObjAt(const json::object& root, std::initializer_list<std::string_view> path) {
  const json::value* v = At(root, path);
  return v != nullptr && v->is_object() ? v->get_object() : json::object();
}

json::object& Ensure(json::object& parent, std::string_view key) {
  json::value& v = parent[key];
  if (!v.is_object()) v = json::object();
  return v.get_object();
}

const json::object* Meta(const json::object& o) { return Obj(o, "metadata"); }
std::string Name(const json::object& o) { return Str(Meta(o), "name"); }
std::string Namespace(const json::object& o) { return Str(Meta(o), "namespace"); }
std::map<std::string, std::string> Labels(const json::object& o) { return StrMap(Obj(Meta(o), "labels")); }
std::map<std::string, std::string> Annotations(const json::object& o) { return StrMap(Obj(Meta(o), "annotations")); }

}  // namespace vmesh::jsonf
