// Tolerant accessors for Kubernetes-style JSON objects (Boost.JSON): a missing or mistyped field yields an empty
// value (nullptr, "", 0, false, an empty map), never an exception. For reading whatever a cluster, a peer or a
// user sent; where a field is required, check it and name it in an error instead.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

namespace vmesh::jsonf {

namespace json = boost::json;

// The member `key` of `o` (which may be null) if it has that type.
const json::object* Obj(const json::object* o, std::string_view key);
const json::object* Obj(const json::object& o, std::string_view key);
const json::array* Arr(const json::object* o, std::string_view key);
const json::array* Arr(const json::object& o, std::string_view key);
std::string Str(const json::object* o, std::string_view key);
std::string Str(const json::object& o, std::string_view key);
// int64 or uint64 members (a uint64 above INT64_MAX wraps, as JSON from Kubernetes never holds one).
std::int64_t Int(const json::object* o, std::string_view key, std::int64_t fallback = 0);
bool Bool(const json::object* o, std::string_view key);
// The string members of `o` (labels, annotations, ConfigMap data); others are skipped.
std::map<std::string, std::string> StrMap(const json::object* o);

// The value at a path of object keys ({"metadata", "name"}), or null when a step is missing or not an object.
const json::value* At(const json::object& root, std::initializer_list<std::string_view> path);
const json::value* At(const json::value& root, std::initializer_list<std::string_view> path);
std::string StrAt(const json::object& root, std::initializer_list<std::string_view> path);
std::string StrAt(const json::value& root, std::initializer_list<std::string_view> path);
std::int64_t IntAt(const json::object& root, std::initializer_list<std::string_view> path, std::int64_t fallback = 0);
// A copy of the object at a path, or an empty object.
json::object ObjAt(const json::object& root, std::initializer_list<std::string_view> path);

// The object member `key` of `parent`, created (replacing a non-object) when missing.
json::object& Ensure(json::object& parent, std::string_view key);

// metadata and its usual members.
const json::object* Meta(const json::object& o);
std::string Name(const json::object& o);
std::string Namespace(const json::object& o);
std::map<std::string, std::string> Labels(const json::object& o);
std::map<std::string, std::string> Annotations(const json::object& o);

}  // namespace vmesh::jsonf
