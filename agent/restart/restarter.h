// The cluster side of SPEC §5.6: gathers a mesh's workloads from Kubernetes, asks DecideRestarts
// (restart_planner.h) what to do, and performs the rolling restarts it asks for.
//
// A restart patches the pod template with a JSON merge patch, exactly as `kubectl rollout restart` does:
//   spec.template.metadata.annotations:
//     kubectl.kubernetes.io/restartedAt: <now, RFC 3339>
//     vmesh.dev/restarted-for-certificate: <serial>
// Everything the restart needs to resume lives in those annotations, so the Restarter keeps no state: each
// Step() reads the cluster, decides and patches, and returns without waiting. The caller (the certificate
// manager) calls Step() again later (one step per tick) until the progress says done.
//
// What belongs to a mesh (installation namespace N, revision R; "" = default):
//  - istiod: Deployments in N labelled app=istiod whose istio.io/rev is R ("default" = "");
//  - gateways: Deployments labelled istio in (ingressgateway, eastwestgateway) of revision R;
//  - workloads: Deployments, StatefulSets and DaemonSets whose pods get a sidecar of revision R: the pod
//    template is labelled security.istio.io/tlsMode=istio or annotated sidecar.istio.io/status, or its
//    namespace is labelled istio-injection=enabled (default revision) / istio.io/rev=R; a template labelled
//    sidecar.istio.io/inject=false is never a workload.
//
// Threading: one io_context thread; the coroutines only co_await the Kubernetes client.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "agent/restart/restart_planner.h"
#include "common/base/result.h"
#include "common/kube/client.h"
#include "vmesh/api/v1/discovery.pb.h"

namespace vmesh::metrics {
class Registry;
}

namespace vmesh::agent {

struct RestarterOptions {
  // Rollouts of one group (gateways, workloads) in progress at once.
  int max_concurrent = 3;
  std::function<std::chrono::system_clock::time_point()> clock = [] { return std::chrono::system_clock::now(); };
  // Optional: counts vmesh_agent_restarts_total{mesh, kind}.
  metrics::Registry* metrics = nullptr;
};

struct RestartTarget {
  api::v1::Mesh mesh;
  // The certificate the restart is for (recorded in the annotation; never restarted twice for it).
  std::string certificate_serial;
  // The trust bundle (PEM) every istio-ca-root-cert ConfigMap must carry before gateways restart.
  std::string root_pem;
  // Istio < 1.19 under the same root: only istiod needs to load the new intermediate.
  bool istiod_only = false;
};

struct RestartProgress {
  RestartPhase phase = RestartPhase::kIstiod;
  int done = 0;
  int total = 0;
  std::string waiting_for;
  // Workloads ("Kind/namespace/name") not yet restarted for the certificate.
  std::vector<std::string> pending;
  // Restarted by this step.
  std::vector<std::string> restarted;

  bool finished() const { return phase == RestartPhase::kDone; }
};

class Restarter {
 public:
  explicit Restarter(kube::KubeClient& client, RestarterOptions options = {});

  // Reads the cluster, decides, and patches the workloads the decision names (at most one group's batch).
  // Errors are Kubernetes failures (the step is simply tried again later).
  boost::asio::awaitable<Result<RestartProgress>> Step(const RestartTarget& target);

  // The same reading and decision without patching anything: what still needs a restart (for status when
  // autoRestartPods is off).
  boost::asio::awaitable<Result<RestartProgress>> Inspect(const RestartTarget& target);

  // The mesh's workloads as the planner sees them (exposed for tests and status).
  boost::asio::awaitable<Result<std::vector<WorkloadState>>> Gather(const api::v1::Mesh& mesh);

 private:
  boost::asio::awaitable<Result<RestartProgress>> Run(const RestartTarget& target, bool patch);
  boost::asio::awaitable<Result<bool>> RootConfigMapsCurrent(const std::string& root_pem);
  boost::asio::awaitable<Status> Restart(const std::string& mesh, const WorkloadState& workload,
                                         const std::string& serial);

  kube::KubeClient& client_;
  RestarterOptions options_;
};

}  // namespace vmesh::agent
