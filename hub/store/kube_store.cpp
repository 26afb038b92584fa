// The Kubernetes store: see kube_store.h for the mapping. What each call writes, and what an interrupted call
// leaves behind (there are no transactions across objects: every write is one object, conditioned on the
// resourceVersion it read where two hubs could race):
//
//   RegisterCluster     1. Cluster CR created (if new), 2. its status reset to REGISTERED (CAS), 3. the token
//                       Secret written. Interrupted after 1 or 2: registered without a usable token; running
//                       `vmeshctl cluster register` again completes it.
//   CompleteBootstrap   1. the token Secret marked used (CAS on the version whose token was checked: of two
//                       hubs racing with one token exactly one wins), 2. the identity appended to the Cluster
//                       status (CAS). When 2 fails the token is put back (CAS). Crash window: a crash between 1 and
//                       2 leaves the token used and no identity recorded. The hub had not answered the agent (it
//                       answers after this call), so no certificate is in use, and a cluster without an identity
//                       may be registered again (`vmeshctl cluster register` gives a new token).
//                       A RegisterCluster racing a CompleteBootstrap of the cluster's previous token can end with the
//                       identity recorded and a new token stored (SQLite would have refused the registration): step 2
//                       refuses a cluster that has an identity already, so that token bootstraps nothing.
//   DeregisterCluster   1. the token Secret deleted, 2. the status DEREGISTERED with every identity revoked (CAS).
//                       Interrupted after 1: deregister again completes it.
//   BindMeshIfAbsent    1. the binding added to the mesh-owners ConfigMap (CAS: the first binding wins), 2. the
//                       owner's status.meshCount recounted (CAS). A missed 2 is repaired by the cluster's next
//                       binding or registration.
//   ReplaceStoredKeys   reads every key first (nothing is written unless all hold the expected value), then one
//                       CAS per Secret. A run interrupted between the writes has replaced some keys; running it
//                       again (SealKeysAtRest recomputes what is left to seal) completes it. Old values stay in
//                       etcd's history until it is compacted: use the API server's encryption at rest.
//   everything else     one write (create, or CAS with retries on 409).
//
// Store-level locking is not needed: the API server serializes writes per object and every read-modify-write is a
// CAS. Transient API errors (429, 5xx, transport) are not retried here: the caller sees them, naming the object.
#include "hub/store/kube_store.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "common/base/base64.h"
#include "common/base/json_fields.h"
#include "common/base/time.h"
#include "common/kube/informer.h"
#include "common/kube/run_task.h"
#include "common/pki/aead.h"
#include "common/pki/openssl_util.h"
#include "hub/store/kube_objects.h"
#include "hub/store/store_errors.h"
#include "vmesh/api/v1/certificate.pb.h"
#include "vmesh/api/v1/discovery.pb.h"

