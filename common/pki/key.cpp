#include "common/pki/key.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>

namespace vmesh::pki {
namespace {

struct KeyInfo {
  KeyAlgorithm algorithm;
  int bits;
};

// Accepts exactly the key types vmesh supports; the message names what was found instead.
Result<KeyInfo> ClassifyKey(EVP_PKEY* key) {
  if (key == nullptr) return MakeError("no key");
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: {
      int bits = EVP_PKEY_get_bits(key);
      if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        return MakeError("RSA key of " + std::to_string(bits) + " bits is not supported (need " +
                         std::to_string(kMinRsaBits) + " to " + std::to_string(kMaxRsaBits) + " bits)");
      }
      return KeyInfo{KeyAlgorithm::kRsa, bits};
    }
    case EVP_PKEY_EC: {
      char group[80] = {0};
      size_t group_len = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len) != 1) {
        return OpenSslError("EC key without a named curve is not supported");
      }
      int nid = OBJ_sn2nid(group);
      if (nid == NID_undef) nid = EC_curve_nist2nid(group);
      if (nid == NID_X9_62_prime256v1) return KeyInfo{KeyAlgorithm::kEcdsaP256, 256};
      if (nid == NID_secp384r1) return KeyInfo{KeyAlgorithm::kEcdsaP384, 384};
      return MakeError(std::string("EC curve ") + group + " is not supported (need P-256 or P-384)");
    }
    default: {
      const char* name = EVP_PKEY_get0_type_name(key);
      return MakeError(std::string("key type ") + (name != nullptr ? name : "unknown") +
                       " is not supported (need RSA, ECDSA P-256 or ECDSA P-384)");
    }
  }
}

bool HasPrivatePart(EVP_PKEY* key, KeyAlgorithm algorithm) {
  BIGNUM* secret = nullptr;
  const char* param = algorithm == KeyAlgorithm::kRsa ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY;
  bool ok = EVP_PKEY_get_bn_param(key, param, &secret) == 1 && secret != nullptr;
  BN_clear_free(secret);
  return ok;
}

// Never prompt on a terminal for a passphrase: report "no passphrase" instead.
int NoPassphrase(char*, int, int, void*) { return -1; }

}  // namespace

std::string_view KeyAlgorithmName(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kRsa:
      return "RSA";
    case KeyAlgorithm::kEcdsaP256:
      return "ECDSA P-256";
    case KeyAlgorithm::kEcdsaP384:
      return "ECDSA P-384";
  }
  return "unknown";
}

std::string KeySpec::ToString() const {
  if (algorithm == KeyAlgorithm::kRsa) return "RSA " + std::to_string(rsa_bits);
  return std::string(KeyAlgorithmName(algorithm));
}

Status ValidateKeySpec(const KeySpec& spec) {
  switch (spec.algorithm) {
    case KeyAlgorithm::kRsa:
      if (spec.rsa_bits < kMinRsaBits || spec.rsa_bits > kMaxRsaBits) {
        return MakeError("RSA key size " + std::to_string(spec.rsa_bits) + " bits is out of range (" +
                         std::to_string(kMinRsaBits) + " to " + std::to_string(kMaxRsaBits) + " bits)");
      }
      if (spec.rsa_bits % 8 != 0) {
        return MakeError("RSA key size " + std::to_string(spec.rsa_bits) + " bits is not a multiple of 8");
      }
      return OkStatus();
    case KeyAlgorithm::kEcdsaP256:
    case KeyAlgorithm::kEcdsaP384:
      return OkStatus();
  }
  return MakeError("unknown key algorithm " + std::to_string(static_cast<int>(spec.algorithm)));
}

// ---- PublicKey ----

PublicKey::PublicKey(EvpPkeyPtr key, KeyAlgorithm algorithm, int bits)
    : key_(std::move(key)), algorithm_(algorithm), bits_(bits) {}

PublicKey::PublicKey(const PublicKey& other) : algorithm_(other.algorithm_), bits_(other.bits_) {
  EVP_PKEY_up_ref(other.key_.get());
  key_.reset(other.key_.get());
}

PublicKey& PublicKey::operator=(const PublicKey& other) {
  if (this != &other) *this = PublicKey(other);
  return *this;
}

Result<PublicKey> PublicKey::FromOpenSsl(EvpPkeyPtr key) {
  Result<KeyInfo> info = ClassifyKey(key.get());
  if (!info.ok()) return info.error();
  return PublicKey(std::move(key), info->algorithm, info->bits);
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  OpenSslErrorScope errors;
  BioPtr bio = MemoryBioFrom(pem);
  if (!bio) return MakeError("public key PEM is too large");
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) return OpenSslError("cannot parse public key PEM");
  Result<PublicKey> out = FromOpenSsl(std::move(key));
  if (!out.ok()) return out.error().Wrap("public key PEM");
  return out;
}

KeySpec PublicKey::spec() const { return KeySpec{algorithm_, algorithm_ == KeyAlgorithm::kRsa ? bits_ : 0}; }

