// The agent's gateway certificates under limited trust (SPEC §8): each mesh keeps its own CA, and its east-west
// (ingress) and egress gateways hold leaf certificates of the VirtualMesh's gateway CA, so that the gateways of two
// clusters authenticate each other with mutual TLS.
//
// Per "gwcert/<mesh>/<role>" directive (link::v1::GatewayCertificateDirective) the manager
//  1. reads the `kubernetes.io/tls` Secret api::GatewaySecretName(role) in every namespace the directive names: when
//     each holds a vmesh-written leaf of the directed generation, not yet at 2/3 of its lifetime, nothing happens;
//  2. otherwise generates an ECDSA P-256 key in this cluster, persists it in Secret "vmesh-gw-<mesh>-<role>" of the
//     state namespace *before* the CSR leaves (a restarted agent resends the CSR for that key), and sends the CSR
//     (CertificateSigningRequest.gateway_role);
//  3. on the answer: checks that the leaf is for the pending key, carries exactly the directed URI SAN, and
//     verifies against the directive's gateway CA; then writes the Secret (tls.crt = the leaf, tls.key, ca.crt = the
//     gateway CA) in each namespace, refusing to overwrite one vmesh did not write, and forgets the pending key;
//  4. renews at 2/3 of the lifetime, and resends unanswered CSRs, from Tick().
// It never touches `cacerts` and restarts nothing: Envoy gateways reload SDS Secrets (credentialName) live.
// A removed directive deletes the Secrets vmesh wrote (the traffic outputs that used them are gone too).
//
// Threading: the agent's one io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/runtime/agent_core.h"
#include "common/base/result.h"
#include "common/kube/client.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::metrics {
class Registry;
}

namespace vmesh::agent {

struct GatewayCertificateOptions {
  std::string cluster;
  std::string state_namespace = "vmesh-system";
  std::function<std::chrono::system_clock::time_point()> clock = [] { return std::chrono::system_clock::now(); };
  // A CSR that got no answer (or a hub error) is sent again after this long.
  std::chrono::seconds csr_retry_interval{300};
  // Optional: gauge vmesh_agent_gateway_certificate_not_after_seconds{mesh,role}.
  metrics::Registry* metrics = nullptr;
};

// Secret "vmesh-gw-<mesh>-<role>" of the state namespace: the pending key of a gateway certificate.
std::string GatewayKeyStateSecretName(const std::string& mesh, const std::string& role);

class GatewayCertificateManager {
 public:
  GatewayCertificateManager(kube::KubeClient& client, GatewayCertificateOptions options, HubSend send);
  ~GatewayCertificateManager();

  // A "gwcert/<mesh>/<role>" resource. OK = accepted (the certificate arrives later); an error (bad directive, key
  // not persisted) NACKs it.
  boost::asio::awaitable<Status> OnDirective(const link::v1::GatewayCertificateDirective& directive);
  // The resource "gwcert/<mesh>/<role>" was removed: its pending key and the Secrets vmesh wrote are deleted.
  boost::asio::awaitable<Status> OnDirectiveRemoved(const std::string& resource_name);
  // An IssuedCertificate with gateway_role set.
  boost::asio::awaitable<void> OnIssued(const link::v1::IssuedCertificate& issued);
  // Renewals due and CSRs to resend.
  boost::asio::awaitable<void> Tick();
  // Pending CSRs are resent on the next Tick.
  void OnSessionStarted();
  // Per mesh: the state of each gateway certificate (for StatusReports).
  std::map<std::string, std::vector<link::v1::GatewayCertificateReport>> Reports() const;

 private:
  struct Entry;

  Entry* Find(const std::string& mesh, const std::string& role);
  boost::asio::awaitable<Status> Converge(Entry& e);
  boost::asio::awaitable<Status> ReadInstalled(Entry& e);
  boost::asio::awaitable<Status> LoadPending(Entry& e);
  boost::asio::awaitable<Status> NewKeyAndSend(Entry& e);
  boost::asio::awaitable<Status> PersistPending(Entry& e);
  boost::asio::awaitable<Status> DeletePending(Entry& e);
  boost::asio::awaitable<Status> Install(Entry& e, const link::v1::IssuedCertificate& issued);
  Status SendCsr(Entry& e);
  bool RenewalDue(const Entry& e) const;

  kube::KubeClient& client_;
  GatewayCertificateOptions options_;
  HubSend send_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // by "<mesh>/<role>"
  bool namespace_ready_ = false;
};

}  // namespace vmesh::agent
