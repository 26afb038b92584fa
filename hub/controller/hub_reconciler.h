// The hub's level-based reconciler: reads intent (the store), discovery and agent facts (fed by the agent
// sessions), and converges — VirtualMesh statuses written when they change, roots created when first needed,
// and the desired resources of every cluster computed for the sync layer. Calling Reconcile() again with
// nothing changed writes nothing and yields the same desired state.
//
// Roots from Secrets (rootCertificateAuthority.secret, namespace default = the VirtualMesh's): imported into the
// CA on first need from the Secret's root-cert.pem, key.pem and cert-chain.pem. A missing or malformed Secret makes
// the VirtualMesh INVALID with a message naming the Secret and what is wrong. Once imported, the root stays: a
// Secret deleted or changed later leaves it in use, and status.errors says so (replacing a root is a root
// rotation, SPEC §5.5, not done here).
//
// Root rotations (SPEC §5.5, hub/controller/root_rotation.h): StartRootRotation() stores a rotation in phase
// TRUST_BOTH; every Reconcile() directs the certificates of the phase it is in (the bundle and signing root of
// the phase make a directive generation of their own), asks DecideRotation() whether every member mesh acknowledged
// it, and if so moves the stored phase on (compare-and-swap) and computes again. The phase, the members it waits for
// and their part are in status.rootRotation and status.meshes[*].rootRotation. A hub restarted mid-phase reads the
// phase from the store and goes on from there.
//
// Not thread-safe, except facts(): one reconcile or preview at a time (the reconcile loop guarantees it).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hub/api/object_service.h"
#include "hub/ca/ca_service.h"
#include "hub/controller/agent_facts.h"
#include "hub/controller/desired_state.h"
#include "hub/controller/incremental_state.h"
#include "hub/controller/output_validator.h"

namespace vmesh::hub {

// The setting (Store::GetSetting) that records that a rotation of `virtual_mesh` to the root with this fingerprint
// was aborted, so that its Secret does not start it again by itself.
std::string DeclinedRotationSetting(const std::string& virtual_mesh, const std::string& root_fingerprint);

class HubReconciler {
 public:
  // `hub_namespace`: the namespace of discovered objects that name none.
  HubReconciler(
      Store& store, ObjectService& objects, CaService& ca, std::string hub_namespace = "vmesh",
      std::function<TimePoint()> clock = [] { return std::chrono::system_clock::now(); });

  // The facts from the agents, which only the reconciler holds; thread-safe, written by the agent sessions while
  // a reconcile runs (it reads them at its start).
  AgentFacts& facts() { return facts_; }
  const AgentFacts& facts() const { return facts_; }

  // Shorthands for facts(). Discovery of a cluster replaces what the cluster reported before.
  void SetDiscovery(const std::string& cluster, std::vector<api::v1::Mesh> meshes,
                    std::vector<api::v1::Destination> destinations);
  void SetConnected(const std::string& cluster, bool connected);
  // `deregistered` false: the cluster was registered again (its agent is welcome back).
  void SetDeregistered(const std::string& cluster, bool deregistered = true);
  void SetReport(const std::string& mesh_key, MeshReport report);
  // The Istio CRDs a cluster's agent read from its API server: that cluster's outputs are validated against them
  // (see OutputValidator) from the next Reconcile(); an output that does not validate is not sent and makes its
  // mesh FAILED naming it.
  void SetIstioSchemas(const std::string& cluster, const link::v1::IstioSchemas& schemas);
  const OutputValidator& validator() const { return validator_; }

  Result<DesiredState> Reconcile();

  // `vmeshctl preview`: what every cluster would hold with `vm` added (or replacing the stored object of the same
  // namespace/name), from the current facts. Writes nothing and creates no root: a VirtualMesh whose root does
  // not exist yet gets no certificate directives. `vm`'s empty namespace stands for `default_namespace`; a new
  // object is treated as created at `now_rfc3339` (after every stored one).
  Result<DesiredState> Preview(api::v1::VirtualMesh vm, const std::string& default_namespace,
                               const std::string& now_rfc3339) const;

  // `vmeshctl rotate root`: starts rotating the root of VirtualMesh `key` ("<namespace>/<name>") — to a new generated
  // root, or, when its root comes from a Secret, to the root the Secret holds now. Fails (kNotFound, kConflict,
  // kInvalidArgument) without a root yet, with a rotation in progress, or with a Secret still holding the root in
  // use. Returns a one-line description. Reconcile() afterwards.
  Result<std::string> StartRootRotation(const std::string& key, const std::string& reason);
  // `vmeshctl rotate root --abort`: rolls the rotation back (AbortTarget: refused in the last phase).
  Result<std::string> AbortRootRotation(const std::string& key);

  // Status writes so far (for tests and metrics).
  int status_writes() const { return status_writes_; }

  // Reconcile() computes the desired state incrementally (IncrementalDesiredState: identical results, work per
  // discovery change proportional to the clusters it affects) unless turned off, then from scratch each time.
  void SetIncremental(bool on) { incremental_on_ = on; }
  const IncrementalDesiredState& incremental() const { return incremental_; }

 private:
  // What Gather learns about roots from Secrets: Secrets ready to import (by VirtualMesh key) and notes for the
  // status errors of VirtualMeshes whose Secret no longer matches the root they use.
  struct SecretRoots {
    std::map<std::string, api::v1::Secret> importable;
    std::map<std::string, std::vector<std::string>> notes;
    // Root rotations in progress, by VirtualMesh key.
    std::map<std::string, RootsInForce> rotations;
    // VirtualMeshes whose root Secret now holds another root to rotate to (-> "secret <ns>/<name>").
    std::map<std::string, std::string> rotatable;
  };

  // Loads the roots in force of `key` into state.roots (and `rotations`).
  Status LoadRoots(const std::string& key, HubState& state, std::map<std::string, RootsInForce>& rotations) const;
  // Advances the rotations every member acknowledged; true when a phase moved (compute again).
  Result<bool> AdvanceRotations(const DesiredState& desired, HubState& state, SecretRoots& roots);
  // status.rootRotation and the members' part, for VirtualMeshes with a rotation in progress.
  void ReportRotations(const DesiredState& desired, const HubState& state, const SecretRoots& roots,
                       std::vector<VirtualMeshResult>& statuses) const;

  // Intent from the store, `facts` from the agents.
  Result<HubState> Gather(SecretRoots* secret_roots, AgentFacts::Snapshot facts) const;
  // Fills in.root_secret_problem, or `secret_roots`, for a VirtualMesh whose root comes from a Secret.
  Status CheckRootSecret(const std::string& key, VirtualMeshInput& in, SecretRoots* secret_roots) const;

  Store& store_;
  ObjectService& objects_;
  CaService& ca_;
  std::function<TimePoint()> clock_;
  AgentFacts facts_;
  // The restart directives of the last successful Reconcile() (cluster -> name -> version), and how many
  // computations the incremental state had made by then: what DesiredState::changed_clusters is relative to.
  std::map<std::string, std::map<std::string, std::string>> restarts_directed_;
  std::optional<std::uint64_t> computes_seen_;
  int status_writes_ = 0;
  bool incremental_on_ = true;
  IncrementalDesiredState incremental_;
  OutputValidator validator_;
};

}  // namespace vmesh::hub