namespace vmesh::hub {
namespace {

namespace json = boost::json;
using kube::ApiResponse;
using store_errors::FromMillis;
using store_errors::ToMillis;

constexpr char kApiVersion[] = "networking.vmesh.dev/v1";
constexpr char kGroup[] = "networking.vmesh.dev";
constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
constexpr char kManagedBy[] = "vmesh-hub";
// Which store record a Secret or ConfigMap is (the object table leaves these alone: they are not API objects).
constexpr char kRecordLabel[] = "networking.vmesh.dev/store-record";
constexpr char kClusterLabel[] = "networking.vmesh.dev/cluster";
constexpr char kVirtualMeshAnnotation[] = "networking.vmesh.dev/virtual-mesh";
constexpr char kSourceAnnotation[] = "networking.vmesh.dev/source";
constexpr char kCreatedAtAnnotation[] = "networking.vmesh.dev/created-at";
// A root rotation in progress is kept in the root's Secret (so each step is one CAS): these annotations and the
// data keys next-root-cert.pem, next-key.pem, next-cert-chain.pem (the root rotated to).
constexpr char kRotationPhaseAnnotation[] = "networking.vmesh.dev/rotation-phase";
constexpr char kRotationReasonAnnotation[] = "networking.vmesh.dev/rotation-reason";
constexpr char kRotationStartedAnnotation[] = "networking.vmesh.dev/rotation-started-at";
constexpr char kRotationPhaseSinceAnnotation[] = "networking.vmesh.dev/rotation-phase-since";
constexpr char kRotationNextSourceAnnotation[] = "networking.vmesh.dev/rotation-next-source";
constexpr char kRotationNextCreatedAnnotation[] = "networking.vmesh.dev/rotation-next-created-at";
constexpr const char* kRotationAnnotations[] = {kRotationPhaseAnnotation,      kRotationReasonAnnotation,
                                                kRotationStartedAnnotation,    kRotationPhaseSinceAnnotation,
                                                kRotationNextSourceAnnotation, kRotationNextCreatedAnnotation};
constexpr const char* kRotationDataKeys[] = {"next-root-cert.pem", "next-key.pem", "next-cert-chain.pem"};

constexpr char kLinkCaSecret[] = "vmesh-link-ca";
constexpr char kSettingsConfigMap[] = "vmesh-hub-settings";
constexpr char kMeshOwnersConfigMap[] = "vmesh-mesh-owners";
constexpr char kAdminConfigMap[] = "vmesh-admin-credentials";

// Read-modify-write attempts before a CAS loop gives up (each 409 means another writer made progress).
constexpr int kMaxAttempts = 16;

// The custom resources (plurals) the store needs; the last two are the object table's.
constexpr const char* kCrdPlurals[] = {"clusters", "issuedcertificates", "virtualmeshes", "accesspolicies"};

// Compares token hashes in time independent of where they differ.
bool SameHash(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

ErrorCode CodeOf(int http_status) {
  switch (http_status) {
    case 400:
    case 422:
      return ErrorCode::kInvalidArgument;
    case 401:
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kConflict;
    case 429:
      return ErrorCode::kUnavailable;
    default:
      return http_status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInternal;
  }
}

// "Secret vmesh/vmesh-link-ca: 500 Internal Server Error: <the API server's message>".
Error ApiError(const std::string& what, const ApiResponse& r) {
  return MakeError("Kubernetes store: " + what + ": " + r.Describe(), CodeOf(r.status));
}

google::protobuf::Timestamp ToTimestamp(TimePoint t) {
  const std::int64_t ms = ToMillis(t);
  google::protobuf::Timestamp ts;
  std::int64_t seconds = ms / 1000, rest = ms % 1000;
  if (rest < 0) {
    rest += 1000;
    --seconds;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int>(rest * 1'000'000));
  return ts;
}

TimePoint FromTimestamp(const google::protobuf::Timestamp& ts) {
  return FromMillis(ts.seconds() * 1000 + ts.nanos() / 1'000'000);
}

std::string FormatMillis(TimePoint t) { return FormatRfc3339(FromMillis(ToMillis(t)), 3); }

Result<TimePoint> ParseMillis(const std::string& text) {
  auto t = ParseRfc3339(text);
  if (!t.ok()) return t.error();
  return FromMillis(ToMillis(*t));
}

Result<json::value> ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  if (auto s = google::protobuf::util::MessageToJsonString(message, &out, options); !s.ok()) {
    return MakeError(std::string(s.message()), ErrorCode::kInternal);
  }
  return json::parse(out);
}

Status FromJson(const json::value& value, google::protobuf::Message& message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // written by a newer hub, or by hand
  if (auto s = google::protobuf::util::JsonStringToMessage(json::serialize(value), &message, options); !s.ok()) {
    return MakeError(std::string(s.message()), ErrorCode::kInternal);
  }
  return OkStatus();
}

json::object Labels(std::initializer_list<std::pair<std::string, std::string>> extra = {}) {
  json::object labels{{kManagedByLabel, kManagedBy}};
  for (const auto& [k, v] : extra) labels[k] = v;
  return labels;
}

// The Secret data (base64-decoded) of a Secret object.
std::map<std::string, std::string> SecretData(const json::value& secret) {
  std::map<std::string, std::string> out;
  if (!secret.is_object()) return out;
  for (const auto& [k, v] : jsonf::StrMap(jsonf::Obj(secret.get_object(), "data"))) {
    if (auto decoded = Base64Decode(v)) out[k] = std::move(*decoded);
  }
  return out;
}

json::object EncodeData(const std::map<std::string, std::string>& data) {
  json::object out;
  for (const auto& [k, v] : data) out[k] = Base64Encode(v);
  return out;
}

ClusterState StateOf(api::v1::ClusterState s) {
  switch (s) {
    case api::v1::CONNECTED:
      return ClusterState::kConnected;
    case api::v1::DISCONNECTED:
      return ClusterState::kDisconnected;
    case api::v1::DEREGISTERED:
      return ClusterState::kDeregistered;
    default:
      return ClusterState::kRegistered;
  }
}

// A Cluster custom resource as read: the object (for its metadata) and its status as the proto.
struct ClusterObject {
  json::object object;
  api::v1::ClusterStatus status;
};

ClusterRecord ToRecord(const ClusterObject& c) {
  const api::v1::ClusterStatus& st = c.status;
  ClusterRecord r;
  r.name = jsonf::Name(c.object);
  r.state = StateOf(st.state());
  if (st.has_registered_at()) {
    r.registered_at = FromTimestamp(st.registered_at());
  } else if (auto created = ParseMillis(jsonf::StrAt(c.object, {"metadata", "creationTimestamp"})); created.ok()) {
    r.registered_at = *created;  // created (by kubectl, or a RegisterCluster cut short) before any status
  }
  r.agent_version = st.agent_version();
  r.identity_serial = st.identity_serial();
  if (st.has_identity_not_after()) r.identity_not_after = FromTimestamp(st.identity_not_after());
  if (st.has_connected_since()) r.connected_since = FromTimestamp(st.connected_since());
  if (st.has_last_heartbeat()) r.last_heartbeat = FromTimestamp(st.last_heartbeat());
  return r;
}

const api::v1::ClusterIdentity* FindIdentity(const api::v1::ClusterStatus& st, const std::string& serial) {
  for (const auto& i : st.identities()) {
    if (i.serial() == serial) return &i;
  }
  return nullptr;
}

// Appends `identity` (the cluster's newest) to the status. Revoked identities that expired before it became valid
// are dropped, so that the record does not grow without bound with renewals.
Status AppendIdentity(api::v1::ClusterStatus& st, const IssuedIdentity& identity) {
  if (FindIdentity(st, identity.serial) != nullptr) {
    return MakeError("identity serial " + identity.serial + " already recorded", ErrorCode::kConflict);
  }
  auto* ids = st.mutable_identities();
  const std::int64_t valid_from = ToMillis(identity.not_before);
  for (int i = ids->size() - 1; i >= 0; --i) {
    const auto& old = ids->Get(i);
    if (old.has_revoked_at() && ToMillis(FromTimestamp(old.not_after())) < valid_from) ids->DeleteSubrange(i, 1);
  }
  api::v1::ClusterIdentity* id = ids->Add();
  id->set_serial(identity.serial);
  *id->mutable_not_before() = ToTimestamp(identity.not_before);
  *id->mutable_not_after() = ToTimestamp(identity.not_after);
  id->set_public_key_fingerprint(identity.public_key_fingerprint);
  st.set_identity_serial(identity.serial);
  *st.mutable_identity_not_after() = ToTimestamp(identity.not_after);
  return OkStatus();
}

// A bootstrap token Secret as read.
struct TokenObject {
  json::object object;
  std::string hash;  // opened
  std::int64_t expires_at_ms = 0;
  std::optional<std::int64_t> used_at_ms;
};

json::value AdminToJson(const AdminCredential& c) {
  json::object o{{"serial", c.serial},
                 {"notAfter", FormatMillis(c.not_after)},
                 {"publicKeyFingerprint", c.public_key_fingerprint},
                 {"createdAt", FormatMillis(c.created_at)}};
  if (c.revoked_at) o["revokedAt"] = FormatMillis(*c.revoked_at);
  if (!c.replaced_by.empty()) o["replacedBy"] = c.replaced_by;
  return o;
}

Result<AdminCredential> AdminFromJson(const std::string& key, const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return MakeError("admin credential " + key + ": not a JSON object", ErrorCode::kInternal);
  const json::object& o = v.get_object();
  AdminCredential c;
  c.serial = jsonf::Str(o, "serial");
  auto not_after = ParseMillis(jsonf::Str(o, "notAfter"));
  auto created = ParseMillis(jsonf::Str(o, "createdAt"));
  if (c.serial.empty() || !not_after.ok() || !created.ok()) {
    return MakeError("admin credential " + key + ": serial, notAfter and createdAt are required", ErrorCode::kInternal);
  }
  c.not_after = *not_after;
  c.created_at = *created;
  c.public_key_fingerprint = jsonf::Str(o, "publicKeyFingerprint");
  if (std::string revoked = jsonf::Str(o, "revokedAt"); !revoked.empty()) {
    auto t = ParseMillis(revoked);
    if (!t.ok()) return t.error().Wrap("admin credential " + key + ": revokedAt");
    c.revoked_at = *t;
  }
  c.replaced_by = jsonf::Str(o, "replacedBy");
  return c;
}

// The Secret of a VirtualMesh's root: readable (namespace-name, lowercased, other characters as '-') and bounded
// (63 characters) with a hash of the key, so that distinct VirtualMeshes never share a name ("a-b/c" and "a/b-c").
std::string RootSecretName(const std::string& virtual_mesh) {
  std::string readable;
  for (char c : virtual_mesh) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    readable += (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') ? l : '-';
  }
  auto hash = pki::Sha256Hex(virtual_mesh);
  const std::string suffix = hash.ok() ? hash->substr(0, 10) : "0000000000";
  constexpr size_t kPrefix = sizeof("vmesh-root-") - 1;
  readable = readable.substr(0, 63 - kPrefix - 1 - suffix.size());
  while (!readable.empty() && readable.back() == '-') readable.pop_back();
  return "vmesh-root-" + (readable.empty() ? "" : readable + "-") + suffix;
}

// IssuedCertificate CRs are named by serial (names are lowercase).
std::string CertificateName(const std::string& serial) {
  std::string name = serial;
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

class KubeStore final : public Store {
 public:
  KubeStore(kube::KubeClientPtr client, KubeStoreOptions options)
      : client_(std::move(client)),
        opts_(std::move(options)),
        ns_(opts_.hub_namespace),
        objects_(MakeKubeObjectTable(*client_, opts_.hub_namespace)) {}

  ~KubeStore() override {
    stop_ = true;
    watch_io_.stop();
    if (watch_thread_.joinable()) watch_thread_.join();
    objects_->Stop();
  }

  Status Open() {
    if (Status s = CheckCrds(); !s.ok()) return s;
    if (Status s = objects_->Start(); !s.ok()) return s;
    StartClusterWatch();
    return OkStatus();
  }

  // --- Registration -------------------------------------------------------------------------------------

  Status RegisterCluster(const std::string& name, const std::string& token_hash, TimePoint token_expires,
                         TimePoint now) override {
    auto owners = ReadConfigMap(kMeshOwnersConfigMap);
    if (!owners.ok()) return owners.error();
    const int mesh_count = static_cast<int>(
        std::count_if(owners->begin(), owners->end(), [&](const auto& kv) { return kv.second == name; }));
    for (int attempt = 0;; ++attempt) {
      if (attempt == kMaxAttempts) return TooManyConflicts(ClusterWhat(name));
      auto c = ReadCluster(name);
      if (!c.ok()) return c.error();
      if (!c->has_value()) {
        json::object cr{{"apiVersion", kApiVersion},
                        {"kind", "Cluster"},
                        {"metadata", {{"name", name}, {"namespace", ns_}, {"labels", Labels()}}},
                        {"spec", json::object()}};
        auto created = Call(ClusterWhat(name), client_->Create(Collection(kApiVersion, "clusters"), cr));
        if (!created.ok()) return created.error();
        if (created->status == 409) continue;  // created by a racing registration: start over
        if (!created->ok()) return ApiError(ClusterWhat(name), *created);
        c = std::optional<ClusterObject>(ClusterObject{created->body.get_object(), {}});
      }
      ClusterObject& cluster = **c;
      if (cluster.status.state() != api::v1::DEREGISTERED && !cluster.status.identity_serial().empty()) {
        return store_errors::AlreadyBootstrapped(name);
      }
      // Not bootstrapped yet (or deregistered): start over. Old identities stay (revoked) in the record.
      api::v1::ClusterStatus next;
      next.set_state(api::v1::REGISTERED);
      *next.mutable_registered_at() = ToTimestamp(now);
      next.set_mesh_count(mesh_count);
      *next.mutable_identities() = cluster.status.identities();
      auto written = WriteClusterStatus(cluster, next);
      if (!written.ok()) return written.error();
      if (*written) break;
    }
    // The token: created, or replacing the cluster's previous one (whatever its state).
    auto hash = SealTokenHash(name, token_hash);
    if (!hash.ok()) return hash.error();
    json::object secret = TokenSecret(
        name, {{"token-hash", *hash}, {"created-at", FormatMillis(now)}, {"expires-at", FormatMillis(token_expires)}});
    const std::string what = SecretWhat(TokenSecretName(name));
    auto created = Call(what, client_->Create(Collection("v1", "secrets"), secret));
    if (!created.ok()) return created.error();
    if (created->ok()) return OkStatus();
    if (created->status != 409) return ApiError(what, *created);
    auto replaced = Call(what, client_->Update(Path("v1", "secrets", TokenSecretName(name)), secret));
    if (!replaced.ok()) return replaced.error();
    if (!replaced->ok()) return ApiError(what, *replaced);
    return OkStatus();
  }

  Status CheckBootstrapToken(const std::string& cluster, const std::string& token_hash, TimePoint now) override {
    auto token = CheckToken(cluster, token_hash, now);
    if (!token.ok()) return token.error();
    return OkStatus();
  }

  Status CompleteBootstrap(const std::string& cluster, const std::string& token_hash, const IssuedIdentity& identity,
                           TimePoint now) override {
    auto token = CheckToken(cluster, token_hash, now);
    if (!token.ok()) return token.error();
    // 1. Consume: the update is conditioned on the version whose token was checked, so of two racing hubs exactly
    // one succeeds; the other gets 409 (or 404 when the token was replaced or dropped meanwhile).
    const std::string what = SecretWhat(TokenSecretName(cluster));
    json::object used = token->object;
    EnsureData(used)["used-at"] = Base64Encode(FormatMillis(now));
    auto consumed = Call(what, client_->Update(Path("v1", "secrets", TokenSecretName(cluster)), used));
    if (!consumed.ok()) return consumed.error();
    if (consumed->status == 409 || consumed->status == 404) return store_errors::TokenConsumed(cluster);
    if (!consumed->ok()) return ApiError(what, *consumed);
    // 2. Record the identity (of a registration that has none yet: RegisterCluster clears it).
    Status recorded = UpdateClusterStatus(cluster, store_errors::NotRegistered(cluster),
                                          [&](api::v1::ClusterStatus& st) -> Result<bool> {
                                            if (st.state() == api::v1::DEREGISTERED)
                                              return store_errors::NotRegistered(cluster);
                                            if (!st.identity_serial().empty())
                                              return store_errors::AlreadyBootstrapped(cluster);
                                            if (Status s = AppendIdentity(st, identity); !s.ok()) return s.error();
                                            return true;
                                          });
    if (recorded.ok()) return OkStatus();
    // Put the token back (unless someone changed it since), so that the call changed nothing.
    json::object restored = consumed->body.get_object();
    EnsureData(restored).erase("used-at");
    auto back = Call(what, client_->Update(Path("v1", "secrets", TokenSecretName(cluster)), restored));
    if (!back.ok() || !back->ok()) {
      return recorded.error().Wrap("the bootstrap token of cluster " + cluster +
                                   " was used but no identity was recorded (run `vmeshctl cluster register " + cluster +
                                   "` for a new token)");
    }
    return recorded;
  }

  Status RecordIdentity(const IssuedIdentity& identity) override {
    const std::string& cluster = identity.cluster;
    return UpdateClusterStatus(cluster, store_errors::NotRegistered(cluster),
                               [&](api::v1::ClusterStatus& st) -> Result<bool> {
                                 if (st.state() == api::v1::DEREGISTERED) return store_errors::NotRegistered(cluster);
                                 if (Status s = AppendIdentity(st, identity); !s.ok()) return s.error();
                                 return true;
                               });
  }

  Status CheckIdentity(const std::string& cluster, const std::string& serial) override {
    auto c = ReadCluster(cluster);
    if (!c.ok()) return c.error();
    const api::v1::ClusterIdentity* id = c->has_value() ? FindIdentity((*c)->status, serial) : nullptr;
    if (id == nullptr) {
      // Not this cluster's: whose, if anybody's (only on this failure path)?
      auto all = ListClusterObjects();
      if (!all.ok()) return all.error();
      for (const auto& other : *all) {
        if (FindIdentity(other.status, serial) != nullptr) {
          return store_errors::SerialOfAnotherCluster(serial, jsonf::Name(other.object), cluster);
        }
      }
      return store_errors::SerialNotIssued(serial);
    }
    if ((*c)->status.state() == api::v1::DEREGISTERED) return store_errors::ClusterDeregistered(cluster);
    if (id->has_revoked_at()) return store_errors::SerialRevoked(serial, cluster);
    return OkStatus();
  }

  Result<int> RevokeIdentitiesBefore(const std::string& cluster, const std::string& serial, TimePoint now) override {
    int revoked = 0;
    Status s = UpdateClusterStatus(cluster, std::nullopt, [&](api::v1::ClusterStatus& st) -> Result<bool> {
      revoked = 0;
      auto* ids = st.mutable_identities();
      auto until = std::find_if(ids->begin(), ids->end(), [&](const auto& i) { return i.serial() == serial; });
      if (until == ids->end()) return false;
      for (auto it = ids->begin(); it != until; ++it) {
        if (!it->has_revoked_at()) {
          *it->mutable_revoked_at() = ToTimestamp(now);
          ++revoked;
        }
      }
      return revoked > 0;
    });
    if (!s.ok()) return s.error();
    return revoked;
  }

  Status DeregisterCluster(const std::string& name, TimePoint now) override {
    auto c = ReadCluster(name);
    if (!c.ok()) return c.error();
    if (!c->has_value()) return store_errors::NotRegistered(name);
    if ((*c)->status.state() == api::v1::DEREGISTERED) return store_errors::AlreadyDeregistered(name);
    // The token first: interrupted after this, the cluster is still registered and deregistering again completes.
    const std::string what = SecretWhat(TokenSecretName(name));
    auto deleted = Call(what, client_->Delete(Path("v1", "secrets", TokenSecretName(name))));
    if (!deleted.ok()) return deleted.error();
    if (!deleted->ok() && deleted->status != 404) return ApiError(what, *deleted);
    return UpdateClusterStatus(name, store_errors::NotRegistered(name),
                               [&](api::v1::ClusterStatus& st) -> Result<bool> {
                                 if (st.state() == api::v1::DEREGISTERED) {
                                   return store_errors::AlreadyDeregistered(name);
                                 }
                                 for (auto& id : *st.mutable_identities()) {
                                   if (!id.has_revoked_at()) *id.mutable_revoked_at() = ToTimestamp(now);
                                 }
                                 st.set_state(api::v1::DEREGISTERED);
                                 *st.mutable_deregistered_at() = ToTimestamp(now);
                                 st.clear_connected_since();
                                 return true;
                               });
  }

  // --- Cluster status -----------------------------------------------------------------------------------

  Result<std::optional<ClusterRecord>> GetCluster(const std::string& name) override {
    auto c = ReadCluster(name);
    if (!c.ok()) return c.error();
    if (!c->has_value()) return std::optional<ClusterRecord>();
    return std::optional<ClusterRecord>(ToRecord(**c));
  }

  Result<std::vector<ClusterRecord>> ListClusters() override {
    auto all = ListClusterObjects();
    if (!all.ok()) return all.error();
    std::vector<ClusterRecord> out;
    for (const auto& c : *all) out.push_back(ToRecord(c));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  }

  Status MarkConnected(const std::string& name, const std::string& agent_version, TimePoint now) override {
    return UpdateClusterStatus(name, std::nullopt, [&](api::v1::ClusterStatus& st) -> Result<bool> {
      if (st.state() == api::v1::DEREGISTERED) return false;
      st.set_state(api::v1::CONNECTED);
      st.set_agent_version(agent_version);
      *st.mutable_connected_since() = ToTimestamp(now);
      *st.mutable_last_heartbeat() = ToTimestamp(now);
      return true;
    });
  }

  Status MarkHeartbeat(const std::string& name, TimePoint now) override {
    return UpdateClusterStatus(name, std::nullopt, [&](api::v1::ClusterStatus& st) -> Result<bool> {
      if (st.state() == api::v1::DEREGISTERED) return false;
      *st.mutable_last_heartbeat() = ToTimestamp(now);
      return true;
    });
  }

  Status MarkDisconnected(const std::string& name, TimePoint now) override {
    return UpdateClusterStatus(name, std::nullopt, [&](api::v1::ClusterStatus& st) -> Result<bool> {
      if (st.state() != api::v1::CONNECTED) return false;
      st.set_state(api::v1::DISCONNECTED);
      st.clear_connected_since();
      if (!st.has_last_heartbeat()) *st.mutable_last_heartbeat() = ToTimestamp(now);
      return true;
    });
  }

  // --- Link CA ------------------------------------------------------------------------------------------

  Result<std::optional<LinkCaMaterial>> GetLinkCa() override {
    auto secret = ReadSecret(kLinkCaSecret);
    if (!secret.ok()) return secret.error();
    if (!secret->has_value()) return std::optional<LinkCaMaterial>();
    auto data = SecretData(**secret);
    return std::optional<LinkCaMaterial>(LinkCaMaterial{data["ca.crt"], data["ca.key"]});
  }

  Status PutLinkCa(const LinkCaMaterial& material) override {
    json::object secret{
        {"apiVersion", "v1"},
        {"kind", "Secret"},
        {"metadata", {{"name", kLinkCaSecret}, {"namespace", ns_}, {"labels", Labels({{kRecordLabel, "link-ca"}})}}},
        {"type", "vmesh.dev/link-ca"},
        {"data", EncodeData({{"ca.crt", material.certificate_pem}, {"ca.key", material.key_pem}})}};
    const std::string what = SecretWhat(kLinkCaSecret);
    auto created = Call(what, client_->Create(Collection("v1", "secrets"), secret));
    if (!created.ok()) return created.error();
    if (created->status == 409) return store_errors::LinkCaExists();
    if (!created->ok()) return ApiError(what, *created);
    return OkStatus();
  }

  Status ReplaceStoredKeys(const std::vector<StoredKeyUpdate>& updates) override {
    struct Pending {
      std::string secret;
      std::string data_key;
      json::object object;
      const StoredKeyUpdate* update;
    };
    // Everything is checked before anything is written.
    std::vector<Pending> pending;
    for (const auto& u : updates) {
      const bool link = u.virtual_mesh.empty();
      const std::string name = link ? kLinkCaSecret : RootSecretName(u.virtual_mesh);
      auto secret = ReadSecret(name);
      if (!secret.ok()) return secret.error();
      if (!secret->has_value()) return store_errors::KeyChanged(u.virtual_mesh);
      json::object& object = (*secret)->get_object();
      if (!link && jsonf::Annotations(object)[kVirtualMeshAnnotation] != u.virtual_mesh) {
        return store_errors::KeyChanged(u.virtual_mesh);
      }
      const std::string data_key = link ? "ca.key" : "key.pem";
      if (SecretData(object)[data_key] != u.expected_key_pem) return store_errors::KeyChanged(u.virtual_mesh);
      pending.push_back({name, data_key, std::move(object), &u});
    }
    // One CAS per Secret. A failure after the first write leaves the earlier keys replaced: the error says so.
    for (size_t i = 0; i < pending.size(); ++i) {
      Pending& p = pending[i];
      EnsureData(p.object)[p.data_key] = Base64Encode(p.update->key_pem);
      const std::string what = SecretWhat(p.secret);
      auto written = Call(what, client_->Update(Path("v1", "secrets", p.secret), p.object));
      if (written.ok() && written->ok()) continue;
      const bool changed = written.ok() && (written->status == 409 || written->status == 404);
      if (i == 0) {  // nothing written yet
        if (changed) return store_errors::KeyChanged(p.update->virtual_mesh);
        return written.ok() ? ApiError(what, *written) : written.error();
      }
      return MakeError("replacing stored keys stopped at " + what + " with " + std::to_string(i) + " of " +
                           std::to_string(pending.size()) + " keys replaced (run it again to replace the rest): " +
                           (changed        ? std::string("it changed meanwhile")
                            : written.ok() ? written->Describe()
                                           : written.error().message),
                       changed ? ErrorCode::kConflict : ErrorCode::kUnavailable);
    }
    return OkStatus();
  }

  // --- Admin credentials ----------------------------------------------------------------------------------

  Status AddAdminCredential(const AdminCredential& credential) override {
    return UpdateConfigMap(kAdminConfigMap, [&](std::map<std::string, std::string>& data) -> Result<bool> {
      if (Status s = InsertAdmin(data, credential); !s.ok()) return s.error();
      return true;
    });
  }

  Result<std::vector<AdminCredential>> ListAdminCredentials() override {
    auto data = ReadConfigMap(kAdminConfigMap);
    if (!data.ok()) return data.error();
    std::vector<AdminCredential> out;
    for (const auto& [key, value] : *data) {
      auto c = AdminFromJson(key, value);
      if (!c.ok()) return c.error().Wrap(ConfigMapWhat(kAdminConfigMap));
      out.push_back(std::move(*c));
    }
    std::stable_sort(out.begin(), out.end(), [](const AdminCredential& a, const AdminCredential& b) {
      return std::tie(a.created_at, a.serial) < std::tie(b.created_at, b.serial);
    });
    return out;
  }

  Status CheckAdminCredential(const std::string& serial) override {
    auto data = ReadConfigMap(kAdminConfigMap);
    if (!data.ok()) return data.error();
    return CheckAdmin(*data, serial);
  }

  Status RotateAdminCredential(const std::string& old_serial, const AdminCredential& replacement,
                               TimePoint now) override {
    // One ConfigMap write: the replacement is pinned and the old one revoked together, or neither.
    return UpdateConfigMap(kAdminConfigMap, [&](std::map<std::string, std::string>& data) -> Result<bool> {
      if (Status s = CheckAdmin(data, old_serial); !s.ok()) return s.error();
      if (Status s = InsertAdmin(data, replacement); !s.ok()) return s.error();
      auto old = AdminFromJson(old_serial, data[old_serial]);
      if (!old.ok()) return old.error();
      old->revoked_at = FromMillis(ToMillis(now));
      old->replaced_by = replacement.serial;
      data[old_serial] = json::serialize(AdminToJson(*old));
      return true;
    });
  }

  // --- VirtualMesh root CAs and issued intermediates --------------------------------------------------

  Result<std::optional<RootCaRecord>> GetRootCa(const std::string& virtual_mesh) override {
    auto secret = ReadSecret(RootSecretName(virtual_mesh));
    if (!secret.ok()) return secret.error();
    if (!secret->has_value()) return std::optional<RootCaRecord>();
    auto root = RootFromSecret(**secret);
    if (!root.ok()) return root.error();
    if (root->virtual_mesh != virtual_mesh) {
      return MakeError("Kubernetes store: " + SecretWhat(RootSecretName(virtual_mesh)) + " holds the root of " +
                           root->virtual_mesh + ", not of " + virtual_mesh,
                       ErrorCode::kInternal);
    }
    return std::optional<RootCaRecord>(std::move(*root));
  }

  Result<std::vector<RootCaRecord>> ListRootCas() override {
    const std::string what = "Secrets " + ns_ + " (" + kRecordLabel + "=root-ca)";
    auto list = Call(
        what, client_->List(Collection("v1", "secrets"), std::string("labelSelector=") + kRecordLabel + "%3Droot-ca"));
    if (!list.ok()) return list.error();
    if (!list->ok()) return ApiError(what, *list);
    std::vector<RootCaRecord> out;
    if (const json::array* items = jsonf::Arr(list->body.if_object(), "items")) {
      for (const auto& item : *items) {
        auto root = RootFromSecret(item);
        if (!root.ok()) return root.error();
        out.push_back(std::move(*root));
      }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.virtual_mesh < b.virtual_mesh; });
    return out;
  }

  Result<RootCaRecord> PutRootCaIfAbsent(const RootCaRecord& record) override {
    const std::string name = RootSecretName(record.virtual_mesh);
    std::map<std::string, std::string> data{{"root-cert.pem", record.certificate_pem}, {"key.pem", record.key_pem}};
    if (!record.chain_pem.empty()) data["cert-chain.pem"] = record.chain_pem;
    json::object secret{{"apiVersion", "v1"},
                        {"kind", "Secret"},
                        {"metadata",
                         {{"name", name},
                          {"namespace", ns_},
                          {"labels", Labels({{kRecordLabel, "root-ca"}})},
                          {"annotations",
                           {{kVirtualMeshAnnotation, record.virtual_mesh},
                            {kSourceAnnotation, record.source},
                            {kCreatedAtAnnotation, FormatMillis(record.created_at)}}}}},
                        {"type", "vmesh.dev/root-ca"},
                        {"data", EncodeData(data)}};
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      auto created = Call(SecretWhat(name), client_->Create(Collection("v1", "secrets"), secret));
      if (!created.ok()) return created.error();
      if (created->ok()) return record;  // as the SQLite store: the caller's record
      if (created->status != 409) return ApiError(SecretWhat(name), *created);
      // Another hub stored one first: the root in force is that one.
      auto existing = GetRootCa(record.virtual_mesh);
      if (!existing.ok()) return existing.error();
      if (existing->has_value()) return **existing;
    }
    return TooManyConflicts(SecretWhat(name));
  }

