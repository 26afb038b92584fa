#include "agent/restart/restart_planner.h"

#include <algorithm>

namespace vmesh::agent {
namespace {

struct Group {
  std::vector<const WorkloadState*> pending;      // not restarted for this certificate
  std::vector<const WorkloadState*> in_progress;  // restarted, rollout not complete
  int complete = 0;
};

Group Classify(const RestartInput& in, WorkloadRole role) {
  Group g;
  std::vector<const WorkloadState*> members;
  for (const auto& w : in.workloads) {
    if (w.role == role) members.push_back(&w);
  }
  // Stable order so that the same input always restarts the same workloads first.
  std::sort(members.begin(), members.end(),
            [](const WorkloadState* a, const WorkloadState* b) { return a->Id() < b->Id(); });
  for (const auto* w : members) {
    if (w->restarted_for != in.certificate_serial) {
      g.pending.push_back(w);
    } else if (!w->rollout_complete) {
      g.in_progress.push_back(w);
    } else {
      ++g.complete;
    }
  }
  return g;
}

std::string Names(const std::vector<const WorkloadState*>& ws) {
  std::string out;
  for (size_t i = 0; i < ws.size() && i < 5; ++i) out += (i ? ", " : "") + ws[i]->Id();
  if (ws.size() > 5) out += " and " + std::to_string(ws.size() - 5) + " more";
  return out;
}

}  // namespace

const char* RestartPhaseName(RestartPhase phase) {
  switch (phase) {
    case RestartPhase::kIstiod:
      return "istiod";
    case RestartPhase::kWaitForRoot:
      return "wait-for-root";
    case RestartPhase::kGateways:
      return "gateways";
    case RestartPhase::kWorkloads:
      return "workloads";
    case RestartPhase::kDone:
      return "done";
  }
  return "unknown";
}

RestartDecision DecideRestarts(const RestartInput& in) {
  RestartDecision d;
  const Group istiod = Classify(in, WorkloadRole::kIstiod);
  const Group gateways = Classify(in, WorkloadRole::kGateway);
  const Group workloads = Classify(in, WorkloadRole::kWorkload);
  d.total = static_cast<int>(in.workloads.size());
  d.done = istiod.complete + gateways.complete + workloads.complete;
  const int limit = std::max(1, in.max_concurrent);

  // A group proceeds only when the groups before it are finished; within a group at most `limit` rollouts
  // run at once.
  auto step = [&](const Group& g, RestartPhase phase, const char* what) -> bool {
    if (g.pending.empty() && g.in_progress.empty()) return true;
    d.phase = phase;
    int room = limit - static_cast<int>(g.in_progress.size());
    for (const auto* w : g.pending) {
      if (room-- <= 0) break;
      d.restart_now.push_back(*w);
    }
    if (!g.in_progress.empty()) d.waiting_for = std::string("rollout of ") + what + ": " + Names(g.in_progress);
    return false;
  };
  if (!step(istiod, RestartPhase::kIstiod, "istiod")) return d;
  if (!in.root_config_maps_current) {
    d.phase = RestartPhase::kWaitForRoot;
    d.waiting_for = "istio-ca-root-cert ConfigMaps to carry the new root";
    return d;
  }
  if (!step(gateways, RestartPhase::kGateways, "gateways")) return d;
  if (!step(workloads, RestartPhase::kWorkloads, "workloads")) return d;
  d.phase = RestartPhase::kDone;
  return d;
}

}  // namespace vmesh::agent
