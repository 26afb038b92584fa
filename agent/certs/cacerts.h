// The Istio plug-in CA Secret `cacerts` (SPEC §5.2 last bullet, §5.3, §5.4), as pure functions.
//
// Before anything is installed the agent checks what the hub sent: the chain must verify against the
// VirtualMesh trust bundle, the intermediate must be a CA and must match the key the agent generated and
// kept. The Secret is then written complete, in one write, with
//   ca-cert.pem     the intermediate
//   ca-key.pem      its key (unencrypted PKCS#8)
//   cert-chain.pem  the intermediate, any upstream intermediates, then the root
//   root-cert.pem   the trust bundle
// root-cert.pem stays byte-identical across intermediate rotations under the same root (istiod ignores a
// reload otherwise), and the `istio-generated` key is never set.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/base/result.h"
#include "common/pki/certificate.h"

namespace vmesh::agent {

// Labels that mark a Secret as vmesh's; a `cacerts` without them is the user's and is never overwritten.
inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kManagedByValue[] = "vmesh";

struct CacertsInput {
  std::string key_pem;                // the intermediate's key, generated in this cluster
  std::string certificate_chain_pem;  // from the hub: the intermediate, then upstream intermediates
  std::string trust_bundle_pem;       // the root(s)
  // root-cert.pem of the cacerts currently installed, if any (kept byte-identical when the roots are equal).
  std::string current_root_pem;
  pki::TimePoint now;
};

// The Secret's data (file name -> content), or an error saying what failed verification.
Result<std::map<std::string, std::string>> BuildCacerts(const CacertsInput& input);

// True when `current` is vmesh-managed (labels), i.e. may be overwritten; the error explains how a user
// hands an existing cacerts over to vmesh.
Status CheckCacertsOwnership(const std::map<std::string, std::string>& labels, const std::string& istio_namespace);

// When to request the next intermediate: at 2/3 of the certificate's lifetime (SPEC §5.4).
pki::TimePoint RenewalTime(const pki::Certificate& intermediate);
// The same, for a certificate the agent received at `received`: its lifetime counts from then when that is
// later than notBefore. Issuers backdate notBefore for clock skew (pki::kClockSkewAllowance, a minute); counted
// from there, a 1-minute intermediate would be renewed 20 s after it was issued instead of 40 s. `received`
// is clamped to [notBefore, notAfter], so an agent clock running behind changes nothing.
pki::TimePoint RenewalTime(const pki::Certificate& intermediate, pki::TimePoint received);

}  // namespace vmesh::agent
