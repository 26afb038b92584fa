// YAML → Boost.JSON conversion for the CRD loader.
//
// Plain scalars are resolved with the YAML 1.2 core schema (null, true/false, decimal/hex/octal integers,
// floats, .inf/.nan); quoted and block scalars, and scalars tagged !!str, stay strings. Mapping keys become
// strings. Integers that do not fit int64 become uint64 (or double when they do not fit that either).
#pragma once

#include <boost/json/value.hpp>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace vmesh::crdschema {

// Parses every document of a multi-document YAML stream. Empty documents come back as null. Errors name the
// line and column of the YAML syntax error.
Result<std::vector<boost::json::value>> YamlDocumentsToJson(std::string_view yaml);

// Resolves one plain (unquoted, untagged) YAML scalar to a JSON value per the YAML 1.2 core schema.
boost::json::value ResolvePlainScalar(std::string_view scalar);

}  // namespace vmesh::crdschema
