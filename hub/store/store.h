// The hub's persistent state (SPEC §2, §10). `Store` is a seam: the embedded SQLite store now, a Kubernetes
// (CRDs + Secrets) store later. Every mutating call is one transaction: when it returns OK the change is
// durable (survives kill -9), and when it fails nothing of it was applied.
//
// Thread-safe: implementations serialize calls internally.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace vmesh::hub {

using TimePoint = std::chrono::system_clock::time_point;

enum class ClusterState { kRegistered, kConnected, kDisconnected, kDeregistered };

std::string_view ClusterStateName(ClusterState state);

struct ClusterRecord {
  std::string name;
  ClusterState state = ClusterState::kRegistered;
  TimePoint registered_at;
  std::string agent_version;
  // The newest identity certificate issued to the cluster's agent.
  std::string identity_serial;
  std::optional<TimePoint> identity_not_after;
  std::optional<TimePoint> connected_since;
  std::optional<TimePoint> last_heartbeat;
};

// An agent identity (client certificate) the hub issued.
struct IssuedIdentity {
  std::string serial;  // hex
  std::string cluster;
  TimePoint not_before;
  TimePoint not_after;
  std::string public_key_fingerprint;
};

struct LinkCaMaterial {
  std::string certificate_pem;
  // The private key PEM, or the key sealed with the key-encryption key (pki::IsSealed tells).
  std::string key_pem;
};

// Rewrites one stored private key in place (sealing a key stored before a key-encryption key was configured).
struct StoredKeyUpdate {
  std::string virtual_mesh;      // whose root key; empty: the link CA key
  std::string expected_key_pem;  // the stored value being replaced (compare-and-swap)
  std::string key_pem;           // the new value
};

// An admin client certificate the API accepts (pinned by serial); revoked ones are kept, with revoked_at.
struct AdminCredential {
  std::string serial;  // hex, as pki::Certificate::serial_hex()
  TimePoint not_after;
  std::string public_key_fingerprint;
  TimePoint created_at;
  std::optional<TimePoint> revoked_at;
  std::string replaced_by;  // the serial that replaced it (`vmeshctl admin rotate`), if any
};

// The root CA of one VirtualMesh (SPEC §5.1).
struct RootCaRecord {
  std::string virtual_mesh;  // "<namespace>/<name>"
  std::string certificate_pem;
  // Upstream certificates when the "root" is an enterprise intermediate (from a user secret); else empty.
  std::string chain_pem;
  // The private key PEM, or the key sealed with the key-encryption key (pki::IsSealed tells).
  std::string key_pem;
  std::string source;  // "generated" or "secret"
  TimePoint created_at;
};

// A root rotation in progress (SPEC §5.5): the VirtualMesh's root (RootCaRecord) is being replaced by `next`.
// The phase is the name of an api::v1::RootRotationPhase ("TRUST_BOTH", ...); see hub/controller/root_rotation.h.
struct RootRotationRecord {
  std::string virtual_mesh;  // "<namespace>/<name>"
  std::string phase;
  RootCaRecord next;   // the root rotated to (its key sealed like any root key)
  std::string reason;  // what started it, for status and logs
  TimePoint started_at;
  TimePoint phase_since;
};

// An intermediate CA the hub signed for a mesh (public facts only; the key never leaves the cluster).
struct IssuedCertificateRecord {
  std::string serial;
  std::string virtual_mesh;
  std::string mesh;
  std::string cluster;
  TimePoint not_before;
  TimePoint not_after;
  std::string public_key_fingerprint;
  TimePoint issued_at;
};

// An API object as stored: metadata columns plus the serialized protobuf message (and its status and the last
// accepted spec separately, so that status writes never race spec updates).
struct StoredObject {
  std::string kind;
  std::string ns;
  std::string name;
  std::string uid;
  std::int64_t generation = 0;
  std::int64_t resource_version = 0;     // assigned by the store on every write
  std::string creation_timestamp;        // RFC 3339
  std::string body;                      // serialized message (apiVersion, kind, metadata, spec)
  std::string status;                    // serialized status message
  std::optional<std::string> last_good;  // serialized spec of the last generation not INVALID as a whole
  std::int64_t last_good_generation = 0;
};

// Prefix of the error message of a failed optimistic-concurrency check.
inline constexpr char kConflict[] = "conflict";

class Store {
 public:
  virtual ~Store() = default;