std::string PublicKey::ToPem() const {
  OpenSslErrorScope errors;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return {};
  return MemoryBioContents(bio.get());
}

std::string PublicKey::ToDer() const {
  OpenSslErrorScope errors;
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key_.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string PublicKey::Fingerprint() const {
  Result<std::string> hex = Sha256Hex(ToDer());
  return hex.ok() ? *hex : std::string();
}

bool PublicKey::Equals(const PublicKey& other) const {
  OpenSslErrorScope errors;
  return EVP_PKEY_eq(key_.get(), other.key_.get()) == 1;
}

// ---- PrivateKey ----

PrivateKey::PrivateKey(EvpPkeyPtr key, KeyAlgorithm algorithm, int bits)
    : key_(std::move(key)), algorithm_(algorithm), bits_(bits) {}

PrivateKey::PrivateKey(const PrivateKey& other) : algorithm_(other.algorithm_), bits_(other.bits_) {
  EVP_PKEY_up_ref(other.key_.get());
  key_.reset(other.key_.get());
}

PrivateKey& PrivateKey::operator=(const PrivateKey& other) {
  if (this != &other) *this = PrivateKey(other);
  return *this;
}

namespace {

// OpenSSL calls this during prime generation; returning 0 aborts the generation.
int KeygenProgress(EVP_PKEY_CTX* ctx) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(EVP_PKEY_CTX_get_app_data(ctx));
  return cancel != nullptr && cancel->load(std::memory_order_relaxed) ? 0 : 1;
}

EVP_PKEY* GenerateRsa(int bits, const std::atomic<bool>* cancel) {
  if (cancel == nullptr) return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr),
                                                                  &EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) <= 0) {
    return nullptr;
  }
  EVP_PKEY_CTX_set_app_data(ctx.get(), const_cast<std::atomic<bool>*>(cancel));
  EVP_PKEY_CTX_set_cb(ctx.get(), KeygenProgress);
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &key) <= 0) return nullptr;
  return key;
}

}  // namespace

Result<PrivateKey> PrivateKey::Generate(const KeySpec& spec, const std::atomic<bool>* cancel) {
  if (Status valid = ValidateKeySpec(spec); !valid.ok()) return valid.error().Wrap("cannot generate key");
  OpenSslErrorScope errors;
  EvpPkeyPtr key;
  switch (spec.algorithm) {
    case KeyAlgorithm::kRsa:
      key.reset(GenerateRsa(spec.rsa_bits, cancel));
      if (!key && cancel != nullptr && cancel->load()) {
        ERR_clear_error();
        return MakeError("generating " + spec.ToString() + " key: cancelled");
      }
      break;
    case KeyAlgorithm::kEcdsaP256:
      key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
      break;
    case KeyAlgorithm::kEcdsaP384:
      key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
      break;
  }
  if (!key) return OpenSslError("cannot generate " + spec.ToString() + " key");
  return FromOpenSsl(std::move(key));
}

Result<PrivateKey> PrivateKey::FromOpenSsl(EvpPkeyPtr key) {
  Result<KeyInfo> info = ClassifyKey(key.get());
  if (!info.ok()) return info.error();
  if (!HasPrivatePart(key.get(), info->algorithm)) {
    ERR_clear_error();
    return MakeError("key has no private part");
  }
  return PrivateKey(std::move(key), info->algorithm, info->bits);
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  OpenSslErrorScope errors;
  if (pem.find("ENCRYPTED") != std::string_view::npos) {
    return MakeError("cannot parse private key PEM: encrypted private keys are not supported");
  }
  BioPtr bio = MemoryBioFrom(pem);
  if (!bio) return MakeError("private key PEM is too large");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) return OpenSslError("cannot parse private key PEM");
  Result<PrivateKey> out = FromOpenSsl(std::move(key));
  if (!out.ok()) return out.error().Wrap("private key PEM");
  return out;
}

KeySpec PrivateKey::spec() const { return KeySpec{algorithm_, algorithm_ == KeyAlgorithm::kRsa ? bits_ : 0}; }

std::string PrivateKey::ToPem(PrivateKeyFormat format) const {
  OpenSslErrorScope errors;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  int ok = format == PrivateKeyFormat::kTraditional
               ? PEM_write_bio_PrivateKey_traditional(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr)
               : PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  if (ok != 1) return {};
  return MemoryBioContents(bio.get());
}

PublicKey PrivateKey::public_key() const {
  // Copy only the public half, so a PublicKey never carries secret material around.
  OpenSslErrorScope errors;
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key_.get(), &der);
  EvpPkeyPtr pub;
  if (len > 0) {
    const unsigned char* p = der;
    pub.reset(d2i_PUBKEY(nullptr, &p, len));
  }
  OPENSSL_free(der);
  if (!pub) {
    // Only on allocation failure; fall back to sharing the key rather than returning nothing.
    EVP_PKEY_up_ref(key_.get());
    pub.reset(key_.get());
  }
  return PublicKey(std::move(pub), algorithm_, bits_);
}

}  // namespace vmesh::pki
