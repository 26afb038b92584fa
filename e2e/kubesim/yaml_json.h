// YAML -> JSON for manifests, seeds and application/apply-patch+yaml bodies.
//
// Untagged plain scalars are typed the way Kubernetes' YAML decoder types them (null/~, true/false,
// integers, floats; everything else a string); quoted scalars are always strings. Pure; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace vmesh::kubesim {

// Parses every non-empty document of a multi-document YAML stream (JSON is YAML too).
Result<std::vector<boost::json::value>> ParseYamlDocuments(std::string_view text);

// Replaces every `${NAME}` whose NAME is in `vars` with its value; other text is left alone.
std::string SubstitutePlaceholders(std::string_view text, const std::vector<std::pair<std::string, std::string>>& vars);

}  // namespace vmesh::kubesim
