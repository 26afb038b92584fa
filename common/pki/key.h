// Private and public keys: generation, PEM encoding, introspection.
//
// vmesh supports exactly three key types (SPEC §5): RSA of 2048–8192 bits, ECDSA P-256 and ECDSA P-384.
// Every PrivateKey and PublicKey object holds one of them; loading anything else (DSA, Ed25519, other
// curves, RSA below 2048 bits) fails with an error, so callers never have to re-check.
//
// Thread safety: objects are immutable after construction. Copies share the underlying reference-counted
// OpenSSL key, and any number of threads may use the same object concurrently (e.g. one CA key signing
// for several requests).
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/pki/openssl_util.h"

namespace vmesh::pki {

enum class KeyAlgorithm { kRsa, kEcdsaP256, kEcdsaP384 };

// "RSA", "ECDSA P-256", "ECDSA P-384".
std::string_view KeyAlgorithmName(KeyAlgorithm algorithm);

inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 8192;

// What kind of key to generate. rsa_bits is only meaningful for kRsa.
struct KeySpec {
  KeyAlgorithm algorithm = KeyAlgorithm::kRsa;
  int rsa_bits = 4096;

  static KeySpec Rsa(int bits) { return KeySpec{KeyAlgorithm::kRsa, bits}; }
  static KeySpec EcdsaP256() { return KeySpec{KeyAlgorithm::kEcdsaP256, 0}; }
  static KeySpec EcdsaP384() { return KeySpec{KeyAlgorithm::kEcdsaP384, 0}; }

  // "RSA 4096", "ECDSA P-256", ...
  std::string ToString() const;
};

// OK when `spec` can be generated: RSA bits in [2048, 8192] and a multiple of 8.
Status ValidateKeySpec(const KeySpec& spec);

enum class PrivateKeyFormat {
  kPkcs8,        // "-----BEGIN PRIVATE KEY-----" (unencrypted PKCS#8), the default
  kTraditional,  // "-----BEGIN RSA PRIVATE KEY-----" / "-----BEGIN EC PRIVATE KEY-----"
};

class PublicKey {
 public:
  // Takes ownership of one reference to `key`; fails if it is not a supported key type.
  static Result<PublicKey> FromOpenSsl(EvpPkeyPtr key);
  // Parses "-----BEGIN PUBLIC KEY-----" (DER SubjectPublicKeyInfo in PEM).
  static Result<PublicKey> FromPem(std::string_view pem);

  PublicKey(const PublicKey& other);
  PublicKey& operator=(const PublicKey& other);
  PublicKey(PublicKey&&) noexcept = default;
  PublicKey& operator=(PublicKey&&) noexcept = default;

  KeyAlgorithm algorithm() const { return algorithm_; }
  // Modulus size for RSA, curve size (256, 384) for ECDSA.
  int bits() const { return bits_; }
  // The KeySpec this key satisfies, e.g. {kRsa, 4096}.
  KeySpec spec() const;

  // "-----BEGIN PUBLIC KEY-----" PEM.
  std::string ToPem() const;
  // DER SubjectPublicKeyInfo.
  std::string ToDer() const;
  // SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex (64 characters).
  std::string Fingerprint() const;

  // Same key material (EVP_PKEY_eq).
  bool Equals(const PublicKey& other) const;

  // Borrowed; valid as long as this object. Do not modify.
  EVP_PKEY* get() const { return key_.get(); }

 private:
  friend class PrivateKey;
  PublicKey(EvpPkeyPtr key, KeyAlgorithm algorithm, int bits);

  EvpPkeyPtr key_;
  KeyAlgorithm algorithm_;
  int bits_;
};

class PrivateKey {
 public:
  // Generates a fresh key. Fails for specs rejected by ValidateKeySpec. RSA 4096 takes ~0.5–2 s (more on a busy
  // machine). With `cancel`, an RSA generation stops soon after *cancel becomes true and fails ("cancelled"), so
  // that a shutdown need not wait for it; ECDSA keys take microseconds and are not interrupted.
  static Result<PrivateKey> Generate(const KeySpec& spec, const std::atomic<bool>* cancel = nullptr);
  // Parses an unencrypted PKCS#8 or traditional (RSA / EC) private key PEM. Encrypted keys are refused
  // (never prompts for a passphrase).
  static Result<PrivateKey> FromPem(std::string_view pem);
  // Takes ownership of one reference to `key`; fails if it is not a supported private key.
  static Result<PrivateKey> FromOpenSsl(EvpPkeyPtr key);

  PrivateKey(const PrivateKey& other);
  PrivateKey& operator=(const PrivateKey& other);
  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;

  KeyAlgorithm algorithm() const { return algorithm_; }
  int bits() const { return bits_; }
  KeySpec spec() const;

  // Unencrypted PEM in the given format. Contains the secret: never log it.
  std::string ToPem(PrivateKeyFormat format = PrivateKeyFormat::kPkcs8) const;
  PublicKey public_key() const;

  // Borrowed; valid as long as this object. Do not modify.
  EVP_PKEY* get() const { return key_.get(); }

 private:
  PrivateKey(EvpPkeyPtr key, KeyAlgorithm algorithm, int bits);

  EvpPkeyPtr key_;
  KeyAlgorithm algorithm_;
  int bits_;
};

}  // namespace vmesh::pki
