// The Kubernetes store (issue 13; docs/hub-on-kubernetes.md): the hub's state as objects in the management
// cluster's API server, so that several hub replicas share it and `kubectl` reads and writes the hub's API.
//
//   VirtualMesh, AccessPolicy    -> networking.vmesh.dev/v1 custom resources (spec; status via /status;
//                                   last-good spec in an annotation) — kube_objects.h
//   Secret API objects           -> core/v1 Secrets (private values sealed with the key-encryption key) —
//   kube_objects.h cluster registrations        -> networking.vmesh.dev/v1 Cluster custom resources in the hub
//   namespace, named by
//                                   the cluster; everything in .status (the ClusterStatus proto, discovery.proto):
//                                   state (REGISTERED, CONNECTED, DISCONNECTED, DEREGISTERED), registeredAt,
//                                   deregisteredAt, agentVersion, connectedSince, lastHeartbeat, meshCount (the
//                                   meshes bound to it), identitySerial/identityNotAfter (the newest identity) and
//                                   identities[] (every agent identity issued: serial, notBefore, notAfter,
//                                   publicKeyFingerprint, revokedAt; in recording order, which
//                                   RevokeIdentitiesBefore follows; revoked ones that expired before a newer one
//                                   became valid are dropped). A Cluster without status (created by kubectl) reads
//                                   as REGISTERED since its creationTimestamp.
//   bootstrap tokens (hashed)    -> Secrets vmesh-bootstrap-<cluster>, type vmesh.dev/bootstrap-token, data
//                                   token-hash (sealed with the key-encryption key when one is configured; the
//                                   associated data names the namespace and cluster), created-at, expires-at,
//                                   used-at
//   link CA                      -> Secret vmesh-link-ca, type vmesh.dev/link-ca, data ca.crt, ca.key
//   VirtualMesh roots            -> Secrets vmesh-root-<namespace>-<name, shortened>-<10 hex of SHA-256 of the key>
//                                   (at most 63 characters, distinct for distinct VirtualMeshes), type
//                                   vmesh.dev/root-ca, data root-cert.pem, key.pem, cert-chain.pem; annotations
//                                   networking.vmesh.dev/virtual-mesh (the key, "<namespace>/<name>"), .../source,
//                                   .../created-at. Keys are sealed by the callers, as with SQLite.
//   issued intermediates         -> networking.vmesh.dev/v1 IssuedCertificate custom resources (certificate.proto),
//                                   named by the serial (lowercase)
//   admin credentials            -> ConfigMap vmesh-admin-credentials: serial -> JSON {serial, notAfter,
//                                   publicKeyFingerprint, createdAt, revokedAt, replacedBy}
//   settings                     -> ConfigMap vmesh-hub-settings: key -> value
//   mesh owners                  -> ConfigMap vmesh-mesh-owners: mesh -> cluster
//
// Every object the store writes carries app.kubernetes.io/managed-by=vmesh-hub; its Secrets and ConfigMaps also
// carry networking.vmesh.dev/store-record=<what> (bootstrap-token, link-ca, root-ca, or the ConfigMap's name):
// they are the store's records, not API objects, and the object table must leave them out. Times are RFC 3339
// with milliseconds (whole seconds print without a fraction in the proto JSON of CR fields).
//
// Concurrency: the API server's optimistic concurrency (every read-modify-write is an update conditioned on the
// resourceVersion read, retried on 409; creates of write-once records lose with 409 AlreadyExists and return the
// winner's). So two hubs on one API server get the guarantees of one SQLite store: a bootstrap token is consumed
// once, the first mesh binding and the first root win, a setting is set once. 409 -> ErrorCode::kConflict where
// the Store contract refuses with a conflict; other API errors name the object and carry the API server's message
// ("Kubernetes store: Secret vmesh/vmesh-link-ca: 500 Internal Server Error: ..."), 429/5xx/transport as
// kUnavailable. The store does not retry those: callers see them.
//
// Not one transaction: a call that writes several objects (RegisterCluster, CompleteBootstrap, DeregisterCluster,
// BindMeshIfAbsent, ReplaceStoredKeys) orders its writes so that an interruption leaves a state that the same
// call (or re-registering) completes; kube_store.cpp documents each, including the bootstrap crash window.
//
// Reads of the store's own records go to the API server (no cache): every replica sees the others' writes at
// once. Reads of API objects come from the object table's informer cache, which every write of this store updates
// first (read your writes); changes by others (kubectl) reach SetChangeListener(), and so does a Cluster deleted
// by someone else (a watch on Clusters; the store never deletes one itself).
//
// Thread-safe: calls run their requests on a private io_context each (kube::RunTask), so they may come from any
// thread, including one running another io_context.
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

// Connects, checks that the vmesh CRDs are installed with their status subresource (API discovery, no RBAC on
// CustomResourceDefinitions needed; an error names each missing CRD and how to install them:
// `kubectl apply -f charts/vmesh-hub/crds/`), lists and starts watching. Blocks until the caches are synced. The
// hub namespace must exist (writes fail naming it otherwise).
Result<StorePtr> OpenKubernetesStore(kube::KubeClientPtr client, KubeStoreOptions options);

}  // namespace vmesh::hub
