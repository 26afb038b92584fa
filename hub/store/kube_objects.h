// API objects (VirtualMesh, AccessPolicy, Secret) in the Kubernetes store: the object half of the Store
// interface (PutObject/GetObject/ListObjects/DeleteObject) over custom resources and core Secrets, served from
// an informer cache. KubeStore (kube_store.cpp) owns one and forwards the object calls to it.
//
// Mapping: StoredObject.body (the serialized proto with apiVersion, kind, metadata, spec) <-> the resource's
// spec in proto3 JSON; StoredObject.status <-> .status (written through the /status subresource);
// last_good + last_good_generation <-> annotations networking.vmesh.dev/last-good-spec and
// networking.vmesh.dev/last-good-generation; generation and resourceVersion are the API server's.
// Objects created by kubectl appear with the API server's uid/generation/creationTimestamp.
//
// Thread-safe.
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

class KubeObjectTable {
 public:
  virtual ~KubeObjectTable() = default;
  // Lists, then watches (own thread), until Stop(). Blocks until the first list is in the cache.
  virtual Status Start() = 0;
  virtual void Stop() = 0;
  // Called after a change this table did not make itself (see Store::SetChangeListener).
  virtual void SetChangeListener(std::function<void()> listener) = 0;

  virtual Result<StoredObject> PutObject(const StoredObject& object, std::optional<std::int64_t> expected_version) = 0;
  virtual Result<std::optional<StoredObject>> GetObject(const std::string& kind, const std::string& ns,
                                                        const std::string& name) = 0;
  virtual Result<std::vector<StoredObject>> ListObjects(const std::string& kind) = 0;
  virtual Result<bool> DeleteObject(const std::string& kind, const std::string& ns, const std::string& name) = 0;
};

// `client` must outlive the table. `key_encryption_key` seals Secret private values at rest when set.
std::unique_ptr<KubeObjectTable> MakeKubeObjectTable(kube::KubeClient& client, std::string hub_namespace,
                                                     std::optional<std::string> key_encryption_key);

}  // namespace vmesh::hub
