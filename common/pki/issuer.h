// Certificate issuance: the profiles of SPEC §5 (root CA, intermediate CA) and §9 (link identities).
//
// The issuer decides every field of what it signs. From a CSR only the public key is taken, and only after
// the CSR's self-signature verified; the subject and SANs the CSR asks for are ignored.
//
// Common to every profile:
// - serial: 16 random octets from RAND_bytes with the top bit cleared (positive) and the next bit set, so the
//   serial is always exactly 128 bits long in DER and carries 126 bits of entropy (RFC 5280 allows 20
//   octets; CA/B Forum asks for >= 64 random bits);
// - notBefore = now - kClockSkewAllowance, so that a peer whose clock is slightly behind ours does not
//   reject a certificate we just issued (never earlier than the issuer's own notBefore);
// - notAfter = now + ttl, clamped to the issuer's notAfter (a certificate never outlives its issuer);
// - signature: SHA-256 with the issuer's key (SHA-384 when the issuer key is ECDSA P-384), PKCS#1 v1.5 for RSA;
// - subjectKeyIdentifier = SHA-1 of the subject public key (RFC 5280 §4.2.1.2 method 1), and
//   authorityKeyIdentifier = the issuer's subjectKeyIdentifier.
//
// `now` is a parameter so that callers (and tests) control time. All functions are thread-safe: a CaSigner
// is immutable and may sign from several threads at once.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/pki/certificate.h"
#include "common/pki/csr.h"
#include "common/pki/distinguished_name.h"
#include "common/pki/key.h"

namespace vmesh::pki {

inline constexpr std::chrono::seconds kClockSkewAllowance = std::chrono::minutes(1);

// A CA certificate with its private key (and the certificates above it, if it is not a root): what signs.
class CaSigner {
 public:
  // Checks that `certificate` may sign certificates (basicConstraints CA:TRUE and, if keyUsage is present,
  // keyCertSign), that `key` is its private key, and that each certificate of `chain` (nearest first, root
  // last; empty for a root) issued the one before it. Validity in time is checked at issuance, not here.
  static Result<CaSigner> Create(Certificate certificate, PrivateKey key, std::vector<Certificate> chain = {});

  const Certificate& certificate() const { return certificate_; }
  const PrivateKey& key() const { return key_; }
  const std::vector<Certificate>& chain() const { return chain_; }

 private:
  CaSigner(Certificate certificate, PrivateKey key, std::vector<Certificate> chain);

  Certificate certificate_;
  PrivateKey key_;
  std::vector<Certificate> chain_;
};

// SPEC §5.1: the self-signed root of a VirtualMesh. Subject O=organization, CN=common_name;
// basicConstraints critical CA:TRUE (no pathlen); keyUsage critical keyCertSign, cRLSign, digitalSignature;
// SKI; AKI (= SKI); no EKU.
struct RootCaProfile {
  std::string organization = "vmesh";
  std::string common_name;  // "vmesh root CA <namespace>/<name>"; required
  std::chrono::seconds ttl = std::chrono::days(365);
};

Result<Certificate> IssueRootCa(const PrivateKey& key, const RootCaProfile& profile, TimePoint now);

// SPEC §5.2: the intermediate CA of one mesh (Istio's plug-in CA). Subject O=organization, CN=common_name;
// SAN URI spiffe_uri; basicConstraints critical CA:TRUE pathlen:0; keyUsage critical keyCertSign, cRLSign,
// digitalSignature; SKI + AKI; no EKU (istiod rejects CA certificates whose EKU lacks serverAuth).
struct IntermediateProfile {
  std::string organization = "vmesh";
  std::string common_name;  // "vmesh intermediate <cluster>/<mesh>"; required
  std::string spiffe_uri;   // "spiffe://<trustDomain>/ns/<istio-namespace>/sa/<istiod-service-account>"; required
  std::chrono::seconds ttl = std::chrono::days(30);
  // When set, the CSR's key must be exactly this (e.g. the VirtualMesh's intermediateCertOptions).
  std::optional<KeySpec> required_key;
};

// Fails (with a message naming the problem) if the CSR's signature does not verify, its key is unsupported
// or not `required_key`, the issuer is outside its validity at `now` or has pathlen:0, or a profile field
// is invalid.
Result<Certificate> IssueIntermediate(const CaSigner& issuer, const Csr& csr, const IntermediateProfile& profile,
                                      TimePoint now);

// SPEC §9: an end-entity certificate for a hub–agent link (hub server certificate, agent client
// certificate). Subject as given (may be empty: the SANs identify the peer, and the SAN extension is then
// critical); SANs as given (at least one); basicConstraints critical CA:FALSE; keyUsage critical
// digitalSignature (+ keyEncipherment for RSA keys); EKU serverAuth and/or clientAuth (at least one).
struct LeafProfile {
  DistinguishedName subject;
  std::vector<std::string> uri_sans;  // e.g. "spiffe://<hub-name>/cluster/<NAME>"
  std::vector<std::string> dns_sans;
  std::vector<std::string> ip_sans;  // "127.0.0.1", "::1"
  bool server_auth = false;
  bool client_auth = false;
  std::chrono::seconds ttl = std::chrono::hours(24);
  std::optional<KeySpec> required_key;
};

Result<Certificate> IssueLeaf(const CaSigner& issuer, const Csr& csr, const LeafProfile& profile, TimePoint now);

}  // namespace vmesh::pki
