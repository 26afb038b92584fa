// Base64 (RFC 4648) for manifests (proto3 JSON bytes), kubeconfig *-data fields, sealed keys and tokens.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vmesh {

enum class Base64Alphabet { kStandard, kUrl };

// Standard alphabet with '=' padding; the URL alphabet without padding (as in tokens).
std::string Base64Encode(std::string_view bytes, Base64Alphabet alphabet = Base64Alphabet::kStandard);

// Accepts either alphabet, with or without padding; ASCII whitespace (line breaks in PEM-like data) is
// skipped. nullopt for anything else.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace vmesh
