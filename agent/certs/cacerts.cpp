#include "agent/certs/cacerts.h"

#include <algorithm>

#include "common/pki/key.h"
#include "common/pki/verify.h"

namespace vmesh::agent {

Result<std::map<std::string, std::string>> BuildCacerts(const CacertsInput& input) {
  auto key = pki::PrivateKey::FromPem(input.key_pem);
  if (!key.ok()) return key.error().Wrap("the intermediate key kept in this cluster");
  auto chain = pki::ParsePemBundle(input.certificate_chain_pem);
  if (!chain.ok() || chain->empty()) {
    return MakeError("the certificate chain from the hub is not a PEM bundle" +
                     (chain.ok() ? std::string() : ": " + chain.error().message));
  }
  auto roots = pki::ParsePemBundle(input.trust_bundle_pem);
  if (!roots.ok() || roots->empty()) return MakeError("the trust bundle from the hub is not a PEM bundle");
  const pki::Certificate& intermediate = chain->front();
  if (!intermediate.is_ca()) return MakeError("the certificate from the hub is not a CA (basicConstraints CA:TRUE)");
  if (Status s = pki::KeyMatchesCertificate(*key, intermediate); !s.ok()) {
    return MakeError("the certificate from the hub does not match the key this agent generated for it");
  }
  std::vector<pki::Certificate> upstream(chain->begin() + 1, chain->end());
  auto verified = pki::VerifyChain(intermediate, *roots, upstream, input.now);
  if (!verified.ok()) return verified.error().Wrap("the certificate from the hub does not chain to the trust bundle");

  // The root that anchors the verified chain closes cert-chain.pem.
  const pki::Certificate& anchor = verified->back();
  std::string root_pem;
  for (const auto& r : *roots) root_pem += r.ToPem();
  // Byte-identical root-cert.pem under the same roots: keep the installed bytes when they say the same.
  if (!input.current_root_pem.empty()) {
    auto current = pki::ParsePemBundle(input.current_root_pem);
    if (current.ok() && current->size() == roots->size()) {
      bool same = true;
      for (size_t i = 0; i < roots->size(); ++i) same &= (*current)[i].Fingerprint() == (*roots)[i].Fingerprint();
      if (same) root_pem = input.current_root_pem;
    }
  }
  std::string cert_chain;
  for (const auto& c : *chain) cert_chain += c.ToPem();
  cert_chain += anchor.ToPem();
  return std::map<std::string, std::string>{{"ca-cert.pem", intermediate.ToPem()},
                                            {"ca-key.pem", key->ToPem(pki::PrivateKeyFormat::kPkcs8)},
                                            {"cert-chain.pem", cert_chain},
                                            {"root-cert.pem", root_pem}};
}

Status CheckCacertsOwnership(const std::map<std::string, std::string>& labels, const std::string& istio_namespace) {
  auto it = labels.find(kManagedByLabel);
  if (it != labels.end() && it->second == kManagedByValue) return OkStatus();
  return MakeError("Secret " + istio_namespace +
                   "/cacerts exists and is not managed by vmesh, so it is left untouched. To hand it over, back it "
                   "up and either delete it or label it: kubectl -n " +
                   istio_namespace + " label secret cacerts " + kManagedByLabel + "=" + kManagedByValue);
}

pki::TimePoint RenewalTime(const pki::Certificate& intermediate) {
  return RenewalTime(intermediate, intermediate.not_before());
}

pki::TimePoint RenewalTime(const pki::Certificate& intermediate, pki::TimePoint received) {
  const pki::TimePoint start = std::clamp(received, intermediate.not_before(), intermediate.not_after());
  return start + (intermediate.not_after() - start) * 2 / 3;
}

}  // namespace vmesh::agent