  // --- Root rotation ----------------------------------------------------------------------------------------

  Result<std::optional<RootRotationRecord>> GetRootRotation(const std::string& virtual_mesh) override {
    auto secret = ReadSecret(RootSecretName(virtual_mesh));
    if (!secret.ok()) return secret.error();
    if (!secret->has_value()) return std::optional<RootRotationRecord>();
    return RotationFromSecret(virtual_mesh, **secret);
  }

  Status StartRootRotation(const RootRotationRecord& r) override {
    return MutateRootSecret(
        r.virtual_mesh, store_errors::NoRootToRotate(r.virtual_mesh), [&](json::object& secret) -> Status {
          auto existing = RotationFromSecret(r.virtual_mesh, secret);
          if (!existing.ok()) return Status(existing.error());
          if (existing->has_value())
            return Status(store_errors::RotationInProgress(r.virtual_mesh, (*existing)->phase));
          json::object& annotations = jsonf::Ensure(jsonf::Ensure(secret, "metadata"), "annotations");
          annotations[kRotationPhaseAnnotation] = r.phase;
          annotations[kRotationReasonAnnotation] = r.reason;
          annotations[kRotationStartedAnnotation] = FormatMillis(r.started_at);
          annotations[kRotationPhaseSinceAnnotation] = FormatMillis(r.phase_since);
          annotations[kRotationNextSourceAnnotation] = r.next.source;
          annotations[kRotationNextCreatedAnnotation] = FormatMillis(r.next.created_at);
          json::object& data = EnsureData(secret);
          data["next-root-cert.pem"] = Base64Encode(r.next.certificate_pem);
          data["next-key.pem"] = Base64Encode(r.next.key_pem);
          if (!r.next.chain_pem.empty()) data["next-cert-chain.pem"] = Base64Encode(r.next.chain_pem);
          return OkStatus();
        });
  }

