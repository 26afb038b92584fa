#include "common/pki/secure_string.h"

#include <openssl/crypto.h>

#include <utility>

namespace vmesh::pki {

void Cleanse(std::string& s) noexcept {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

namespace {

// Wipes the whole buffer, the bytes past size() included (a moved-from short string keeps its characters in its
// inline buffer): growing to the capacity never reallocates.
void WipeAndClear(std::string& s) noexcept {
  s.resize(s.capacity());
  Cleanse(s);
  s.clear();
}

}  // namespace

SecureString::SecureString(std::string value) noexcept : value_(std::move(value)) { WipeAndClear(value); }

SecureString::SecureString(SecureString&& other) noexcept : value_(std::move(other.value_)) { other.Clear(); }

SecureString& SecureString::operator=(SecureString&& other) noexcept {
  if (this != &other) {
    Clear();
    value_ = std::move(other.value_);
    other.Clear();
  }
  return *this;
}

SecureString::~SecureString() { Clear(); }

void SecureString::Clear() noexcept { WipeAndClear(value_); }

}  // namespace vmesh::pki
