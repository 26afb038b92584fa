// X.509 certificates: parsing, encoding and read-only introspection.
//
// Thread safety: a Certificate is immutable; copies share the underlying X509 and may be used from several
// threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/pki/distinguished_name.h"
#include "common/pki/key.h"
#include "common/pki/openssl_util.h"

namespace vmesh::pki {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// keyUsage bits (RFC 5280 §4.2.1.3), combined with |.
struct KeyUsage {
  enum : uint32_t {
    kDigitalSignature = 1u << 0,
    kNonRepudiation = 1u << 1,
    kKeyEncipherment = 1u << 2,
    kDataEncipherment = 1u << 3,
    kKeyAgreement = 1u << 4,
    kKeyCertSign = 1u << 5,
    kCrlSign = 1u << 6,
    kEncipherOnly = 1u << 7,
    kDecipherOnly = 1u << 8,
  };
};

class Certificate {
 public:
  // Parses exactly one "-----BEGIN CERTIFICATE-----" block (text after it is ignored).
  static Result<Certificate> FromPem(std::string_view pem);
  static Result<Certificate> FromDer(std::string_view der);
  // Takes ownership of one reference to `cert`. If its public key is not decoded (a certificate built in
  // memory with X509_PUBKEY_set0_param, as issuer.cpp does), it is decoded on the first call to get().
  static Certificate FromOpenSsl(X509Ptr cert);

  std::string ToPem() const;
  std::string ToDer() const;
  // SHA-256 of the DER encoding, lowercase hex (what `openssl x509 -fingerprint -sha256` prints, without colons).
  std::string Fingerprint() const;

  // X.509 version as encoded + 1 (3 for v3).
  int version() const;
  // Serial number as lowercase hex without leading zeros ("0" for zero); negative serials get a "-".
  std::string serial_hex() const;
  // Serial number size in bits (0 for zero); `serial_negative()` is true for a (non-conforming) negative one.
  int serial_bits() const;
  bool serial_negative() const;

  // RFC 2253 strings, most specific attribute first, e.g. "CN=vmesh root CA vmesh/vm1,O=vmesh".
  std::string subject() const;
  std::string issuer() const;
  DistinguishedName subject_name() const;
  DistinguishedName issuer_name() const;

  // subjectAltName entries by type, in certificate order. IP addresses are printed in their usual text form.
  std::vector<std::string> uri_sans() const;
  std::vector<std::string> dns_sans() const;
  std::vector<std::string> ip_sans() const;

  TimePoint not_before() const;
  TimePoint not_after() const;
  // True if `at` is within [notBefore, notAfter].
  bool IsValidAt(TimePoint at) const;

  // basicConstraints: CA flag, pathLenConstraint, and whether the extension is present / critical.
  bool has_basic_constraints() const;
  bool basic_constraints_critical() const;
  bool is_ca() const;
  std::optional<int> path_len() const;

  // keyUsage as KeyUsage bits; 0 when the extension is absent (see has_key_usage()).
  bool has_key_usage() const;
  bool key_usage_critical() const;
  uint32_t key_usage() const;

  // extendedKeyUsage purposes as OpenSSL short names ("serverAuth", "clientAuth") or dotted OIDs for
  // unknown ones; empty when the extension is absent.
  bool has_extended_key_usage() const;
  std::vector<std::string> extended_key_usage() const;

  // subjectKeyIdentifier / authorityKeyIdentifier keyIdentifier, lowercase hex; empty when absent.
  std::string subject_key_id() const;
  std::string authority_key_id() const;

  // True if the subject equals the issuer and the certificate's signature verifies with its own key.
  bool IsSelfSigned() const;
  // Signature algorithm, e.g. "sha256WithRSAEncryption", "ecdsa-with-SHA256".
  std::string signature_algorithm() const;

  // The subject public key; fails for key types vmesh does not support (see key.h).
  Result<PublicKey> public_key() const;

  // Borrowed; valid as long as this object (or a copy of it) lives. Do not modify. The public key is
  // always decoded (X509_get0_pubkey works), so it can be handed to any OpenSSL function.
  X509* get() const;

 private:
  struct State;
  explicit Certificate(std::shared_ptr<State> state);
  // The X509 as built or parsed; its public key may not be decoded yet. Enough for everything but the key.
  X509* raw() const;

  std::shared_ptr<State> state_;
};

// Parses every "-----BEGIN CERTIFICATE-----" block of a PEM bundle, in order (text between blocks is
// ignored). Fails if any block is malformed or if there is none.
Result<std::vector<Certificate>> ParsePemBundle(std::string_view pem);

// Concatenated PEM of `certs`, in order.
std::string ToPemBundle(const std::vector<Certificate>& certs);

}  // namespace vmesh::pki