  Status SetRootRotationPhase(const std::string& virtual_mesh, const std::string& from, const std::string& to,
                              TimePoint now) override {
    return MutateRootSecret(virtual_mesh, store_errors::NoRotation(virtual_mesh), [&](json::object& secret) -> Status {
      if (Status s = CheckRotationPhase(virtual_mesh, secret, from); !s.ok()) return s;
      json::object& annotations = jsonf::Ensure(jsonf::Ensure(secret, "metadata"), "annotations");
      annotations[kRotationPhaseAnnotation] = to;
      annotations[kRotationPhaseSinceAnnotation] = FormatMillis(now);
      return OkStatus();
    });
  }

  Status FinishRootRotation(const std::string& virtual_mesh, const std::string& from, bool completed) override {
    return MutateRootSecret(virtual_mesh, store_errors::NoRotation(virtual_mesh), [&](json::object& secret) -> Status {
      if (Status s = CheckRotationPhase(virtual_mesh, secret, from); !s.ok()) return s;
      auto rotation = RotationFromSecret(virtual_mesh, secret);
      if (!rotation.ok()) return Status(rotation.error());
      json::object& annotations = jsonf::Ensure(jsonf::Ensure(secret, "metadata"), "annotations");
      json::object& data = EnsureData(secret);
      if (completed) {
        const RootCaRecord& next = (*rotation)->next;
        data["root-cert.pem"] = Base64Encode(next.certificate_pem);
        data["key.pem"] = Base64Encode(next.key_pem);
        if (next.chain_pem.empty()) {
          data.erase("cert-chain.pem");
        } else {
          data["cert-chain.pem"] = Base64Encode(next.chain_pem);
        }
        annotations[kSourceAnnotation] = next.source;
        annotations[kCreatedAtAnnotation] = FormatMillis(next.created_at);
      }
      for (const char* a : kRotationAnnotations) annotations.erase(a);
      for (const char* k : kRotationDataKeys) data.erase(k);
      return OkStatus();
    });
  }