  // --- Registration -------------------------------------------------------------------------------------
  // Creates the cluster (or gives a cluster that never completed bootstrap a new token, replacing the old
  // one) with a one-time bootstrap token, of which only `token_hash` is stored. Fails when the cluster has
  // already bootstrapped (deregister it first) — the message says so.
  virtual Status RegisterCluster(const std::string& name, const std::string& token_hash, TimePoint token_expires,
                                 TimePoint now) = 0;

  // Read-only check of a bootstrap token: OK when `token_hash` is the unused, unexpired token of `cluster`.
  virtual Status CheckBootstrapToken(const std::string& cluster, const std::string& token_hash, TimePoint now) = 0;

  // Atomically re-checks and consumes the token and records the identity issued for it. A token can be
  // consumed once: a second call with it fails ("already used").
  virtual Status CompleteBootstrap(const std::string& cluster, const std::string& token_hash,
                                   const IssuedIdentity& identity, TimePoint now) = 0;

  // Records a renewed identity of a connected cluster (the previous ones stay valid until
  // RevokeIdentitiesBefore() or deregistration).
  virtual Status RecordIdentity(const IssuedIdentity& identity) = 0;

  // OK when `serial` is an identity issued to `cluster`, not revoked, and the cluster is not deregistered.
  virtual Status CheckIdentity(const std::string& cluster, const std::string& serial) = 0;

  // Revokes the identities of `cluster` recorded before `serial` (the bootstrap identity and older renewals);
  // identities recorded after it stay valid. Returns how many were revoked (0 when `serial` is not the
  // cluster's).
  virtual Result<int> RevokeIdentitiesBefore(const std::string& cluster, const std::string& serial, TimePoint now) = 0;

  // Revokes every identity of the cluster and drops its tokens; the record stays, state DEREGISTERED.
  virtual Status DeregisterCluster(const std::string& name, TimePoint now) = 0;

  // --- Cluster status -----------------------------------------------------------------------------------
  virtual Result<std::optional<ClusterRecord>> GetCluster(const std::string& name) = 0;
  // All clusters, deregistered ones included, ordered by name.
  virtual Result<std::vector<ClusterRecord>> ListClusters() = 0;
  virtual Status MarkConnected(const std::string& name, const std::string& agent_version, TimePoint now) = 0;
  virtual Status MarkHeartbeat(const std::string& name, TimePoint now) = 0;
  virtual Status MarkDisconnected(const std::string& name, TimePoint now) = 0;

  // --- Link CA ------------------------------------------------------------------------------------------
  virtual Result<std::optional<LinkCaMaterial>> GetLinkCa() = 0;
  // Stores the link CA once; fails if one exists (never overwritten).
  virtual Status PutLinkCa(const LinkCaMaterial& material) = 0;

  // Applies every update in one transaction, or none: fails (changing nothing) when a key is missing or no
  // longer holds `expected_key_pem`. The replaced values are overwritten on disk, not just unlinked (SQLite
  // secure_delete; the WAL is checkpointed and truncated afterwards, also for an empty list).
  virtual Status ReplaceStoredKeys(const std::vector<StoredKeyUpdate>& updates) = 0;

  // --- Admin credentials ----------------------------------------------------------------------------------
  // Pins an admin certificate serial (init, or the one-time upgrade of an older data directory).
  virtual Status AddAdminCredential(const AdminCredential& credential) = 0;
  // Every admin credential ever pinned, revoked ones included, oldest first.
  virtual Result<std::vector<AdminCredential>> ListAdminCredentials() = 0;
  // OK when `serial` is a pinned, unrevoked admin credential; else an error saying which (unknown or revoked).
  virtual Status CheckAdminCredential(const std::string& serial) = 0;
  // In one transaction: `old_serial` must be active; `replacement` is pinned and `old_serial` revoked at `now`.
  virtual Status RotateAdminCredential(const std::string& old_serial, const AdminCredential& replacement,
                                       TimePoint now) = 0;

  // --- VirtualMesh root CAs and issued intermediates --------------------------------------------------
  virtual Result<std::optional<RootCaRecord>> GetRootCa(const std::string& virtual_mesh) = 0;
  // Every stored root, ordered by VirtualMesh.
  virtual Result<std::vector<RootCaRecord>> ListRootCas() = 0;
  // Stores the root unless the VirtualMesh has one; returns the root in force either way (a root is never
  // regenerated: a racing second generation loses and uses the first).
  virtual Result<RootCaRecord> PutRootCaIfAbsent(const RootCaRecord& record) = 0;
  virtual Status RecordIssuedCertificate(const IssuedCertificateRecord& record) = 0;

