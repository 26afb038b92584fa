// The hub's API objects (VirtualMesh, AccessPolicy, Secret): apply, get, list, delete — what `vmeshctl apply/get/
// delete` call through the API endpoint. Transport-free: the HTTPS layer maps these calls to routes.
//
// Apply is all or nothing at validation: a manifest with any malformed object (codec or structural
// validation error) changes nothing and returns every error. Accepted objects are created (uid, generation 1,
// creationTimestamp) or updated: generation goes up only when the spec changes, status is kept, and the
// write is optimistic — against the resourceVersion the manifest carries, if any (a stale one is a conflict),
// else against the version read just before writing. An unchanged object is not written at all. The uid,
// generation, creationTimestamp and resourceVersion reported are the store's (with the Kubernetes store, the API
// server's), so objects created elsewhere (kubectl) are read, updated and status-written alike.
//
// Secrets (v1 Secret, e.g. a VirtualMesh's user-provided root CA, see common/api/secret.h) are stored with
// stringData merged into data; their generation goes up when type or data change. Values that are not public
// certificates (private keys) are sealed with the key-encryption key when the hub has one (AES-256-GCM, bound to
// the Secret and key) and are never returned by ListSecrets/GetSecret, which redact them; only GetSecretData,
// for the hub's own use, returns them. A root-CA Secret whose root-cert.pem is expired or not yet valid is
// refused at apply.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/api/manifest.h"
#include "common/base/time.h"
#include "hub/store/store.h"

namespace vmesh::hub {

enum class ApplyOutcome { kCreated, kConfigured, kUnchanged };

struct ApplyResult {
  std::string kind;
  std::string ns;
  std::string name;
  ApplyOutcome outcome;
  std::int64_t generation = 0;
  std::string import_note;

  // "virtualmesh vmesh/vm1 created" as kubectl prints it.
  std::string ToString() const;
};

class ObjectService {
 public:
  // `key_encryption_key`: 32 bytes to seal Secret values at rest, or nullopt to store them as given (the store
  // file is 0600).
  ObjectService(Store& store, std::string hub_namespace, std::function<TimePoint()> clock,
                std::optional<std::string> key_encryption_key = std::nullopt);

  // Errors: the codec's messages (one per line), or a conflict (ErrorCode::kConflict; the message starts with
  // kConflict).
  Result<std::vector<ApplyResult>> Apply(std::string_view manifest);

  Result<std::vector<api::v1::VirtualMesh>> ListVirtualMeshes();
  Result<std::vector<api::v1::AccessPolicy>> ListAccessPolicies();
  // nullopt when absent.
  Result<std::optional<api::v1::VirtualMesh>> GetVirtualMesh(const std::string& ns, const std::string& name);

  // Secrets as the API shows them (api::RedactSecret: no private key, ever).
  Result<std::vector<api::v1::Secret>> ListSecrets();
  Result<std::optional<api::v1::Secret>> GetSecret(const std::string& ns, const std::string& name);
  // The stored Secret with every value, unsealed: for the hub itself (the reconciler importing a root). Never
  // return it from the API.
  Result<std::optional<api::v1::Secret>> GetSecretData(const std::string& ns, const std::string& name);

  // With a key-encryption key: seals the private values of Secrets stored in plain before the key was configured
  // (their resourceVersion changes, nothing else). Returns how many Secrets were rewritten; 0 without a key.
  // Fails, writing nothing, when a value already sealed does not open with the key.
  Result<int> SealStoredSecrets();

  // Stores a new status (the reconciler's write); no-op when equal. Fails when the object is gone.
  Status UpdateVirtualMeshStatus(const std::string& ns, const std::string& name, const api::v1::VirtualMeshStatus& s,
                                 const std::optional<api::v1::VirtualMeshSpec>& last_good, std::int64_t last_good_gen);

  // `kind` is case-insensitive, singular or plural (virtualmesh, virtualmeshes, accesspolicy, secret, ...).
  // Deleting what does not exist is an error naming it (kNotFound). Deleting a Secret a VirtualMesh uses as its root is
  // allowed (the root already imported stays in use) and logged.
  Status Delete(const std::string& kind, const std::string& ns, const std::string& name);

 private:
  Result<ApplyResult> ApplyOne(const api::DecodedObject& decoded);
  // What only the hub can check before a Secret is stored (its root certificate's validity now).
  Status CheckSecret(const api::v1::Secret& secret) const;
  Result<std::string> EncodeSecret(api::v1::Secret secret) const;
  Result<api::v1::Secret> DecodeSecret(const StoredObject& row) const;

  Store& store_;
  std::string hub_namespace_;
  std::function<TimePoint()> clock_;
  std::optional<std::string> kek_;
};

// Protobuf bytes that are equal whenever the messages are (map entries in key order), so that stored rows can
// be compared byte for byte.
std::string SerializeDeterministic(const google::protobuf::Message& message);

// "VirtualMesh" / "AccessPolicy" / "Secret" for their spellings in the kind table (common/base/kinds.h), or an
// error (kInvalidArgument) listing them.
Result<std::string> CanonicalKind(const std::string& kind);

}  // namespace vmesh::hub

namespace vmesh::hub {

// The registration record as the API's Cluster object (what `vmeshctl get clusters` / `cluster list` show).
api::v1::Cluster ClusterObject(const ClusterRecord& record, const std::string& hub_namespace);

}  // namespace vmesh::hub
