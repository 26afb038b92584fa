// The Kubernetes store (issue 13; docs/hub-on-kubernetes.md): the hub's state as objects in the management
// cluster's API server, so that several hub replicas share it and `kubectl` reads and writes the hub's API.
//
//   VirtualMesh, AccessPolicy    -> networking.vmesh.dev/v1 custom resources (spec; status via /status;
//                                   last-good spec in an annotation)
//   Secret API objects           -> core/v1 Secrets (private values sealed with the key-encryption key)
//   cluster registrations        -> networking.vmesh.dev/v1 Cluster custom resources in the hub namespace
//   bootstrap tokens (hashed)    -> Secrets vmesh-bootstrap-<cluster>, sealed
//   link CA, VirtualMesh roots   -> Secrets (keys sealed by the callers, as with SQLite)
//   issued intermediates         -> networking.vmesh.dev/v1 IssuedCertificate custom resources
//   admin credentials, settings, mesh owners -> ConfigMaps in the hub namespace
//
// The API server's resourceVersion is the store's resourceVersion (an integer in every real API server and
// in kubesim); optimistic concurrency is the API server's (409 Conflict -> ErrorCode::kConflict). Each Store
// call is one request or a sequence that is safe to interrupt (documented per call in kube_store.cpp).
// Reads of API objects come from an informer cache that every write of this store updates first (read your
// writes); changes by others (kubectl) reach SetChangeListener().
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "common/kube/client.h"
#include "hub/store/store.h"

namespace vmesh::hub {

struct KubeStoreOptions {
  // The namespace of the hub's own objects (Cluster CRs, Secrets, ConfigMaps, IssuedCertificates).
  std::string hub_namespace = "vmesh";
  // Seals private values the store writes itself (bootstrap token hashes, user Secret values) when set.
  std::optional<std::string> key_encryption_key;
};

// Connects, checks that the vmesh CRDs are installed (an error names the missing CRD and how to install it:
// `kubectl apply -f charts/vmesh-hub/crds/`), lists and starts watching. Blocks until the cache is synced.
Result<StorePtr> OpenKubernetesStore(kube::KubeClientPtr client, KubeStoreOptions options);

}  // namespace vmesh::hub
