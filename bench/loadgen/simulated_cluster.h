// One simulated workload cluster for the load generator (issue 17, SPEC §13): an in-memory Kubernetes model
// (one Istio 1.20 installation in istio-system, an east-west gateway Service with a LoadBalancer address, D
// sidecar-injected destinations in namespace `apps` with one endpoint each) behind the real agent's AgentCore
// seam, so the real HubLink (sessions, Hello with held versions, sync receiver, ACK/NACK, status reports) drives
// it exactly as it drives vmesh-agent.
//
//  - discovery: the real DiscoverMeshes / DiscoverDestinations over the model's objects; the full report when a
//    session starts, a delta report when a destination is added;
//  - "kube/..." resources are applied into (and removed from) the model's output map;
//  - "cert/<mesh>" directives: the real DecideCertificate; a fresh key of the directive's kind (ECDSA P-256 in
//    the benchmark) and a real CSR; the IssuedCertificate is verified with the real BuildCacerts (chain to the
//    directive's trust bundle, key match) and recorded as installed; pending CSRs are resent on a new session;
//  - status: per mesh the installed certificate (INSTALLED, serial, generation) or the pending request.
//
// Threading: every AgentCore call and AddDestination() on the io_context thread of its HubLink; the counters
// (ClusterCounters) are atomics shared by the whole fleet.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/certs/cert_plan.h"
#include "agent/runtime/agent_core.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::loadgen {

// Fleet-wide counters (all clusters add to one instance).
struct ClusterCounters {
  std::atomic<std::uint64_t> csrs_sent{0};
  std::atomic<std::uint64_t> certificates_installed{0};
  std::atomic<std::uint64_t> certificate_errors{0};
  std::atomic<std::uint64_t> outputs_applied{0};  // kube upserts applied into a model
  std::atomic<std::uint64_t> outputs_removed{0};
  std::atomic<std::uint64_t> discovery_reports{0};
};

struct SimulatedClusterOptions {
  std::string cluster;
  int index = 0;  // distinct per cluster: gateway and pod addresses
  int destinations = 20;
  std::string hub_namespace = "vmesh";
};

class SimulatedCluster final : public agent::AgentCore {
 public:
  // `send` is the HubLink's sender; `counters` must outlive the cluster. `on_output` (optional) sees every kube
  // output applied (the benchmark watches for a change's ServiceEntry).
  SimulatedCluster(SimulatedClusterOptions options, agent::HubSend send, ClusterCounters& counters,
                   std::function<void(const link::v1::KubeObject&)> on_output = {});

  const std::string& cluster() const { return options_.cluster; }
  // "istiod-istio-system-<cluster>".
  std::string mesh_name() const;

  // A new Service `name` (with its Endpoints and pod) in namespace `apps`: the delta discovery report is sent
  // now (fails when no session is up).
  Status AddDestination(const std::string& name);

  // The model's outputs (resource name -> object JSON).
  const std::map<std::string, std::string>& outputs() const { return outputs_; }
  bool certificate_installed() const { return !cert_.installed_serial.empty(); }

  // agent::AgentCore
  boost::asio::awaitable<Status> ApplyResource(const link::v1::Resource& resource) override;
  boost::asio::awaitable<Status> RemoveResource(const std::string& name) override;
  boost::asio::awaitable<Result<bool>> PruneOutputs(const std::set<std::string>& desired) override;
  boost::asio::awaitable<void> OnIssuedCertificate(const link::v1::IssuedCertificate& issued) override;
  void OnSessionStarted(std::chrono::seconds status_interval) override;
  void OnSessionEnded() override {}
  bool ClusterSynced() const override { return true; }
  link::v1::StatusReport MakeStatusReport() override;

 private:
  // The full discovery of the model (meshes and destinations), from its Kubernetes objects.
  link::v1::DiscoveryReport Discover() const;
  Status OnDirective(const link::v1::CertificateDirective& directive);
  Status SendCsr();

  SimulatedClusterOptions options_;
  agent::HubSend send_;
  ClusterCounters& counters_;
  std::function<void(const link::v1::KubeObject&)> on_output_;
  std::vector<std::string> added_;              // destinations added after the start
  std::map<std::string, std::string> outputs_;  // applied outputs
  std::optional<link::v1::CertificateDirective> directive_;
  agent::MeshCertState cert_;  // as the real agent persists it
  std::string cert_error_;
  std::map<std::string, std::string> cacerts_;  // the installed Secret's data
};

}  // namespace vmesh::loadgen
