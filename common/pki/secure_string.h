// An owning string for secret bytes (private-key PEM text, unsealed keys, key-encryption keys) that is wiped
// with OPENSSL_cleanse when it is destroyed or cleared, so decrypted key material does not linger in freed heap
// memory. Not copyable; moving transfers the buffer (the source is wiped and left empty).
//
// Build it from an rvalue std::string (`SecureString pem(key.ToPem());`): a heap buffer is then taken over, not
// copied. Growing it (`mutable_value() += ...`) may leave an unwiped copy behind: build the whole value first.
#pragma once

#include <string>
#include <string_view>

namespace vmesh::pki {

class SecureString {
 public:
  SecureString() = default;
  explicit SecureString(std::string value) noexcept;
  SecureString(SecureString&& other) noexcept;
  SecureString& operator=(SecureString&& other) noexcept;
  SecureString(const SecureString&) = delete;
  SecureString& operator=(const SecureString&) = delete;
  ~SecureString();

  const std::string& value() const { return value_; }
  std::string& mutable_value() { return value_; }
  std::string_view view() const { return value_; }
  bool empty() const { return value_.empty(); }
  size_t size() const { return value_.size(); }

  // Wipes and empties.
  void Clear() noexcept;

 private:
  std::string value_;
};

// Wipes the bytes of `s` in place (the size stays); for secrets held in plain std::strings that cannot be
// replaced by a SecureString (e.g. protobuf fields) once they are no longer needed.
void Cleanse(std::string& s) noexcept;

}  // namespace vmesh::pki
