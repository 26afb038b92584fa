#include "common/base/random.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include "common/base/base64.h"

namespace vmesh {

Result<std::string> RandomBytes(std::size_t n, RandomSource source) {
  if (source == nullptr) source = RAND_bytes;
  std::string out(n, '\0');
  if (n == 0) return out;
  ERR_clear_error();
  if (source(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::string message = "the random number generator failed";
    if (unsigned long code = ERR_get_error(); code != 0) {
      char reason[256];
      ERR_error_string_n(code, reason, sizeof reason);
      message += std::string(": ") + reason;
    }
    return MakeError(std::move(message), ErrorCode::kInternal);
  }
  return out;
}

Result<std::string> RandomHex(std::size_t n, RandomSource source) {
  auto bytes = RandomBytes(n, source);
  if (!bytes.ok()) return bytes.error();
  return HexEncode(*bytes);
}

Result<std::string> RandomUuid(RandomSource source) {
  auto bytes = RandomBytes(16, source);
  if (!bytes.ok()) return bytes.error();
  std::string& b = *bytes;
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);  // variant 10xx
  const std::string hex = HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

}  // namespace vmesh
