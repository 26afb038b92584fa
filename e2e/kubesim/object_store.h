// ObjectStore: kubesim's in-memory etcd: objects of every registered kind, a global resourceVersion and a
// bounded log of changes that watches replay.
//
// Objects are Boost.JSON objects, stored per (group, resource, namespace, name); all versions of a
// resource share storage, as in Kubernetes, so callers set apiVersion when they serve an object. The
// store owns the server-set metadata: uid, creationTimestamp, resourceVersion (one counter for all kinds,
// incremented on every change) and generation (1 at creation, bumped when anything outside metadata — and
// outside status, for kinds with the status subresource — changes). A write that changes nothing is a no-op: no new
// resourceVersion, no event. Deleting a namespace deletes everything in it. Services get a cluster IP (and node ports
// for NodePort and LoadBalancer types) when created without one, as kube-apiserver's allocators do. A dry-run write
// (Commit::kDryRun) is checked and computed like a real one and returns the result, but changes nothing.
//
// Thread-safe: every method may be called from any thread. Change listeners run on the writing thread
// after the store's lock is released.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "e2e/kubesim/api_error.h"
#include "e2e/kubesim/resource_registry.h"
#include "e2e/kubesim/selector.h"

namespace vmesh::kubesim {

using ObjectPtr = std::shared_ptr<const boost::json::object>;

enum class EventType { kAdded, kModified, kDeleted };
const char* EventTypeName(EventType type);  // "ADDED", "MODIFIED", "DELETED"

struct StoredEvent {
  uint64_t resource_version = 0;
  EventType type = EventType::kAdded;
  std::string group;
  std::string resource;
  std::string ns;
  ObjectPtr object;                          // the object after the change; for DELETED, its last state
  ObjectPtr previous;                        // for MODIFIED, the object before the change; null otherwise
  std::chrono::system_clock::time_point at;  // when the change was made (Options::clock)
};

struct ListOptions {
  LabelSelector labels;
  FieldSelector fields;
  size_t limit = 0;  // 0: no limit
  std::string continue_token;
  // The state at this resourceVersion (resourceVersionMatch=Exact) instead of the current one; rebuilt
  // from the change log, so 410 Expired once changes after it have left the log, 504 when it is newer than
  // the store. A continue token carries the version of the first page and is served the same way.
  std::optional<uint64_t> exact_resource_version;
};

struct ListResult {
  std::vector<ObjectPtr> items;
  uint64_t resource_version = 0;
  std::string continue_token;  // empty on the last page
  std::optional<size_t> remaining_item_count;
};

struct DeletePreconditions {
  std::optional<std::string> uid;
  std::optional<std::string> resource_version;
};

// Whether a write is stored, or only checked and computed (the API's dryRun=All).
enum class Commit { kYes, kDryRun };

enum class UpdateScope {
  kMain,    // the object; for kinds with a status subresource, status changes are ignored
  kStatus,  // the /status subresource: only status changes
};

class ObjectStore {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  struct Options {
    size_t event_log_capacity = 10000;              // watches from before the oldest logged change get 410 Gone
    std::chrono::milliseconds event_log_window{0};  // changes older than this leave the log too (0: never)
    Clock clock;                                    // default: the system clock
    uint64_t random_seed = 0;                       // for uids and generated names; 0: seeded from std::random_device
    std::string service_ip_prefix = "10.96";        // Services get <prefix>.x.y cluster IPs
  };

  ObjectStore();
  explicit ObjectStore(Options options);

  ApiResult<ObjectPtr> Get(const ResourceType& type, const std::string& ns, const std::string& name) const;

  // Lists objects of a type in `ns` (all namespaces when empty), ordered by namespace and name. Pages
  // (limit/continue) are consistent: every page shows the state at the first page's resourceVersion.
  ApiResult<ListResult> List(const ResourceType& type, const std::string& ns, const ListOptions& options) const;

  // Creates an object. Fails with AlreadyExists, with NotFound when the namespace does not exist, and with
  // Invalid when the object has neither metadata.name nor metadata.generateName.
  ApiResult<ObjectPtr> Create(const ResourceType& type, const std::string& ns, boost::json::object object,
                              Commit commit = Commit::kYes);

  // Replaces an object. A non-empty metadata.resourceVersion must match the stored one (else Conflict).
  ApiResult<ObjectPtr> Update(const ResourceType& type, const std::string& ns, const std::string& name,
                              boost::json::object object, UpdateScope scope = UpdateScope::kMain,
                              Commit commit = Commit::kYes);

  // Read-modify-write under the store's lock: `mutate` gets the current object and returns its new
  // content (or an error, which is returned unchanged). Used for PATCH.
  using Mutation = std::function<ApiResult<boost::json::object>(const boost::json::object& current)>;
  ApiResult<ObjectPtr> Mutate(const ResourceType& type, const std::string& ns, const std::string& name,
                              const Mutation& mutate, UpdateScope scope = UpdateScope::kMain,
                              Commit commit = Commit::kYes);

  // Deletes an object and returns its last state.
  ApiResult<ObjectPtr> Delete(const ResourceType& type, const std::string& ns, const std::string& name,
                              const DeletePreconditions& preconditions = {}, Commit commit = Commit::kYes);

  uint64_t resource_version() const;

  // Changes to a type (in `ns`, or all namespaces when empty) after resourceVersion `since`, oldest first,
  // and the store's resourceVersion they are complete through. Fails with 410 Expired when changes after
  // `since` have already left the log.
  struct EventBatch {
    std::vector<StoredEvent> events;
    uint64_t through = 0;
  };
  ApiResult<EventBatch> EventsSince(const ResourceType& type, const std::string& ns, uint64_t since) const;

  // Registers a callback run after every change; returns an id for RemoveChangeListener.
  int AddChangeListener(std::function<void()> listener);
  void RemoveChangeListener(int id);

 private:
  struct TypeKey {
    std::string group;
    std::string resource;
    auto operator<=>(const TypeKey&) const = default;
  };
  using ObjectKey = std::pair<std::string, std::string>;  // namespace, name
  using Objects = std::map<ObjectKey, ObjectPtr>;

  ApiResult<ObjectPtr> UpdateLocked(const ResourceType& type, const std::string& ns, const std::string& name,
                                    boost::json::object object, UpdateScope scope, Commit commit);
  ApiResult<ObjectPtr> DeleteLocked(const ResourceType& type, const std::string& ns, const std::string& name);
  void RecordLocked(EventType type, const TypeKey& key, const std::string& ns, ObjectPtr object,
                    ObjectPtr previous = nullptr);
  // The newest resourceVersion whose change has left the log (capacity or window).
  uint64_t CompactedThroughLocked() const;
  bool NamespaceExistsLocked(const std::string& ns) const;
  std::string NewUidLocked();
  std::string NowRfc3339() const;
  void AllocateServiceAddressesLocked(boost::json::object& service);
  void NotifyListeners();

  Options options_;
  mutable std::mutex mu_;
  std::map<TypeKey, Objects> objects_;
  uint64_t resource_version_ = 0;
  std::deque<StoredEvent> log_;
  uint64_t compacted_through_ = 0;  // the newest resourceVersion that has left the log
  std::mt19937_64 random_;
  uint32_t next_service_ip_ = 0;
  int64_t next_node_port_ = 30000;

  std::mutex listeners_mu_;
  std::map<int, std::function<void()>> listeners_;
  int next_listener_id_ = 1;
};

}  // namespace vmesh::kubesim
