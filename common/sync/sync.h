// The incremental sync engine shared by hub and agent (SPEC §9 "Sync"), xDS-like and transport-free.
//
// The hub keeps, per cluster, a ResourceSender: the desired resource set (outputs, certificate and restart
// directives) and what the agent is known to hold. It produces ResourceUpdates containing only the
// differences (upserts + removals + a system version), one in flight at a time, and learns from each Ack
// which resources the agent now holds. It tracks which names changed since they last agreed, so that the work of
// an update is proportional to what changed, not to the size of the set. On reconnect the agent's Hello says what it
// holds, so the hub sends only what changed meanwhile: a reconnect with nothing changed sends nothing.
//
// The agent keeps a ResourceReceiver: it applies each upsert/removal through callbacks, skips resources it
// already holds at the same version (nothing is re-applied), and answers with an Ack that lists per-resource
// errors (a NACK when any). Resources are independent: one rejected resource does not block the others.
// A rejected version is not resent until its content changes or RetryRejected() is called (the caller
// schedules that with backoff), so a bad resource cannot cause a resend loop.
//
// Pure logic: no I/O, no clock, no threads. Not thread-safe; callers serialize (one strand per session).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::sync {

using link::v1::Ack;
using link::v1::Hello;
using link::v1::Resource;
using link::v1::ResourceUpdate;

// A stable version of a resource's body (the name and version fields excluded): hex SHA-256 prefix of its
// deterministic serialization. Equal bodies give equal versions across processes and restarts.
std::string ContentVersion(const Resource& resource);

// An immutable resource shared between its holders (the hub's caches, a reconcile's result, each cluster's
// sender) instead of copied.
using SharedResource = std::shared_ptr<const Resource>;

class ResourceSender {
 public:
  // Desired state. The version of each resource is computed from its body (any set version is replaced).
  void Upsert(Resource resource);
  void Remove(const std::string& name);
  // Replaces the whole desired set.
  void SetDesired(std::vector<Resource> resources);
  // The same for resources whose version the caller already set to ContentVersion() (it is trusted, not
  // recomputed; a resource with an empty version gets one computed), so an unchanged resource costs no hashing.
  void SetDesiredVersioned(std::vector<Resource> resources);
  // The same for shared resources (versions already set to ContentVersion(), names unique), changing only what
  // differs from the desired set so far: an entry that is the same object or has the same version costs one
  // comparison, and NextUpdate() then looks only at the names that changed.
  void SetDesiredShared(const std::vector<SharedResource>& resources);

  // A new session began: the agent holds `hello.resource_versions()`. Anything in flight is forgotten.
  void Resume(const Hello& hello);
  // The session ended; the in-flight update (if any) is forgotten.
  void Disconnected();

  // The next update to send, or nothing when the agent holds the desired set (or an update is in flight,
  // or no session is active).
  std::optional<ResourceUpdate> NextUpdate();

  // Applies the agent's answer to the in-flight update. Errors for an unknown or stale nonce.
  Status HandleAck(const Ack& ack);

  // Makes rejected resources eligible to be sent again.
  void RetryRejected();

  bool in_flight() const { return in_flight_.has_value(); }
  bool active() const { return active_; }
  // True when the agent holds exactly the desired set.
  bool InSync() const;
  // What the agent holds: name -> version.
  const std::map<std::string, std::string>& agent_versions() const { return agent_; }
  // Rejected resources: name -> error message (until resent successfully).
  const std::map<std::string, std::string>& rejected() const { return rejected_errors_; }
  const std::string& system_version() const { return system_version_; }
  // Resources sent over the life of this sender (for tests and metrics).
  std::uint64_t resources_sent() const { return resources_sent_; }

 private:
  // What an update in flight carried: enough to apply its ACK.
  struct InFlight {
    std::string nonce;
    std::string system_version;
    std::vector<std::pair<std::string, std::string>> upserts;  // name, version
    std::vector<std::string> removals;
  };

  void SetDesiredEntry(const std::string& name, SharedResource resource);

  std::map<std::string, SharedResource> desired_;
  // Names whose desired and held versions may differ (everything else agrees): NextUpdate() looks only at these.
  std::set<std::string> dirty_;
  std::map<std::string, std::string> agent_;            // what the agent holds
  std::map<std::string, std::string> rejected_;         // name -> rejected version ("" = removal rejected)
  std::map<std::string, std::string> rejected_errors_;  // name -> message
  std::optional<InFlight> in_flight_;
  bool active_ = false;
  std::uint64_t next_nonce_ = 1;
  std::uint64_t system_counter_ = 0;
  std::string system_version_;
  std::uint64_t resources_sent_ = 0;
};

class ResourceReceiver {
 public:
  // Applies one resource (create or update in the cluster); an error rejects just that resource.
  using Applier = std::function<Status(const Resource&)>;
  // Removes one resource by name.
  using Remover = std::function<Status(const std::string&)>;

  // Starts from what the agent persisted after its last Ack (empty on first start).
  explicit ResourceReceiver(std::map<std::string, std::string> held = {}, std::string system_version = "");

  // The Hello for a new session.
  Hello MakeHello(const std::string& cluster, const std::string& agent_version) const;

  // Applies an update and returns the Ack to send. Upserts whose version the agent already holds are not
  // re-applied. After it returns, held() is what to persist.
  Ack Apply(const ResourceUpdate& update, const Applier& apply, const Remover& remove);

  // The same in steps, for appliers that are coroutines (the agent applies through the Kubernetes API):
  //   Ack ack = receiver.StartAck(update);
  //   for (const Resource* r : receiver.UpsertsToApply(update)) receiver.RecordUpsert(*r, co_await apply(*r), ack);
  //   for (const auto& name : receiver.RemovalsToApply(update)) receiver.RecordRemoval(name, co_await ..., ack);
  //   receiver.FinishAck(update, ack);
  // The pointers returned point into `update`.
  Ack StartAck(const ResourceUpdate& update) const;
  std::vector<const Resource*> UpsertsToApply(const ResourceUpdate& update) const;
  std::vector<std::string> RemovalsToApply(const ResourceUpdate& update) const;
  void RecordUpsert(const Resource& resource, const Status& outcome, Ack& ack);
  void RecordRemoval(const std::string& name, const Status& outcome, Ack& ack);
  void FinishAck(const ResourceUpdate& update, Ack& ack);

  const std::map<std::string, std::string>& held() const { return held_; }
  const std::string& system_version() const { return system_version_; }
  std::uint64_t applied() const { return applied_; }

 private:
  std::map<std::string, std::string> held_;
  std::string system_version_;
  std::uint64_t applied_ = 0;
};

}  // namespace vmesh::sync
