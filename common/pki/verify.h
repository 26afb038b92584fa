// Chain verification and key/certificate matching.
//
// Thread-safe: every call builds its own X509_STORE; nothing is shared between calls.
#pragma once

#include <vector>

#include "common/base/result.h"
#include "common/pki/certificate.h"
#include "common/pki/key.h"

namespace vmesh::pki {

struct VerifyOptions {
  // Also apply OpenSSL's RFC 5280 strictness checks (X509_V_FLAG_X509_STRICT), e.g. CA certificates must
  // carry SKI and keyUsage. Certificates issued by issuer.h pass them.
  bool x509_strict = false;
};

// Verifies that `cert` chains, through any of `untrusted` (intermediates, not trusted by themselves), to a
// certificate of `trust_bundle` (the roots: the only trust anchors; system CAs are never consulted), with
// every certificate valid at `at`, signatures, CA flags, path lengths and key usages checked by OpenSSL.
// Returns the verified chain: `cert` first, the trust anchor last. On failure the error names the
// certificate at fault and carries OpenSSL's verify error string (e.g. "certificate has expired").
Result<std::vector<Certificate>> VerifyChain(const Certificate& cert, const std::vector<Certificate>& trust_bundle,
                                             const std::vector<Certificate>& untrusted, TimePoint at,
                                             const VerifyOptions& options = {});

// OK iff `key` is the private key of `cert`'s public key (EVP_PKEY_eq).
Status KeyMatchesCertificate(const PrivateKey& key, const Certificate& cert);

}  // namespace vmesh::pki
