#include "common/pki/aead.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "common/base/base64.h"
#include "common/base/files.h"
#include "common/pki/openssl_util.h"
#include "common/pki/secure_string.h"

namespace vmesh::pki {
namespace {

constexpr std::string_view kPrefix = "vmesh-aes256gcm:v1:";
constexpr int kNonceSize = 12;
constexpr int kTagSize = 16;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

Status CheckKey(std::string_view key) {
  if (key.size() != kKeyEncryptionKeySize) return MakeError("the key-encryption key must be 32 bytes (AES-256)");
  return OkStatus();
}

}  // namespace

Result<std::string> LoadKeyEncryptionKey(const std::string& path) {
  const std::string flag = "--root-key-encryption-key-file ";
  const std::string forms = " (expected 32 raw bytes, 64 hex characters or 44 base64 characters)";
  // Like ssh with private keys: a key others can read is refused, not used. Symlinks are followed (Kubernetes
  // mounts Secrets through them); the mode is the target's, checked on the descriptor that is read.
  auto content = ReadFile(path, ReadOptions{.private_only = true, .max_bytes = 128});
  if (!content.ok()) {
    const std::string& m = content.error().message;
    if (m.find(" bytes, more than the ") != std::string::npos || m.find("larger than the") != std::string::npos) {
      return MakeError(flag + path + ": too large for a 256-bit key" + forms);
    }
    return MakeError(flag + m);
  }
  SecureString text(std::move(*content));
  std::string& t = text.mutable_value();
  if (t.size() == kKeyEncryptionKeySize) return std::string(t);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  if (t.size() == 64 && t.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    std::string key(kKeyEncryptionKeySize, '\0');
    for (size_t i = 0; i < kKeyEncryptionKeySize; ++i) {
      auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
      key[i] = static_cast<char>(nibble(t[2 * i]) << 4 | nibble(t[2 * i + 1]));
    }
    return key;
  }
  if (t.size() == 44) {
    auto decoded = Base64Decode(t);
    if (decoded) {
      SecureString key(std::move(*decoded));
      if (key.size() == kKeyEncryptionKeySize) return std::string(key.value());
    }
  }
  if (t.empty()) return MakeError(flag + path + " is empty" + forms);
  return MakeError(flag + path + ": not a 256-bit key (" + std::to_string(t.size()) + " characters)" + forms);
}

bool IsSealed(std::string_view text) { return text.substr(0, kPrefix.size()) == kPrefix; }

Result<std::string> Seal(std::string_view key, std::string_view plaintext, std::string_view aad) {
  if (Status s = CheckKey(key); !s.ok()) return s.error();
  OpenSslErrorScope scope;
  unsigned char nonce[kNonceSize];
  if (RAND_bytes(nonce, kNonceSize) != 1) return OpenSslError("seal: random nonce");
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
  std::copy(nonce, nonce + kNonceSize, out.begin());
  int len = 0;
  auto* cipher_out = reinterpret_cast<unsigned char*>(out.data()) + kNonceSize;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, reinterpret_cast<const unsigned char*>(key.data()), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), cipher_out, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), cipher_out + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, cipher_out + plaintext.size()) != 1) {
    return OpenSslError("seal");
  }
  return std::string(kPrefix) + Base64Encode(out);
}

Result<SecureString> Open(std::string_view key, std::string_view sealed, std::string_view aad) {
  if (Status s = CheckKey(key); !s.ok()) return s.error();
  if (!IsSealed(sealed)) return MakeError("not a sealed value");
  auto raw = Base64Decode(sealed.substr(kPrefix.size()));
  if (!raw || raw->size() < kNonceSize + kTagSize) return MakeError("sealed value is corrupt");
  OpenSslErrorScope scope;
  const size_t text_size = raw->size() - kNonceSize - kTagSize;
  auto* bytes = reinterpret_cast<unsigned char*>(raw->data());
  SecureString plain(std::string(text_size, '\0'));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, reinterpret_cast<const unsigned char*>(key.data()), bytes) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.mutable_value().data()), &len,
                        bytes + kNonceSize, static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, bytes + kNonceSize + text_size) != 1) {
    return OpenSslError("open sealed value");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.mutable_value().data()) + len, &len) != 1) {
    ERR_clear_error();
    plain.Clear();  // unauthenticated plaintext
    return MakeError("sealed value does not authenticate: wrong key-encryption key, or the data was altered");
  }
  return plain;
}

}  // namespace vmesh::pki
