// WorkloadController: the parts of kube-controller-manager and the kubelet that kubesim simulates, so that
// Deployments behave the way clients expect.
//
//  - Deployment -> ReplicaSet per pod template (named <deployment>-<pod-template-hash>, labelled with the
//    hash), scaled for a rolling replacement: the current ReplicaSet gets spec.replicas, older ones shrink
//    as new pods become ready. `kubectl rollout restart` (a template annotation) thus rolls every pod.
//  - ReplicaSet -> pods (<replicaset>-<suffix>, the template's labels and spec, ownerReferences).
//  - Pods (kubelet): Running and Ready `pod_ready_delay` after the simulator first sees them, with a pod IP.
//  - Status: ReplicaSet and Deployment .status (observedGeneration, replicas, updatedReplicas,
//    readyReplicas, availableReplicas, conditions) as `kubectl rollout status` reads them.
//  - StatefulSet -> pods <name>-0..N-1 (OrderedReady or Parallel), rolling replacement highest ordinal
//    first; DaemonSet -> one pod (kubesim has one node). Status as `kubectl rollout status` reads it.
//  - Garbage collection: ReplicaSets and pods whose controller owner is gone are deleted.
//
// Reconcile() is level-based: it reads the store and converges it; a second call with nothing changed
// writes nothing. It returns when it wants to run again (a pod becoming ready), if ever. Not thread-safe:
// call it from one thread; the store may be used by others concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"

namespace vmesh::kubesim {

class WorkloadController {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  struct Options {
    std::chrono::milliseconds pod_ready_delay{std::chrono::milliseconds(500)};
    std::string pod_ip_prefix = "10.244";  // pods get <prefix>.x.y
    std::string node_name = "kubesim-node";
    Clock clock;  // default: the steady clock
  };

  WorkloadController(const ResourceRegistry& registry, ObjectStore& store, Options options);

  // One pass over every workload. Returns the time of the next pass it needs, or nullopt when only a
  // change in the store calls for one.
  std::optional<std::chrono::steady_clock::time_point> Reconcile();

 private:
  void ReconcileDeployment(const boost::json::object& deployment);
  void ReconcileReplicaSet(const boost::json::object& replica_set);
  void ReconcileStatefulSet(const boost::json::object& set);
  void ReconcileDaemonSet(const boost::json::object& set);
  // Creates a pod from `pod_template` controlled by `owner`; `name` empty means <owner>-<random>.
  ObjectPtr CreatePod(const boost::json::object& owner, const char* owner_kind, const boost::json::object& pod_template,
                      const std::string& name, const boost::json::object& extra_labels);
  void WriteStatus(const ResourceType& type, const boost::json::object& object, boost::json::object status);
  // Returns when the pod becomes ready, if it is not yet.
  std::optional<std::chrono::steady_clock::time_point> ReconcilePod(const boost::json::object& pod);
  void CollectGarbage();
  std::vector<ObjectPtr> Items(const ResourceType& type, const std::string& ns) const;
  std::string NextPodIp();

  // Copies: the registry may replace or remove its entries while kubesim runs.
  const ResourceType deployments_;
  const ResourceType replica_sets_;
  const ResourceType stateful_sets_;
  const ResourceType daemon_sets_;
  const ResourceType pods_;
  ObjectStore& store_;
  Options options_;
  std::map<std::string, std::chrono::steady_clock::time_point> pod_first_seen_;  // by uid
  uint32_t next_ip_ = 0;
};

// The pod-template-hash of a pod template (a JSON object), as a short lower-case string.
std::string PodTemplateHash(const boost::json::value& pod_template);

}  // namespace vmesh::kubesim
