// Base64 (RFC 4648) for manifests (proto3 JSON bytes), kubeconfig *-data fields, sealed keys and tokens; lower-case
// hex for ids, serials and digests.
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

// Two lower-case hex digits per byte ("\x01\xab" -> "01ab").
std::string HexEncode(std::string_view bytes);

}  // namespace vmesh