  // --- Root rotation (SPEC §5.5) ------------------------------------------------------------------------
  // The rotation is kept with the root it replaces, so that every step is one atomic write and a hub killed at any
  // moment resumes in the phase it had reached.
  // The rotation of a VirtualMesh's root in progress, if any.
  virtual Result<std::optional<RootRotationRecord>> GetRootRotation(const std::string& virtual_mesh) = 0;
  // Starts a rotation of the VirtualMesh's root (which must exist, else kNotFound) to `record.next`. Fails with
  // kConflict, changing nothing, when a rotation is in progress already.
  virtual Status StartRootRotation(const RootRotationRecord& record) = 0;
  // Compare-and-swap of the phase: kConflict unless the rotation in progress is in phase `from` (kNotFound when there
  // is none). `now` becomes phase_since.
  virtual Status SetRootRotationPhase(const std::string& virtual_mesh, const std::string& from, const std::string& to,
                                      TimePoint now) = 0;
  // Ends the rotation in progress, which must be in phase `from` (kConflict otherwise, kNotFound without one):
  // `completed` makes `next` the VirtualMesh's root (the old root is gone); otherwise (rolled back) `next` is dropped
  // and the old root stays.
  virtual Status FinishRootRotation(const std::string& virtual_mesh, const std::string& from, bool completed) = 0;
  virtual Result<std::vector<IssuedCertificateRecord>> ListIssuedCertificates() = 0;

  // --- Mesh ownership (SPEC §9) -------------------------------------------------------------------------
  // A mesh name is bound for good to the cluster that first reported it: the binding survives hub restarts and
  // the cluster's deregistration (a deregistered cluster's meshes stay bound to it, so no other cluster can
  // take them over; the same cluster name registered again has them back).
  // Binds `mesh` to `cluster` unless it is bound already; returns the owner in force either way.
  virtual Result<std::string> BindMeshIfAbsent(const std::string& mesh, const std::string& cluster, TimePoint now) = 0;
  virtual Result<std::optional<std::string>> GetMeshOwner(const std::string& mesh) = 0;
  // Every binding: mesh name -> cluster.
  virtual Result<std::map<std::string, std::string>> ListMeshOwners() = 0;

  // --- API objects ------------------------------------------------------------------------------------------
  // Writes `object` with a new, store-wide increasing resourceVersion (returned). With `expected_version`,
  // fails with ErrorCode::kConflict (message starting with kConflict) unless the stored object's resourceVersion is
  // that (0: must not exist).
  virtual Result<StoredObject> PutObject(const StoredObject& object, std::optional<std::int64_t> expected_version) = 0;
  virtual Result<std::optional<StoredObject>> GetObject(const std::string& kind, const std::string& ns,
                                                        const std::string& name) = 0;
  // Every object of a kind, ordered by namespace and name.
  virtual Result<std::vector<StoredObject>> ListObjects(const std::string& kind) = 0;
  // True when something was deleted.
  virtual Result<bool> DeleteObject(const std::string& kind, const std::string& ns, const std::string& name) = 0;

  // --- Change notification -------------------------------------------------------------------------------
  // Calls `listener` (from any thread) after API objects (VirtualMesh, AccessPolicy, Secret) or cluster
  // registrations changed by someone other than this Store — e.g. `kubectl apply` against the Kubernetes
  // store — so that the hub reconciles. Writes made through this Store do not notify (their callers trigger
  // reconciles themselves). The embedded stores have no other writers and never call it.
  virtual void SetChangeListener(std::function<void()> listener) { (void)listener; }

  // --- Settings fixed at init (e.g. the hub name, which agent identities embed) ----------------------
  virtual Result<std::optional<std::string>> GetSetting(const std::string& key) = 0;
  // Stores `value` unless the key has one; returns the value in force either way.
  virtual Result<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) = 0;
};

using StorePtr = std::unique_ptr<Store>;

// Opens or creates the SQLite store at `path` (mode 0600, WAL), migrating its schema to the current version.
// Refuses a database written by a newer vmesh (schema version above what this build knows).
Result<StorePtr> OpenSqliteStore(const std::string& path);

// The schema version this build writes.
int CurrentSchemaVersion();

}  // namespace vmesh::hub
