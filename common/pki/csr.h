// PKCS#10 certificate signing requests.
//
// Agents create CSRs for keys that never leave their cluster; the hub parses them, checks the self-signature
// (proof of possession of the private key) and takes only the public key from them (see issuer.h).
//
// Thread safety: a Csr is immutable; copies share the underlying X509_REQ and may be used concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/pki/distinguished_name.h"
#include "common/pki/key.h"
#include "common/pki/openssl_util.h"

namespace vmesh::pki {

struct CsrRequest {
  DistinguishedName subject;
  std::vector<std::string> uri_sans;  // e.g. spiffe://cluster.local/ns/istio-system/sa/istiod
  std::vector<std::string> dns_sans;
};

class Csr {
 public:
  // A CSR for `key`'s public key, signed with `key` (SHA-256; SHA-384 for P-384 keys). Fails for invalid
  // subject values or SANs, naming the offending value.
  static Result<Csr> Create(const PrivateKey& key, const CsrRequest& request);
  // Parses one "-----BEGIN CERTIFICATE REQUEST-----" block. Does not check the signature.
  static Result<Csr> FromPem(std::string_view pem);
  static Result<Csr> FromDer(std::string_view der);

  Csr(const Csr& other);
  Csr& operator=(const Csr& other);
  Csr(Csr&&) noexcept = default;
  Csr& operator=(Csr&&) noexcept = default;

  std::string ToPem() const;
  std::string ToDer() const;

  // OK iff the CSR's signature verifies with the public key it contains (i.e. neither the content nor the
  // signature was altered, and the requester holds the private key). The error carries OpenSSL's reason.
  Status VerifySignature() const;

  // The requested public key; fails for key types vmesh does not support (e.g. RSA 1024).
  Result<PublicKey> public_key() const;

  // What the requester asked for. Informational only: issuers decide the content themselves.
  std::string subject() const;  // RFC 2253
  DistinguishedName subject_name() const;
  std::vector<std::string> uri_sans() const;
  std::vector<std::string> dns_sans() const;

  // Borrowed; valid as long as this object. Do not modify.
  X509_REQ* get() const { return req_.get(); }

 private:
  explicit Csr(X509ReqPtr req);

  X509ReqPtr req_;
};

}  // namespace vmesh::pki
