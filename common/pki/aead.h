// AES-256-GCM sealing for secrets at rest (SPEC §10: root CA keys optionally encrypted with a
// key-encryption key, --root-key-encryption-key-file).
//
// Sealed format: "vmesh-aes256gcm:v1:" + base64(12-byte random nonce || ciphertext || 16-byte tag). The
// associated data (e.g. the VirtualMesh the key belongs to) is authenticated, not stored: a sealed key
// moved to another row fails to open.
#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/pki/secure_string.h"

namespace vmesh::pki {

inline constexpr size_t kKeyEncryptionKeySize = 32;

// Reads a key-encryption key file: 32 raw bytes, or 64 hex characters, or 44 base64 characters (a trailing
// newline is ignored). Refused, with a one-line error naming the file, when group or others may access it
// (its mode is in the message; chmod 600), when it is not a regular file or too large, or when it holds none of
// the accepted forms (the message says which forms are accepted, never the content).
Result<std::string> LoadKeyEncryptionKey(const std::string& path);

Result<std::string> Seal(std::string_view key, std::string_view plaintext, std::string_view associated_data);
// The plaintext, in a buffer wiped when it is dropped.
Result<SecureString> Open(std::string_view key, std::string_view sealed, std::string_view associated_data);

bool IsSealed(std::string_view text);

}  // namespace vmesh::pki
