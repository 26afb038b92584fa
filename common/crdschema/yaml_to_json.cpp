#include "common/crdschema/yaml_to_json.h"

#include <yaml-cpp/yaml.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>

namespace vmesh::crdschema {
namespace {

bool IsAnyOf(std::string_view s, std::initializer_list<std::string_view> options) {
  for (std::string_view o : options) {
    if (s == o) return true;
  }
  return false;
}

// Parses digits in `base` into a JSON integer (int64 when it fits, else uint64); nullopt if not all digits.
std::optional<boost::json::value> ParseInteger(std::string_view digits, bool negative, int base) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (end != digits.data() + digits.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Beyond uint64: keep the number, as a double, the way a JSON parser would.
    if (base != 10) return std::nullopt;
    double d = std::strtod(std::string(digits).c_str(), nullptr);
    return boost::json::value(negative ? -d : d);
  }
  if (ec != std::errc()) return std::nullopt;
  constexpr std::uint64_t kInt64Max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (!negative) {
    if (magnitude <= kInt64Max) return boost::json::value(static_cast<std::int64_t>(magnitude));
    return boost::json::value(magnitude);
  }
  if (magnitude <= kInt64Max) return boost::json::value(-static_cast<std::int64_t>(magnitude));
  if (magnitude == kInt64Max + 1) return boost::json::value(std::numeric_limits<std::int64_t>::min());
  return boost::json::value(-static_cast<double>(magnitude));
}

bool LooksLikeFloat(std::string_view s) {
  // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

Result<boost::json::value> Convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return boost::json::value(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      const std::string& text = node.Scalar();
      if (tag == "?") return ResolvePlainScalar(text);
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return boost::json::value(text);
      if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool" ||
          tag == "tag:yaml.org,2002:null") {
        return ResolvePlainScalar(text);
      }
      return boost::json::value(text);  // Unknown local tags: keep the text.
    }
    case YAML::NodeType::Sequence: {
      boost::json::array array;
      array.reserve(node.size());
      for (const YAML::Node& item : node) {
        Result<boost::json::value> converted = Convert(item);
        if (!converted.ok()) return converted.error();
        array.push_back(std::move(converted).value());
      }
      return boost::json::value(std::move(array));
    }
    case YAML::NodeType::Map: {
      boost::json::object object;
      object.reserve(node.size());
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return MakeError("line " + std::to_string(entry.first.Mark().line + 1) + ": mapping key is not a scalar");
        }
        Result<boost::json::value> converted = Convert(entry.second);
        if (!converted.ok()) return converted.error();
        object[entry.first.Scalar()] = std::move(converted).value();
      }
      return boost::json::value(std::move(object));
    }
  }
  return boost::json::value(nullptr);
}

}  // namespace

boost::json::value ResolvePlainScalar(std::string_view s) {
  if (IsAnyOf(s, {"", "~", "null", "Null", "NULL"})) return boost::json::value(nullptr);
  if (IsAnyOf(s, {"true", "True", "TRUE"})) return boost::json::value(true);
  if (IsAnyOf(s, {"false", "False", "FALSE"})) return boost::json::value(false);
  if (IsAnyOf(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    return boost::json::value(std::numeric_limits<double>::infinity());
  }
  if (IsAnyOf(s, {"-.inf", "-.Inf", "-.INF"})) return boost::json::value(-std::numeric_limits<double>::infinity());
  if (IsAnyOf(s, {".nan", ".NaN", ".NAN"})) return boost::json::value(std::numeric_limits<double>::quiet_NaN());

  if (s.size() > 2 && s[0] == '0' && s[1] == 'x') {
    if (auto v = ParseInteger(s.substr(2), false, 16)) return *v;
  } else if (s.size() > 2 && s[0] == '0' && s[1] == 'o') {
    if (auto v = ParseInteger(s.substr(2), false, 8)) return *v;
  } else {
    bool negative = !s.empty() && s[0] == '-';
    std::string_view digits = !s.empty() && (s[0] == '-' || s[0] == '+') ? s.substr(1) : s;
    if (auto v = ParseInteger(digits, negative, 10)) return *v;
    if (LooksLikeFloat(s)) return boost::json::value(std::strtod(std::string(s).c_str(), nullptr));
  }
  return boost::json::value(std::string(s));
}

Result<std::vector<boost::json::value>> YamlDocumentsToJson(std::string_view yaml) {
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return MakeError("YAML syntax error at line " + std::to_string(e.mark.line + 1) + ", column " +
                     std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  std::vector<boost::json::value> documents;
  documents.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    Result<boost::json::value> converted = Convert(nodes[i]);
    if (!converted.ok()) return converted.error().Wrap("document " + std::to_string(i + 1));
    documents.push_back(std::move(converted).value());
  }
  return documents;
}

}  // namespace vmesh::crdschema
