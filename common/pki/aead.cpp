#include "common/pki/aead.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "common/base/base64.h"
#include "common/base/files.h"
#include "common/pki/openssl_util.h"

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
  auto content = ReadFile(path);
  if (!content.ok()) return content.error().Wrap("--root-key-encryption-key-file");
  std::string text = *content;
  const std::string forms = " (expected 32 raw bytes, 64 hex characters or 44 base64 characters)";
  if (text.size() == kKeyEncryptionKeySize) return text;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() == 64 && text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    std::string key;
    for (size_t i = 0; i < 64; i += 2) key += static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16));
    return key;
  }
  if (text.size() == 44) {
    auto key = Base64Decode(text);
    if (key && key->size() == kKeyEncryptionKeySize) return *key;
  }
  return MakeError("--root-key-encryption-key-file " + path + ": not a 256-bit key" + forms);
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

Result<std::string> Open(std::string_view key, std::string_view sealed, std::string_view aad) {
  if (Status s = CheckKey(key); !s.ok()) return s.error();
  if (!IsSealed(sealed)) return MakeError("not a sealed value");
  auto raw = Base64Decode(sealed.substr(kPrefix.size()));
  if (!raw || raw->size() < kNonceSize + kTagSize) return MakeError("sealed value is corrupt");
  OpenSslErrorScope scope;
  const size_t text_size = raw->size() - kNonceSize - kTagSize;
  auto* bytes = reinterpret_cast<unsigned char*>(raw->data());
  std::string plain(text_size, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, reinterpret_cast<const unsigned char*>(key.data()), bytes) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, bytes + kNonceSize,
                        static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, bytes + kNonceSize + text_size) != 1) {
    return OpenSslError("open sealed value");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) != 1) {
    ERR_clear_error();
    return MakeError("sealed value does not authenticate: wrong key-encryption key, or the data was altered");
  }
  return plain;
}

}  // namespace vmesh::pki
