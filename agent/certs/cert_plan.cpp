#include "agent/certs/cert_plan.h"

namespace vmesh::agent {

pki::KeySpec KeySpecOf(const link::v1::CertificateDirective& d) {
  switch (d.key_algorithm()) {
    case api::v1::ECDSA_P256:
      return pki::KeySpec::EcdsaP256();
    case api::v1::ECDSA_P384:
      return pki::KeySpec::EcdsaP384();
    default:
      return pki::KeySpec::Rsa(d.rsa_key_size_bits() == 0 ? 4096 : static_cast<int>(d.rsa_key_size_bits()));
  }
}

CertDecision DecideCertificate(const link::v1::CertificateDirective& directive, const MeshCertState& state,
                               std::chrono::system_clock::time_point now) {
  const std::string& wanted = directive.generation();
  if (!state.pending_key_pem.empty() && state.pending_generation == wanted) {
    return {CertAction::kSendPendingCsr, "a key for generation " + wanted + " is waiting for its certificate"};
  }
  if (state.installed_serial.empty()) return {CertAction::kGenerateKey, "no certificate installed yet"};
  if (state.installed_generation != wanted) {
    return {CertAction::kGenerateKey,
            "the hub asks for generation " + wanted + " (installed: " + state.installed_generation + ")"};
  }
  if (now >= state.renew_at) {
    return {CertAction::kGenerateKey, "certificate " + state.installed_serial + " reached 2/3 of its lifetime"};
  }
  return {CertAction::kNone, "certificate " + state.installed_serial + " is current"};
}

bool AnswersPendingRequest(const link::v1::IssuedCertificate& issued, const MeshCertState& state) {
  return !state.pending_key_pem.empty() && !state.pending_request_id.empty() &&
         issued.request_id() == state.pending_request_id;
}

}  // namespace vmesh::agent
