// The certificate requests of agent sessions (SPEC §5, §8): intermediate CA CSRs of their meshes, gateway leaf CSRs
// of their meshes' gateways under limited trust, and renewals of their own identities. Each is re-checked against what
// the hub knows (the mesh was reported by the requesting cluster and is an active member of a VirtualMesh with shared
// trust), limited per cluster (HubCoreOptions:: csr_rate: over it the request is refused naming the limit, nothing is
// signed), then signed by the CA service. Signing writes to the store: call from a session's handler strand, not from a
// connection's.
//
// Also keeps the per-mesh certificate expiry gauge, at most max_series_per_cluster series per cluster: label
// values come from agents.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/metrics/metrics.h"
#include "hub/ca/ca_service.h"
#include "hub/controller/agent_facts.h"
#include "hub/controller/desired_state.h"
#include "hub/registration/registration.h"
#include "hub/session/rate_limit.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::hub {

class CsrHandler {
 public:
  struct Deps {
    CaService& ca;
    RegistrationService& registration;
    const AgentFacts& facts;
    metrics::Registry& metrics;
    std::function<TimePoint()> clock;
  };
  struct Options {
    RateLimit csr_rate;
    std::size_t max_series_per_cluster = 64;
  };
  CsrHandler(Deps deps, Options options);

  // A CSR of `cluster`'s agent (Envelope `envelope_id`). The answer: an IssuedCertificate (its chain, or the
  // reason it was refused), or a ProtocolNack over the rate limit.
  link::v1::Envelope Sign(const std::string& cluster, std::uint64_t envelope_id,
                          const link::v1::CertificateSigningRequest& csr);
  // An identity renewal of `cluster`'s agent. The answer: an IdentityRenewalResponse.
  link::v1::Envelope RenewIdentity(const std::string& cluster, const link::v1::IdentityRenewalRequest& request);
  // A CSR refused before it got here (the session's authorization), for the metrics.
  void CountRefused();

  // Which VirtualMesh each mesh's intermediate comes from, after a reconcile.
  void SetTargets(const DesiredState& desired);
  // The notAfter (Unix seconds) of a mesh's newest intermediate; ignored for meshes `cluster` did not report.
  void RecordNotAfter(const std::string& cluster, const std::string& mesh, double seconds);
  // A deregistered cluster's series and CSR tokens go.
  void Forget(const std::string& cluster);

 private:
  // Where a mesh's intermediate comes from: the VirtualMesh whose effective spec claims it (shared trust).
  // During a root rotation (SPEC §5.5) a CSR is signed only when it answers the generation directed now: the phase
  // decides the signing root, and an answer to an earlier phase's directive signed by this phase's root would make
  // the agent report one phase while presenting another's chain. Otherwise it is refused (the agent has the newer
  // directive and sends a CSR for it).
  struct CertTarget {
    std::string virtual_mesh;
    api::v1::CommonCertOptions options;
    // Limited trust: the mesh keeps its own CA (no intermediate); its gateways get leaves of the gateway CA.
    bool limited = false;
  };

  // The refusal naming the limit when the cluster has no CSR token left.
  std::optional<std::string> TakeToken(const std::string& cluster);
  Result<IntermediateRequest> Prepare(const std::string& cluster, const link::v1::CertificateSigningRequest& csr);
  Result<GatewayCertRequest> PrepareGateway(const std::string& cluster, const link::v1::CertificateSigningRequest& csr);
  // A gateway CSR (csr.gateway_role() set): signed with the VirtualMesh's gateway CA, or refused naming why.
  void SignGateway(const std::string& cluster, const link::v1::CertificateSigningRequest& csr,
                   link::v1::IssuedCertificate& issued, std::string& error);

  Deps deps_;
  const Options options_;
  std::mutex mu_;                                        // guards everything below
  std::map<std::string, TokenBucket> buckets_;           // cluster -> its CSR tokens, from its first request
  std::map<std::string, CertTarget> targets_;            // mesh name -> its VirtualMesh
  std::map<std::string, std::set<std::string>> series_;  // cluster -> meshes with an expiry series
  std::set<std::string> series_cap_logged_;
};

}  // namespace vmesh::hub