  Status RecordIssuedCertificate(const IssuedCertificateRecord& r) override {
    api::v1::IssuedCertificateSpec spec;
    spec.set_serial(r.serial);
    spec.set_virtual_mesh(r.virtual_mesh);
    spec.set_mesh(r.mesh);
    spec.set_cluster(r.cluster);
    *spec.mutable_not_before() = ToTimestamp(r.not_before);
    *spec.mutable_not_after() = ToTimestamp(r.not_after);
    spec.set_public_key_fingerprint(r.public_key_fingerprint);
    *spec.mutable_issued_at() = ToTimestamp(r.issued_at);
    auto spec_json = ToJson(spec);
    if (!spec_json.ok()) return spec_json.error();
    const std::string name = CertificateName(r.serial);
    const std::string what = "IssuedCertificate " + ns_ + "/" + name;
    json::object cr{{"apiVersion", kApiVersion},
                    {"kind", "IssuedCertificate"},
                    {"metadata", {{"name", name}, {"namespace", ns_}, {"labels", Labels()}}},
                    {"spec", std::move(*spec_json)}};
    auto created = Call(what, client_->Create(Collection(kApiVersion, "issuedcertificates"), cr));
    if (!created.ok()) return created.error();
    if (created->status == 409) {
      return MakeError("issued certificate serial " + r.serial + " already recorded", ErrorCode::kConflict);
    }
    if (!created->ok()) return ApiError(what, *created);
    return OkStatus();
  }

