// Random bytes and identifiers from OpenSSL's CSPRNG (RAND_bytes). A failing generator is an error, never a
// silently predictable id.
#pragma once

#include <cstddef>
#include <string>

#include "common/base/result.h"

namespace vmesh {

// A generator with RAND_bytes' contract: fill `buf` with `num` bytes, return 1 on success. Tests inject a
// failing one; nullptr means RAND_bytes.
using RandomSource = int (*)(unsigned char* buf, int num);

// `n` random bytes. Fails (naming OpenSSL's reason) when the generator does.
Result<std::string> RandomBytes(std::size_t n, RandomSource source = nullptr);

// `n` random bytes as 2n lower-case hex digits (request ids, restart ids).
Result<std::string> RandomHex(std::size_t n, RandomSource source = nullptr);

// A random (version 4, RFC 4122) UUID in its 36-character form, as Kubernetes' metadata.uid.
Result<std::string> RandomUuid(RandomSource source = nullptr);

}  // namespace vmesh
