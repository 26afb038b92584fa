// The agent's certificate manager (SPEC §5.2–§5.6, §14): per mesh, the intermediate CA Istio uses as its
// plug-in CA, from key generation to the installed `cacerts` Secret and the restarts that follow.
//
// Per mesh, the hub's CertificateDirective ("cert/<mesh>") says which key to generate and which trust bundle
// the result must chain to. The manager
//  1. decides (DecideCertificate) over the state persisted in Secret `vmesh-ca-<mesh>` of the state
//     namespace (cert_state_secret.h);
//  2. generates the key in this cluster, persists it there, and only then sends the CSR (HubSend); a
//     restarted agent resends the CSR for the persisted key instead of generating another;
//  3. on the IssuedCertificate that answers the pending request: verifies it (BuildCacerts), refuses to
//     overwrite a `cacerts` vmesh does not own (status FAILED with how to hand it over), writes `cacerts`
//     in one write, records the installed certificate and forgets the pending key;
//  4. owes a restart when the trust root the mesh's workloads hold (the istio-ca-root-cert ConfigMap of the
//     Istio namespace, the previous cacerts) differs from the installed one, or — same root — when istiod
//     is older than 1.19 (istiod only). With autoRestartPods, or after `vmeshctl mesh restart`, Tick()
//     drives the Restarter one step at a time; otherwise the status lists what still needs a restart;
//  5. renews at 2/3 of the lifetime (new key, new CSR) from Tick().
//
// Threading: one io_context thread. Operations on one mesh are serialized (a Tick skips a mesh another
// operation is working on); RSA key generation runs on a helper thread so the io thread keeps serving.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/certs/cert_plan.h"
#include "agent/restart/restarter.h"
#include "agent/runtime/agent_core.h"
#include "common/base/result.h"
#include "common/kube/client.h"
#include "common/pki/key.h"
#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::metrics {
class Registry;
}

namespace vmesh::agent {

struct CertificateManagerOptions {
  std::string cluster;
  std::string state_namespace = "vmesh-system";
  std::function<std::chrono::system_clock::time_point()> clock = [] { return std::chrono::system_clock::now(); };
  // A CSR that got no answer (or a hub error) is sent again after this long.
  std::chrono::seconds csr_retry_interval{300};
  // Optional: gauge vmesh_agent_certificate_not_after_seconds{mesh}.
  metrics::Registry* metrics = nullptr;
  // Keep one spare intermediate key of the default kind (RSA 4096) generated ahead of need, in memory only, so a
  // new directive does not wait seconds for RSA key generation. A spare is persisted like any key once used.
  bool spare_keys = false;
};

using MeshLookup = std::function<std::optional<api::v1::Mesh>(const std::string& mesh_name)>;

class CertificateManager {
 public:
  CertificateManager(kube::KubeClient& client, CertificateManagerOptions options, HubSend send, MeshLookup meshes,
                     Restarter& restarter);
  ~CertificateManager();

  // A "cert/<mesh>" resource: decide; if needed generate the key (per directive), persist it in the state
  // namespace, then send the CSR. OK = directive accepted (the certificate arrives later); an error (the key
  // could not be generated or persisted) NACKs the resource.
  boost::asio::awaitable<Status> OnDirective(const link::v1::CertificateDirective& directive);
  // The hub no longer wants a certificate for the mesh: the pending key is dropped; `cacerts` stays so running
  // workloads keep working.
  boost::asio::awaitable<Status> OnDirectiveRemoved(const std::string& mesh);
  // Verify, check ownership of an existing cacerts, write cacerts in one write, record, then start restarts
  // when the mesh's trust root changed. Failures end in the mesh's status (and are retried by Tick when
  // they are the cluster's fault).
  boost::asio::awaitable<void> OnIssued(const link::v1::IssuedCertificate& issued);
  // A `restart/<mesh>` directive (vmeshctl mesh restart): restart the mesh's workloads for the serial
  // (default: the installed one). An error NACKs it (unknown mesh, nothing installed).
  boost::asio::awaitable<Status> OnRestartDirective(const link::v1::RestartDirective& directive);
  // Periodic (every few seconds): renewals due, CSRs to resend, installs to retry, one restart step per mesh.
  boost::asio::awaitable<void> Tick();
  // Pending CSRs are resent on the next Tick.
  void OnSessionStarted();
  // Certificate phase/serial/notAfter, restart progress and errors per mesh, for StatusReports.
  std::vector<link::v1::MeshStatus> Statuses() const;

 private:
  struct MeshEntry;

  MeshEntry& Entry(const std::string& mesh);
  boost::asio::awaitable<Status> Load(MeshEntry& e);
  boost::asio::awaitable<Status> Persist(MeshEntry& e);
  boost::asio::awaitable<Status> EnsureStateNamespace();
  boost::asio::awaitable<Status> Converge(MeshEntry& e, bool resend);
  boost::asio::awaitable<Status> GenerateKeyAndSend(MeshEntry& e);
  Status SendCsr(MeshEntry& e);
  boost::asio::awaitable<Status> Install(MeshEntry& e, const link::v1::IssuedCertificate& issued);
  boost::asio::awaitable<void> RestartStep(MeshEntry& e);

  kube::KubeClient& client_;
  CertificateManagerOptions options_;
  HubSend send_;
  MeshLookup meshes_;
  Restarter& restarter_;
  std::map<std::string, std::unique_ptr<MeshEntry>> entries_;
  bool namespace_ready_ = false;
  bool ticking_ = false;
  // Key generation off the io thread.
  std::atomic<bool> cancel_keygen_{false};  // set by the destructor: key generations in flight stop
  boost::asio::thread_pool keygen_{1};
  // Spare keys (see CertificateManagerOptions::spare_keys) by KeySpec::ToString(), generated on their own thread
  // so that keys of other kinds never queue behind them; guarded by spare_mu_.
  boost::asio::thread_pool spare_keygen_{1};
  std::mutex spare_mu_;
  std::condition_variable spare_cv_;
  std::map<std::string, std::string> spare_ready_;
  std::set<std::string> spare_pending_;
  void PrepareSpare(const pki::KeySpec& spec);
  // The spare of `spec`: ready, or waited for when one is being generated (keygen thread only); else nullopt.
  std::optional<std::string> TakeSpare(const pki::KeySpec& spec);
};

}  // namespace vmesh::agent
