// SPEC §5.6: the ordered, rolling restart of a mesh's pods after its trust root changed, as a pure decision
// over what the cluster shows.
//
// The restart state lives in the cluster, not in the agent: every restarted workload's pod template carries
// the annotation `vmesh.dev/restarted-for-certificate: <serial>` next to `kubectl.kubernetes.io/restartedAt`
// (the rolling restart `kubectl rollout restart` does). So a restarted agent resumes where the previous one
// stopped, nothing is restarted twice for the same certificate, and nothing loops.
//
// Order: istiod -> (wait: istiod rollouts complete and every istio-ca-root-cert ConfigMap carries the new
// root) -> gateways -> (wait) -> sidecar-injected workloads, at most `max_concurrent` rollouts in progress.
#pragma once

#include <string>
#include <vector>

namespace vmesh::agent {

inline constexpr char kRestartedForAnnotation[] = "vmesh.dev/restarted-for-certificate";
inline constexpr char kRestartedAtAnnotation[] = "kubectl.kubernetes.io/restartedAt";

enum class WorkloadRole { kIstiod, kGateway, kWorkload };

struct WorkloadState {
  WorkloadRole role = WorkloadRole::kWorkload;
  std::string kind;  // Deployment, StatefulSet, DaemonSet
  std::string namespace_;
  std::string name;
  // The pod template's kRestartedForAnnotation ("" when never restarted by vmesh).
  std::string restarted_for;
  // The rollout finished: every replica updated and available, the controller observed the latest spec.
  bool rollout_complete = true;

  std::string Id() const { return kind + "/" + namespace_ + "/" + name; }
};

struct RestartInput {
  // The certificate the restart is for.
  std::string certificate_serial;
  std::vector<WorkloadState> workloads;
  // Every istio-ca-root-cert ConfigMap carries the new root.
  bool root_config_maps_current = false;
  int max_concurrent = 3;
};

enum class RestartPhase { kIstiod, kWaitForRoot, kGateways, kWorkloads, kDone };

const char* RestartPhaseName(RestartPhase phase);

struct RestartDecision {
  RestartPhase phase = RestartPhase::kIstiod;
  // Patch these now (rolling restart + annotation with the serial).
  std::vector<WorkloadState> restart_now;
  // What the restart waits for, for status ("" when nothing).
  std::string waiting_for;
  int done = 0;   // workloads restarted for this certificate with their rollout complete
  int total = 0;  // workloads of the mesh
};

RestartDecision DecideRestarts(const RestartInput& input);

}  // namespace vmesh::agent