  Result<std::vector<IssuedCertificateRecord>> ListIssuedCertificates() override {
    const std::string what = "IssuedCertificates in namespace " + ns_;
    auto list = Call(what, client_->List(Collection(kApiVersion, "issuedcertificates")));
    if (!list.ok()) return list.error();
    if (!list->ok()) return ApiError(what, *list);
    std::vector<IssuedCertificateRecord> out;
    if (const json::array* items = jsonf::Arr(list->body.if_object(), "items")) {
      for (const auto& item : *items) {
        api::v1::IssuedCertificateSpec spec;
        const json::value* s = jsonf::At(item, {"spec"});
        if (s == nullptr || !FromJson(*s, spec).ok()) {
          return MakeError("Kubernetes store: IssuedCertificate " + ns_ + "/" +
                               jsonf::StrAt(item, {"metadata", "name"}) + ": spec is not an IssuedCertificateSpec",
                           ErrorCode::kInternal);
        }
        out.push_back({spec.serial(), spec.virtual_mesh(), spec.mesh(), spec.cluster(),
                       FromTimestamp(spec.not_before()), FromTimestamp(spec.not_after()), spec.public_key_fingerprint(),
                       FromTimestamp(spec.issued_at())});
      }
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.issued_at, a.serial) < std::tie(b.issued_at, b.serial);
    });
    return out;
  }

  // --- Mesh ownership -------------------------------------------------------------------------------------

  Result<std::string> BindMeshIfAbsent(const std::string& mesh, const std::string& cluster, TimePoint) override {
    std::string owner;
    int count = 0;
    Status s = UpdateConfigMap(kMeshOwnersConfigMap, [&](std::map<std::string, std::string>& data) -> Result<bool> {
      auto [it, inserted] = data.emplace(mesh, cluster);
      owner = it->second;
      count =
          static_cast<int>(std::count_if(data.begin(), data.end(), [&](const auto& kv) { return kv.second == owner; }));
      return inserted;
    });
    if (!s.ok()) return s.error();
    // Derived, best effort: a missed count is repaired by the owner's next binding or registration.
    (void)UpdateClusterStatus(owner, std::nullopt, [&](api::v1::ClusterStatus& st) -> Result<bool> {
      if (st.mesh_count() == count) return false;
      st.set_mesh_count(count);
      return true;
    });
    return owner;
  }

  Result<std::optional<std::string>> GetMeshOwner(const std::string& mesh) override {
    auto data = ReadConfigMap(kMeshOwnersConfigMap);
    if (!data.ok()) return data.error();
    auto it = data->find(mesh);
    if (it == data->end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  Result<std::map<std::string, std::string>> ListMeshOwners() override { return ReadConfigMap(kMeshOwnersConfigMap); }

  // --- API objects: the object table's ---------------------------------------------------------------------

  Result<StoredObject> PutObject(const StoredObject& object, std::optional<std::int64_t> expected_version) override {
    return objects_->PutObject(object, expected_version);
  }
  Result<std::optional<StoredObject>> GetObject(const std::string& kind, const std::string& ns,
                                                const std::string& name) override {
    return objects_->GetObject(kind, ns, name);
  }
  Result<std::vector<StoredObject>> ListObjects(const std::string& kind) override {
    return objects_->ListObjects(kind);
  }
  Result<bool> DeleteObject(const std::string& kind, const std::string& ns, const std::string& name) override {
    return objects_->DeleteObject(kind, ns, name);
  }

  void SetChangeListener(std::function<void()> listener) override {
    objects_->SetChangeListener(listener);
    std::lock_guard lock(listener_mu_);
    listener_ = std::move(listener);
  }

  // --- Settings -----------------------------------------------------------------------------------------

  Result<std::optional<std::string>> GetSetting(const std::string& key) override {
    auto data = ReadConfigMap(kSettingsConfigMap);
    if (!data.ok()) return data.error();
    auto it = data->find(key);
    if (it == data->end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  Result<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) override {
    std::string in_force;
    Status s = UpdateConfigMap(kSettingsConfigMap, [&](std::map<std::string, std::string>& data) -> Result<bool> {
      auto [it, inserted] = data.emplace(key, value);
      in_force = it->second;
      return inserted;
    });
    if (!s.ok()) return s.error();
    return in_force;
  }

 private:
  // --- Requests -------------------------------------------------------------------------------------------

  std::string Collection(const char* api_version, const char* resource) const {
    return kube::ResourcePath(api_version, resource, ns_);
  }
  std::string Path(const char* api_version, const char* resource, const std::string& name) const {
    return kube::ResourcePath(api_version, resource, ns_, name);
  }
  std::string ClusterWhat(const std::string& name) const { return "Cluster " + ns_ + "/" + name; }
  std::string SecretWhat(const std::string& name) const { return "Secret " + ns_ + "/" + name; }
  std::string ConfigMapWhat(const std::string& name) const { return "ConfigMap " + ns_ + "/" + name; }
  static std::string TokenSecretName(const std::string& cluster) { return "vmesh-bootstrap-" + cluster; }

  // Runs one request to completion; a transport failure becomes an error naming `what`.
  static Result<ApiResponse> Call(const std::string& what, boost::asio::awaitable<Result<ApiResponse>> request) {
    auto r = kube::RunTask(std::move(request));
    if (!r.ok()) return r.error().Wrap("Kubernetes store: " + what).WithDefaultCode(ErrorCode::kUnavailable);
    return r;
  }

  static Error TooManyConflicts(const std::string& what) {
    return MakeError(std::string(kConflict) + ": " + what + " kept changing under " + std::to_string(kMaxAttempts) +
                         " attempts to update it; retry",
                     ErrorCode::kConflict);
  }

  // GET `path`: the object, nullopt for 404, else an error naming `what`.
  Result<std::optional<json::value>> ReadObject(const std::string& what, const std::string& path) {
    auto r = Call(what, client_->Get(path));
    if (!r.ok()) return r.error();
    if (r->status == 404) return std::optional<json::value>();
    if (!r->ok() || !r->body.is_object()) return ApiError(what, *r);
    return std::optional<json::value>(std::move(r->body));
  }

  Result<std::optional<json::value>> ReadSecret(const std::string& name) {
    return ReadObject(SecretWhat(name), Path("v1", "secrets", name));
  }

  static json::object& EnsureData(json::object& secret) { return jsonf::Ensure(secret, "data"); }

  // --- Clusters -------------------------------------------------------------------------------------------

  Result<ClusterObject> ParseCluster(json::object object) const {
    ClusterObject c{std::move(object), {}};
    if (const json::value* st = c.object.if_contains("status"); st != nullptr && st->is_object()) {
      if (Status s = FromJson(*st, c.status); !s.ok()) {
        return s.error().Wrap("Kubernetes store: " + ClusterWhat(jsonf::Name(c.object)) + ": status");
      }
    }
    return c;
  }

  Result<std::optional<ClusterObject>> ReadCluster(const std::string& name) {
    auto object = ReadObject(ClusterWhat(name), Path(kApiVersion, "clusters", name));
    if (!object.ok()) return object.error();
    if (!object->has_value()) return std::optional<ClusterObject>();
    auto c = ParseCluster(std::move((*object)->get_object()));
    if (!c.ok()) return c.error();
    return std::optional<ClusterObject>(std::move(*c));
  }

  Result<std::vector<ClusterObject>> ListClusterObjects() {
    const std::string what = "Clusters in namespace " + ns_;
    auto list = Call(what, client_->List(Collection(kApiVersion, "clusters")));
    if (!list.ok()) return list.error();
    if (!list->ok()) return ApiError(what, *list);
    std::vector<ClusterObject> out;
    if (const json::array* items = jsonf::Arr(list->body.if_object(), "items")) {
      for (const auto& item : *items) {
        if (!item.is_object()) continue;
        auto c = ParseCluster(item.get_object());
        if (!c.ok()) return c.error();
        out.push_back(std::move(*c));
      }
    }
    return out;
  }

  // Writes `status` through the status subresource, conditioned on the version `cluster` was read at. False when
  // someone else wrote the Cluster since (read again and retry).
  Result<bool> WriteClusterStatus(const ClusterObject& cluster, const api::v1::ClusterStatus& status) {
    const std::string name = jsonf::Name(cluster.object);
    auto st = ToJson(status);
    if (!st.ok()) return st.error();
    json::object object = cluster.object;
    object["status"] = std::move(*st);
    const std::string what = ClusterWhat(name) + " status";
    auto r = Call(what, client_->Update(Path(kApiVersion, "clusters", name) + "/status", object));
    if (!r.ok()) return r.error();
    if (r->status == 409 || r->status == 404) return false;  // changed or deleted since: read again
    if (!r->ok()) return ApiError(what, *r);
    return true;
  }

  // Read-modify-write of a Cluster's status with retries on conflicts. `change` edits the status and returns
  // whether it changed anything (false: nothing is written), or an error (nothing is written, the error is
  // returned). A missing Cluster returns `if_missing`, or OK when that is nullopt.
  Status UpdateClusterStatus(const std::string& name, std::optional<Error> if_missing,
                             const std::function<Result<bool>(api::v1::ClusterStatus&)>& change) {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      auto c = ReadCluster(name);
      if (!c.ok()) return c.error();
      if (!c->has_value()) return if_missing ? Status(*if_missing) : OkStatus();
      api::v1::ClusterStatus next = (*c)->status;
      auto changed = change(next);
      if (!changed.ok()) return changed.error();
      if (!*changed) return OkStatus();
      auto written = WriteClusterStatus(**c, next);
      if (!written.ok()) return written.error();
      if (*written) return OkStatus();
    }
    return TooManyConflicts(ClusterWhat(name));
  }

  // --- Bootstrap tokens -------------------------------------------------------------------------------------

  std::string SealContext(const std::string& cluster) const { return "bootstrap-token:" + ns_ + "/" + cluster; }

  Result<std::string> SealTokenHash(const std::string& cluster, const std::string& hash) const {
    if (!opts_.key_encryption_key) return hash;
    auto sealed = pki::Seal(*opts_.key_encryption_key, hash, SealContext(cluster));
    if (!sealed.ok()) return sealed.error().Wrap("sealing the bootstrap token of cluster " + cluster);
    return std::move(*sealed);
  }

  json::object TokenSecret(const std::string& cluster, const std::map<std::string, std::string>& data) const {
    return json::object{{"apiVersion", "v1"},
                        {"kind", "Secret"},
                        {"metadata",
                         {{"name", TokenSecretName(cluster)},
                          {"namespace", ns_},
                          {"labels", Labels({{kRecordLabel, "bootstrap-token"}, {kClusterLabel, cluster}})}}},
                        {"type", "vmesh.dev/bootstrap-token"},
                        {"data", EncodeData(data)}};
  }

  Result<std::optional<TokenObject>> ReadToken(const std::string& cluster) {
    const std::string name = TokenSecretName(cluster);
    auto secret = ReadSecret(name);
    if (!secret.ok()) return secret.error();
    if (!secret->has_value()) return std::optional<TokenObject>();
    auto data = SecretData(**secret);
    TokenObject t{std::move((*secret)->get_object()), {}, 0, std::nullopt};
    const std::string& stored = data["token-hash"];
    if (pki::IsSealed(stored)) {
      if (!opts_.key_encryption_key) {
        return MakeError(
            "Kubernetes store: " + SecretWhat(name) + " is sealed, and the hub has no key-encryption key to open it",
            ErrorCode::kInternal);
      }
      auto opened = pki::Open(*opts_.key_encryption_key, stored, SealContext(cluster));
      if (!opened.ok()) return opened.error().Wrap("Kubernetes store: " + SecretWhat(name));
      t.hash = std::string(opened->view());
    } else {
      t.hash = stored;
    }
    auto expires = ParseMillis(data["expires-at"]);
    if (!expires.ok()) return expires.error().Wrap("Kubernetes store: " + SecretWhat(name) + ": expires-at");
    t.expires_at_ms = ToMillis(*expires);
    if (auto used = data.find("used-at"); used != data.end()) {
      auto at = ParseMillis(used->second);
      if (!at.ok()) return at.error().Wrap("Kubernetes store: " + SecretWhat(name) + ": used-at");
      t.used_at_ms = ToMillis(*at);
    }
    return std::optional<TokenObject>(std::move(t));
  }

  // The token of `cluster` if `token_hash` is it, unused and unexpired, and the cluster is registered.
  Result<TokenObject> CheckToken(const std::string& cluster, const std::string& token_hash, TimePoint now) {
    auto token = ReadToken(cluster);
    if (!token.ok()) return token.error();
    if (!token->has_value() || !SameHash((*token)->hash, token_hash)) {
      return store_errors::InvalidToken(cluster);
    }
    auto c = ReadCluster(cluster);
    if (!c.ok()) return c.error();
    if (!c->has_value() || (*c)->status.state() == api::v1::DEREGISTERED) return store_errors::InvalidToken(cluster);
    if ((*token)->used_at_ms) return store_errors::TokenUsed(cluster, *(*token)->used_at_ms);
    if ((*token)->expires_at_ms <= ToMillis(now)) return store_errors::TokenExpired(cluster, (*token)->expires_at_ms);
    return std::move(**token);
  }

  // --- ConfigMaps -----------------------------------------------------------------------------------------

  Result<std::optional<json::value>> ReadConfigMapObject(const std::string& name) {
    return ReadObject(ConfigMapWhat(name), Path("v1", "configmaps", name));
  }

  // The data of ConfigMap `name` (empty when it does not exist).
  Result<std::map<std::string, std::string>> ReadConfigMap(const std::string& name) {
    auto object = ReadConfigMapObject(name);
    if (!object.ok()) return object.error();
    if (!object->has_value()) return std::map<std::string, std::string>();
    return jsonf::StrMap(jsonf::Obj((*object)->get_object(), "data"));
  }

  // Read-modify-write of a ConfigMap's data: created when missing, else updated conditioned on the version read;
  // on 409 (a racing writer) read and apply `change` again. `change` returns whether it changed anything, or an
  // error (nothing written).
  Status UpdateConfigMap(const std::string& name,
                         const std::function<Result<bool>(std::map<std::string, std::string>&)>& change) {
    const std::string what = ConfigMapWhat(name);
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      auto object = ReadConfigMapObject(name);
      if (!object.ok()) return object.error();
      std::map<std::string, std::string> data;
      if (object->has_value()) data = jsonf::StrMap(jsonf::Obj((*object)->get_object(), "data"));
      auto changed = change(data);
      if (!changed.ok()) return changed.error();
      if (!*changed) return OkStatus();
      json::object encoded;
      for (const auto& [k, v] : data) encoded[k] = v;
      Result<ApiResponse> r = MakeError("unreachable");
      if (object->has_value()) {
        json::object next = (*object)->get_object();
        next["data"] = std::move(encoded);
        r = Call(what, client_->Update(Path("v1", "configmaps", name), next));
      } else {
        json::object next{
            {"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"namespace", ns_}, {"labels", Labels({{kRecordLabel, name}})}}},
            {"data", std::move(encoded)}};
        r = Call(what, client_->Create(Collection("v1", "configmaps"), next));
      }
      if (!r.ok()) return r.error();
      if (r->status == 409) continue;
      if (!r->ok()) return ApiError(what, *r);
      return OkStatus();
    }
    return TooManyConflicts(what);
  }

  static Status InsertAdmin(std::map<std::string, std::string>& data, const AdminCredential& c) {
    if (data.contains(c.serial)) {
      return MakeError("admin credential serial " + c.serial + ": already pinned", ErrorCode::kConflict);
    }
    // A new pin is active whatever the argument says (as the SQLite store).
    AdminCredential pinned{.serial = c.serial,
                           .not_after = c.not_after,
                           .public_key_fingerprint = c.public_key_fingerprint,
                           .created_at = c.created_at};
    data[c.serial] = json::serialize(AdminToJson(pinned));
    return OkStatus();
  }

  static Status CheckAdmin(const std::map<std::string, std::string>& data, const std::string& serial) {
    auto it = data.find(serial);
    if (it == data.end()) return store_errors::AdminUnknown(serial);
    auto c = AdminFromJson(serial, it->second);
    if (!c.ok()) return c.error();
    if (c->revoked_at) return store_errors::AdminRevoked(serial, ToMillis(*c->revoked_at), c->replaced_by);
    return OkStatus();
  }

  // --- Roots ----------------------------------------------------------------------------------------------

  Result<RootCaRecord> RootFromSecret(const json::value& secret) const {
    const std::string name = jsonf::StrAt(secret, {"metadata", "name"});
    auto annotations =
        secret.is_object() ? jsonf::Annotations(secret.get_object()) : std::map<std::string, std::string>();
    auto data = SecretData(secret);
    RootCaRecord r;
    r.virtual_mesh = annotations[kVirtualMeshAnnotation];
    r.certificate_pem = data["root-cert.pem"];
    r.chain_pem = data["cert-chain.pem"];
    r.key_pem = data["key.pem"];
    r.source = annotations[kSourceAnnotation];
    auto created = ParseMillis(annotations[kCreatedAtAnnotation]);
    if (r.virtual_mesh.empty() || r.certificate_pem.empty() || r.key_pem.empty() || !created.ok()) {
      return MakeError("Kubernetes store: " + SecretWhat(name) + " is not a VirtualMesh root (annotations " +
                           kVirtualMeshAnnotation + " and " + kCreatedAtAnnotation +
                           ", data root-cert.pem and key.pem are required)",
                       ErrorCode::kInternal);
    }
    r.created_at = *created;
    return r;
  }

  Result<std::optional<RootRotationRecord>> RotationFromSecret(const std::string& virtual_mesh,
                                                               const json::value& secret) const {
    auto annotations =
        secret.is_object() ? jsonf::Annotations(secret.get_object()) : std::map<std::string, std::string>();
    if (annotations[kRotationPhaseAnnotation].empty()) return std::optional<RootRotationRecord>();
    const std::string what = "Kubernetes store: " + SecretWhat(RootSecretName(virtual_mesh)) + ": root rotation";
    auto data = SecretData(secret);
    RootRotationRecord r;
    r.virtual_mesh = virtual_mesh;
    r.phase = annotations[kRotationPhaseAnnotation];
    r.reason = annotations[kRotationReasonAnnotation];
    r.next.virtual_mesh = virtual_mesh;
    r.next.certificate_pem = data["next-root-cert.pem"];
    r.next.key_pem = data["next-key.pem"];
    r.next.chain_pem = data["next-cert-chain.pem"];
    r.next.source = annotations[kRotationNextSourceAnnotation];
    auto started = ParseMillis(annotations[kRotationStartedAnnotation]);
    auto since = ParseMillis(annotations[kRotationPhaseSinceAnnotation]);
    auto created = ParseMillis(annotations[kRotationNextCreatedAnnotation]);
    if (r.next.certificate_pem.empty() || r.next.key_pem.empty() || !started.ok() || !since.ok() || !created.ok()) {
      return MakeError(what +
                           " is incomplete (next-root-cert.pem, next-key.pem and the rotation annotations are "
                           "required)",
                       ErrorCode::kInternal);
    }
    r.started_at = *started;
    r.phase_since = *since;
    r.next.created_at = *created;
    return std::optional<RootRotationRecord>(std::move(r));
  }

  Status CheckRotationPhase(const std::string& virtual_mesh, const json::value& secret, const std::string& from) const {
    auto rotation = RotationFromSecret(virtual_mesh, secret);
    if (!rotation.ok()) return rotation.error();
    if (!rotation->has_value()) return store_errors::NoRotation(virtual_mesh);
    if ((*rotation)->phase != from) return store_errors::RotationPhaseChanged(virtual_mesh, from, (*rotation)->phase);
    return OkStatus();
  }

  // Read-modify-write of a VirtualMesh's root Secret: `change` edits it (its error is returned as it is), then one
  // CAS on its resourceVersion, read again and retried on 409. `absent`: the error when there is no root Secret.
  Status MutateRootSecret(const std::string& virtual_mesh, const Error& absent,
                          const std::function<Status(json::object&)>& change) {
    const std::string name = RootSecretName(virtual_mesh);
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      auto secret = ReadSecret(name);
      if (!secret.ok()) return secret.error();
      if (!secret->has_value() || jsonf::Annotations((*secret)->get_object())[kVirtualMeshAnnotation] != virtual_mesh) {
        return absent;
      }
      json::object& object = (*secret)->get_object();
      if (Status s = change(object); !s.ok()) return s;
      auto written = Call(SecretWhat(name), client_->Update(Path("v1", "secrets", name), object));
      if (!written.ok()) return written.error();
      if (written->ok()) return OkStatus();
      if (written->status != 409) return ApiError(SecretWhat(name), *written);
    }
    return TooManyConflicts(SecretWhat(name));
  }

  // --- Opening --------------------------------------------------------------------------------------------

  // Discovery (no RBAC on CustomResourceDefinitions needed): every kind, with its status subresource.
  Status CheckCrds() {
    const std::string what = std::string("API group ") + kApiVersion;
    auto r = Call(what, client_->Get(std::string("/apis/") + kApiVersion));
    if (!r.ok()) return r.error();
    std::set<std::string> served;
    if (r->ok()) {
      if (const json::array* resources = jsonf::Arr(r->body.if_object(), "resources")) {
        for (const auto& res : *resources) {
          if (res.is_object()) served.insert(jsonf::Str(res.get_object(), "name"));
        }
      }
    } else if (r->status != 404) {
      return ApiError(what, *r);
    }
    std::vector<std::string> missing;
    for (const std::string plural : kCrdPlurals) {
      if (!served.contains(plural) || !served.contains(plural + "/status")) missing.push_back(plural + "." + kGroup);
    }
    if (missing.empty()) return OkStatus();
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    return MakeError("Kubernetes store: the API server does not serve the vmesh custom resource" +
                         std::string(missing.size() > 1 ? "s " : " ") + names +
                         " (with its status subresource); install the CRDs: kubectl apply -f charts/vmesh-hub/crds/",
                     ErrorCode::kUnavailable);
  }

  // Watches Cluster CRs so that one deleted by someone else (kubectl) reaches the change listener. The store itself
  // never deletes a Cluster. Runs on its own thread until the store is destroyed.
  void StartClusterWatch() {
    informer_ = std::make_unique<kube::Informer>(
        *client_, kube::InformerOptions{.collection = Collection(kApiVersion, "clusters")},
        kube::InformerHandlers{.on_list =
                                   [this](const std::map<std::string, boost::json::value>& objects) {
                                     // After a relist: a Cluster that vanished while the watch was down was deleted
                                     // too.
                                     bool gone = false;
                                     for (const auto& key : known_clusters_) gone = gone || !objects.contains(key);
                                     known_clusters_.clear();
                                     for (const auto& [key, object] : objects) known_clusters_.insert(key);
                                     if (gone && listed_once_) Notify();
                                     if (!listed_once_) {
                                       std::lock_guard lock(listener_mu_);
                                       listed_once_ = true;
                                       listed_.notify_all();
                                     }
                                   },
                               .on_event =
                                   [this](const kube::WatchEvent& e) {
                                     const std::string key = kube::ObjectKeyOf(e.object);
                                     if (e.type == "DELETED") {
                                       known_clusters_.erase(key);
                                       Notify();
                                     } else {
                                       known_clusters_.insert(key);
                                     }
                                   }});
    boost::asio::co_spawn(watch_io_, informer_->Run([this] { return !stop_.load(); }), boost::asio::detached);
    watch_thread_ = std::thread([this] { watch_io_.run(); });
    // Deletions are seen from the first list on (a Cluster deleted before it is not reported).
    std::unique_lock lock(listener_mu_);
    listed_.wait_for(lock, std::chrono::seconds(30), [this] { return listed_once_; });
  }

  void Notify() {
    std::function<void()> listener;
    {
      std::lock_guard lock(listener_mu_);
      listener = listener_;
    }
    if (listener) listener();
  }

  kube::KubeClientPtr client_;
  KubeStoreOptions opts_;
  const std::string ns_;
  std::unique_ptr<KubeObjectTable> objects_;

  std::mutex listener_mu_;
  std::function<void()> listener_;  // guarded by listener_mu_
  // The Cluster watch: the informer and its bookkeeping are used on watch_thread_ only. Declared before
  // watch_io_, so that the coroutine frames the io_context destroys never outlive them.
  std::unique_ptr<kube::Informer> informer_;
  std::set<std::string> known_clusters_;
  bool listed_once_ = false;  // guarded by listener_mu_ (set once, on watch_thread_)
  std::condition_variable listed_;
  std::atomic<bool> stop_{false};
  boost::asio::io_context watch_io_;
  std::thread watch_thread_;
};

}  // namespace

Result<StorePtr> OpenKubernetesStore(kube::KubeClientPtr client, KubeStoreOptions options) {
  if (!client) return MakeError("Kubernetes store: no API client", ErrorCode::kInternal);
  auto store = std::make_unique<KubeStore>(std::move(client), std::move(options));
  if (Status s = store->Open(); !s.ok()) return s.error();
  return StorePtr(std::move(store));
}

}  // namespace vmesh::hub
