// UTF-8 validity (RFC 3629): what protobuf requires of proto3 `string` fields and what text from users and peers
// must be before it is stored or sent. Overlong forms, surrogates (U+D800..U+DFFF) and code points above
// U+10FFFF are invalid.
#pragma once

#include <cstddef>
#include <string_view>

namespace vmesh {

// Offset of the first byte that does not start a valid UTF-8 sequence, or std::string_view::npos when `s` is
// valid UTF-8.
std::size_t InvalidUtf8Offset(std::string_view s);

inline bool IsValidUtf8(std::string_view s) { return InvalidUtf8Offset(s) == std::string_view::npos; }

}  // namespace vmesh
