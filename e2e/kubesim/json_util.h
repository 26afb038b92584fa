// Small read helpers over Boost.JSON objects for kubesim's controllers.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <string>
#include <string_view>

namespace vmesh::kubesim::jsonutil {

// The value at a path of object keys, or null when any step is missing or not an object.
inline const boost::json::value* At(const boost::json::object& root, std::initializer_list<std::string_view> path) {
  const boost::json::object* current = &root;
  const boost::json::value* v = nullptr;
  for (std::string_view key : path) {
    if (current == nullptr) return nullptr;
    auto it = current->find(key);
    if (it == current->end()) return nullptr;
    v = &it->value();
    current = v->is_object() ? &v->get_object() : nullptr;
  }
  return v;
}

// The string at a path, or empty.
inline std::string Str(const boost::json::object& root, std::initializer_list<std::string_view> path) {
  const boost::json::value* v = At(root, path);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The object at a path, or an empty one.
inline boost::json::object Obj(const boost::json::object& root, std::initializer_list<std::string_view> path) {
  const boost::json::value* v = At(root, path);
  return v && v->is_object() ? v->get_object() : boost::json::object();
}

// The object at `key`, created (replacing a non-object) when missing.
inline boost::json::object& Ensure(boost::json::object& parent, std::string_view key) {
  boost::json::value& v = parent[key];
  if (!v.is_object()) v = boost::json::object();
  return v.get_object();
}

}  // namespace vmesh::kubesim::jsonutil
