// API objects (VirtualMesh, AccessPolicy, Secret) in the Kubernetes store: the object half of the Store
// interface (PutObject/GetObject/ListObjects/DeleteObject) over custom resources and core Secrets, served from
// an informer cache. KubeStore (kube_store.cpp) owns one and forwards the object calls to it.
//
// Mapping:
//   VirtualMesh, AccessPolicy -> networking.vmesh.dev/v1 virtualmeshes / accesspolicies (all namespaces).
//     StoredObject.body (the serialized proto with apiVersion, kind, metadata, spec) <-> the resource's metadata
//     (name, namespace, labels, annotations, uid, generation, creationTimestamp) and spec in proto3 JSON (the
//     common/api codec); StoredObject.status <-> .status, written through the /status subresource;
//     last_good + last_good_generation <-> annotations networking.vmesh.dev/last-good-spec (the spec's JSON) and
//     networking.vmesh.dev/last-good-generation (these two never appear in the body's annotations).
//   Secret -> core/v1 Secrets (type, data). Values are stored as given: ObjectService seals private values with
//     the key-encryption key before they reach the store, as with SQLite.
// uid, generation, creationTimestamp and resourceVersion are the API server's (what the caller put in is
// ignored); the body's metadata carries the same values (resourceVersion left out, as in the other stores). An
// object created by kubectl reads like one created by the hub, with no last-good spec. A Secret without
// metadata.generation (real API servers do not keep one for Secrets) reads as generation 1.
//
// Which Secrets: the ones that are the hub's API objects. Every Secret this table writes carries the label
// networking.vmesh.dev/api-object=true (kept out of the body's labels); ListObjects("Secret"), the cache and the
// change listener cover the labelled Secrets of the hub namespace, so the informer needs only a Role there, and
// nothing else of that namespace is listed — not the hub's internal Secrets (label
// app.kubernetes.io/managed-by=vmesh-hub: bootstrap tokens, CA keys), nor Helm's releases, service-account tokens,
// image pull or TLS Secrets, which the hub must never redact, seal (ObjectService::SealStoredSecrets) or rewrite.
// A Secret created with kubectl is listed and watched once it carries the label. Any other Secret, in any
// namespace, is read (GetObject: e.g. a VirtualMesh's root CA created with kubectl), written and deleted by name
// with direct requests (RBAC for other namespaces is the deployer's choice); changes to those do not reach the
// listener. Internal Secrets are invisible here: GetObject says absent, DeleteObject deletes nothing, and
// PutObject refuses to overwrite them or to write their label.
//
// Concurrency: optimistic, the API server's. expected_version 0 creates (AlreadyExists -> ErrorCode::kConflict,
// message starting with kConflict), N updates with metadata.resourceVersion N (Conflict -> kConflict), none
// creates or updates whatever is there. A write sends only what changed: the object (spec, labels, annotations)
// when it changed, then /status when the status changed; the two requests are not atomic, and when the second
// fails the first stays applied (a later write of the same status completes it).
//
// Reads come from the cache, which every successful write updates from the API server's answer before returning
// (read your writes); a watch event or list older than what the cache holds never replaces it. Events that the
// table's own writes caused do not reach the change listener; everything else that changes what the table
// serves (kubectl apply/edit/delete, status writes of others, a relist that finds changes) does.
//
// Thread-safe: every method may be called from any thread; writes and direct reads block on the API server.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/kube/client.h"
#include "hub/store/store.h"

namespace vmesh::hub {

// The annotations that hold StoredObject.last_good and last_good_generation.
inline constexpr char kLastGoodSpecAnnotation[] = "networking.vmesh.dev/last-good-spec";
inline constexpr char kLastGoodGenerationAnnotation[] = "networking.vmesh.dev/last-good-generation";
// The label of the Secrets that are API objects of the hub (value "true"), set by every Secret write of the table.
inline constexpr char kSecretApiObjectLabel[] = "networking.vmesh.dev/api-object";

class KubeObjectTable {
 public:
  virtual ~KubeObjectTable() = default;
  // Checks that the resources can be listed (an error names a missing CRD and how to install it, or the
  // missing permission), then lists and watches on its own thread until Stop(). Blocks until the first list of
  // every resource is in the cache. Object calls before Start() see an empty cache. After Stop(), Start() lists
  // again (newer states replace what the cache kept).
  virtual Status Start() = 0;
  // Ends the watches and joins the thread. Idempotent; the destructor calls it.
  virtual void Stop() = 0;
  // Called after a change this table did not make itself (see Store::SetChangeListener), on the table's thread
  // or on the thread of a write that was in flight when the change arrived; never with a lock of the table held.
  virtual void SetChangeListener(std::function<void()> listener) = 0;

  virtual Result<StoredObject> PutObject(const StoredObject& object, std::optional<std::int64_t> expected_version) = 0;
  virtual Result<std::optional<StoredObject>> GetObject(const std::string& kind, const std::string& ns,
                                                        const std::string& name) = 0;
  virtual Result<std::vector<StoredObject>> ListObjects(const std::string& kind) = 0;
  virtual Result<bool> DeleteObject(const std::string& kind, const std::string& ns, const std::string& name) = 0;
};

// `client` must outlive the table. `hub_namespace` holds the Secrets the table lists and watches.
std::unique_ptr<KubeObjectTable> MakeKubeObjectTable(kube::KubeClient& client, std::string hub_namespace);

}  // namespace vmesh::hub
