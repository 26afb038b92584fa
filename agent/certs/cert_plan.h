// What the agent's certificate manager does next for one mesh (SPEC §5.2, §5.4), as a pure decision over the
// hub's CertificateDirective and what the agent persisted in its state namespace.
//
// The key is generated in the cluster and persisted *before* its CSR is sent, so an agent that dies between
// CSR and install resends a CSR for the same key when it comes back instead of generating another. A new
// certificate is requested when the directive changes (new root or options) and at 2/3 of the installed
// certificate's lifetime.
#pragma once

#include <chrono>
#include <string>

#include "common/pki/key.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::agent {

// Persisted per mesh (in a Secret of the agent's state namespace).
struct MeshCertState {
  // The directive generation the pending key / installed certificate answers.
  std::string pending_generation;
  std::string pending_key_pem;  // empty when no request is in flight
  std::string pending_request_id;
  std::string installed_generation;
  std::string installed_serial;
  std::chrono::system_clock::time_point renew_at{};  // RenewalTime() of the installed certificate
  std::chrono::system_clock::time_point installed_not_after{};
  // A restart of the mesh's workloads is owed for this certificate serial ("" when none): the trust root the
  // workloads hold changed (or istiod < 1.19 must load a new intermediate, restart_istiod_only).
  std::string restart_serial;
  bool restart_istiod_only = false;
  // `vmeshctl mesh restart` asked for it (without autoRestartPods the restart waits for that).
  bool restart_requested = false;
};

enum class CertAction {
  kNone,            // the installed certificate is current
  kGenerateKey,     // generate a new key, persist it, then send its CSR
  kSendPendingCsr,  // a persisted key is waiting: (re)send the CSR for it
};

struct CertDecision {
  CertAction action = CertAction::kNone;
  std::string reason;  // for logs and status
};

CertDecision DecideCertificate(const link::v1::CertificateDirective& directive, const MeshCertState& state,
                               std::chrono::system_clock::time_point now);

// The key a directive asks for (RSA 4096 when it names no size).
pki::KeySpec KeySpecOf(const link::v1::CertificateDirective& directive);

// Whether an IssuedCertificate answers the request in flight (stale answers are ignored).
bool AnswersPendingRequest(const link::v1::IssuedCertificate& issued, const MeshCertState& state);

}  // namespace vmesh::agent
