// Writes the hub's Kubernetes outputs into the agent's cluster (SPEC §6): server-side apply with field manager
// vmesh-agent and force, never over an object vmesh did not create (CheckTakeover), removal only of vmesh's
// own objects, and pruning by label of outputs that are no longer desired (PruneCandidates).
//
// Errors are values for the hub's NACK: the API server's own message (ApiResponse::Describe()) with the object
// in front. Transient failures (transport errors, 429, 5xx) are retried a few times with exponential backoff
// inside each call; other answers (4xx) are returned at once.
//
// Threading: the coroutines run on the caller's executor; one KubeApplier may serve concurrent calls.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "agent/apply/apply_plan.h"
#include "common/base/resource_names.h"
#include "common/base/result.h"
#include "common/kube/client.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::agent {

// An output object named by its link resource "kube/<apiVersion>/<kind>/<namespace>/<name>"
// (vmesh::ParseKubeResourceName, common/base/resource_names.h).
using KubeRef = KubeObjectRef;

// The REST resource (plural, lower case) of a kind: ServiceEntry -> serviceentries,
// AuthorizationPolicy -> authorizationpolicies, Gateway -> gateways, ConfigMap -> configmaps.
std::string ResourceOfKind(const std::string& kind);

// The prune identity (vmesh::OutputKey) of an output.
std::string ObjectKeyOf(const link::v1::KubeObject& object);

struct ApplierRetry {
  int attempts = 5;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{3000};
};

class KubeApplier {
 public:
  // With `cluster`, every applied output is labelled kClusterLabel=<cluster> and Prune() considers only objects
  // carrying that label; without, Prune() considers every vmesh-labelled output.
  explicit KubeApplier(kube::KubeClient& client, std::string field_manager = "vmesh-agent", ApplierRetry retry = {},
                       std::string cluster = "");

  // Server-side apply (force) after CheckOutputKind and CheckTakeover; error = why not, or the API server's
  // message (for the NACK).
  boost::asio::awaitable<Status> Apply(const link::v1::KubeObject& object);
  // Deletes the object if it carries vmesh's labels; absent is OK; a foreign object, or one of a kind vmesh
  // does not write (CheckOutputKind), is never touched (OK too: there is nothing of vmesh's to remove).
  boost::asio::awaitable<Status> Remove(const KubeRef& ref);
  // Deletes vmesh-labelled outputs (ServiceEntry, DestinationRule, Gateway, AuthorizationPolicy, all
  // namespaces; this cluster's only, see the constructor) whose OutputKey is not in `desired_keys`; returns how
  // many were deleted. Kinds the cluster does not serve (Istio CRDs missing) have nothing to prune. The caller
  // must know the complete desired set: whatever is missing from it is deleted.
  boost::asio::awaitable<Result<int>> Prune(std::set<std::string> desired_keys);

 private:
  // The request, retried while the outcome is transient.
  boost::asio::awaitable<Result<kube::ApiResponse>> WithRetries(
      std::function<boost::asio::awaitable<Result<kube::ApiResponse>>()> request);
  // GET: the live object's identity and labels, nullopt when absent.
  boost::asio::awaitable<Result<std::optional<LiveObject>>> GetLive(const KubeRef& ref);
  boost::asio::awaitable<Status> Delete(const KubeRef& ref);

  kube::KubeClient& client_;
  std::string field_manager_;
  ApplierRetry retry_;
  std::string cluster_;
};

}  // namespace vmesh::agent
