#include "hub/store/memory_store.h"

#include <algorithm>
#include <mutex>
#include <tuple>

#include "hub/store/store_errors.h"

namespace vmesh::hub {
namespace {

using store_errors::FromMillis;
using store_errors::ToMillis;

// What the SQLite store keeps of a time: whole milliseconds.
TimePoint Truncate(TimePoint t) { return FromMillis(ToMillis(t)); }

struct Token {
  std::string cluster;
  TimePoint expires_at;
  std::optional<TimePoint> used_at;
};

struct Identity {
  IssuedIdentity identity;
  std::optional<TimePoint> revoked_at;
};

// Everything the store holds; a call that can fail part-way works on a copy and commits it at the end.
struct State {
  std::map<std::string, ClusterRecord> clusters;
  std::map<std::string, Token> tokens;  // by hash
  std::vector<Identity> identities;     // in recording order
  std::optional<LinkCaMaterial> link_ca;
  std::map<std::string, RootCaRecord> roots;
  std::map<std::string, RootRotationRecord> rotations;
  std::vector<IssuedCertificateRecord> issued;
  std::vector<AdminCredential> admins;  // in pinning order
  std::map<std::string, std::string> mesh_owners;
  std::map<std::tuple<std::string, std::string, std::string>, StoredObject> objects;  // kind, namespace, name
  std::int64_t resource_version = 0;
  std::map<std::string, std::string> settings;
};

class MemoryStore final : public Store {
 public:
  Status RegisterCluster(const std::string& name, const std::string& token_hash, TimePoint token_expires,
                         TimePoint now) override {
    std::lock_guard lock(mu_);
    if (auto it = s_.clusters.find(name); it != s_.clusters.end()) {
      if (it->second.state != ClusterState::kDeregistered && !it->second.identity_serial.empty()) {
        return store_errors::AlreadyBootstrapped(name);
      }
    }
    // The cluster's old tokens go; a hash another cluster's token has cannot be stored twice.
    if (auto t = s_.tokens.find(token_hash); t != s_.tokens.end() && t->second.cluster != name) {
      return MakeError("bootstrap token hash already stored");
    }
    std::erase_if(s_.tokens, [&](const auto& t) { return t.second.cluster == name; });
    // New, or not bootstrapped yet (or deregistered): start over.
    s_.clusters[name] = ClusterRecord{.name = name, .registered_at = Truncate(now)};
    s_.tokens[token_hash] = Token{name, Truncate(token_expires), std::nullopt};
    return OkStatus();
  }

  Status CheckBootstrapToken(const std::string& cluster, const std::string& token_hash, TimePoint now) override {
    std::lock_guard lock(mu_);
    return CheckTokenLocked(cluster, token_hash, now);
  }

  Status CompleteBootstrap(const std::string& cluster, const std::string& token_hash, const IssuedIdentity& identity,
                           TimePoint now) override {
    std::lock_guard lock(mu_);
    if (Status s = CheckTokenLocked(cluster, token_hash, now); !s.ok()) return s;
    if (Status s = CheckNewIdentityLocked(identity); !s.ok()) return s;
    s_.tokens[token_hash].used_at = Truncate(now);
    InsertIdentityLocked(identity);
    return OkStatus();
  }

  Status RecordIdentity(const IssuedIdentity& identity) override {
    std::lock_guard lock(mu_);
    auto c = s_.clusters.find(identity.cluster);
    if (c == s_.clusters.end() || c->second.state == ClusterState::kDeregistered) {
      return store_errors::NotRegistered(identity.cluster);
    }
    if (Status s = CheckNewIdentityLocked(identity); !s.ok()) return s;
    InsertIdentityLocked(identity);
    return OkStatus();
  }

  Status CheckIdentity(const std::string& cluster, const std::string& serial) override {
    std::lock_guard lock(mu_);
    const Identity* id = FindIdentityLocked(serial);
    if (id == nullptr) return store_errors::SerialNotIssued(serial);
    if (id->identity.cluster != cluster)
      return store_errors::SerialOfAnotherCluster(serial, id->identity.cluster, cluster);
    auto c = s_.clusters.find(cluster);
    if (c != s_.clusters.end() && c->second.state == ClusterState::kDeregistered) {
      return store_errors::ClusterDeregistered(cluster);
    }
    if (id->revoked_at) return store_errors::SerialRevoked(serial, cluster);
    return OkStatus();
  }

  Result<int> RevokeIdentitiesBefore(const std::string& cluster, const std::string& serial, TimePoint now) override {
    std::lock_guard lock(mu_);
    auto until = std::find_if(s_.identities.begin(), s_.identities.end(), [&](const Identity& i) {
      return i.identity.serial == serial && i.identity.cluster == cluster;
    });
    if (until == s_.identities.end()) return 0;
    int revoked = 0;
    for (auto it = s_.identities.begin(); it != until; ++it) {
      if (it->identity.cluster == cluster && !it->revoked_at) {
        it->revoked_at = Truncate(now);
        ++revoked;
      }
    }
    return revoked;
  }

  Status DeregisterCluster(const std::string& name, TimePoint now) override {
    std::lock_guard lock(mu_);
    auto c = s_.clusters.find(name);
    if (c == s_.clusters.end()) return store_errors::NotRegistered(name);
    if (c->second.state == ClusterState::kDeregistered) return store_errors::AlreadyDeregistered(name);
    for (auto& i : s_.identities) {
      if (i.identity.cluster == name && !i.revoked_at) i.revoked_at = Truncate(now);
    }
    std::erase_if(s_.tokens, [&](const auto& t) { return t.second.cluster == name; });
    c->second.state = ClusterState::kDeregistered;
    c->second.connected_since.reset();
    return OkStatus();
  }

  Result<std::optional<ClusterRecord>> GetCluster(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto c = s_.clusters.find(name);
    if (c == s_.clusters.end()) return std::optional<ClusterRecord>();
    return std::optional<ClusterRecord>(c->second);
  }

  Result<std::vector<ClusterRecord>> ListClusters() override {
    std::lock_guard lock(mu_);
    std::vector<ClusterRecord> out;
    for (const auto& [name, c] : s_.clusters) out.push_back(c);
    return out;
  }

  Status MarkConnected(const std::string& name, const std::string& agent_version, TimePoint now) override {
    std::lock_guard lock(mu_);
    if (auto c = s_.clusters.find(name); c != s_.clusters.end() && c->second.state != ClusterState::kDeregistered) {
      c->second.state = ClusterState::kConnected;
      c->second.agent_version = agent_version;
      c->second.connected_since = c->second.last_heartbeat = Truncate(now);
    }
    return OkStatus();
  }

  Status MarkHeartbeat(const std::string& name, TimePoint now) override {
    std::lock_guard lock(mu_);
    if (auto c = s_.clusters.find(name); c != s_.clusters.end() && c->second.state != ClusterState::kDeregistered) {
      c->second.last_heartbeat = Truncate(now);
    }
    return OkStatus();
  }

  Status MarkDisconnected(const std::string& name, TimePoint now) override {
    std::lock_guard lock(mu_);
    if (auto c = s_.clusters.find(name); c != s_.clusters.end() && c->second.state == ClusterState::kConnected) {
      c->second.state = ClusterState::kDisconnected;
      c->second.connected_since.reset();
      if (!c->second.last_heartbeat) c->second.last_heartbeat = Truncate(now);
    }
    return OkStatus();
  }

  Result<std::optional<LinkCaMaterial>> GetLinkCa() override {
    std::lock_guard lock(mu_);
    return s_.link_ca;
  }

  Status PutLinkCa(const LinkCaMaterial& material) override {
    std::lock_guard lock(mu_);
    if (s_.link_ca) return store_errors::LinkCaExists();
    s_.link_ca = material;
    return OkStatus();
  }

  Status ReplaceStoredKeys(const std::vector<StoredKeyUpdate>& updates) override {
    std::lock_guard lock(mu_);
    State next = s_;
    for (const auto& u : updates) {
      std::string* key = nullptr;
      if (u.virtual_mesh.empty()) {
        if (next.link_ca) key = &next.link_ca->key_pem;
      } else if (auto r = next.roots.find(u.virtual_mesh); r != next.roots.end()) {
        key = &r->second.key_pem;
      }
      if (key == nullptr || *key != u.expected_key_pem) return store_errors::KeyChanged(u.virtual_mesh);
      *key = u.key_pem;
    }
    s_ = std::move(next);
    return OkStatus();
  }

  Status AddAdminCredential(const AdminCredential& credential) override {
    std::lock_guard lock(mu_);
    return InsertAdminLocked(credential);
  }

  Result<std::vector<AdminCredential>> ListAdminCredentials() override {
    std::lock_guard lock(mu_);
    std::vector<AdminCredential> out = s_.admins;
    std::stable_sort(out.begin(), out.end(), [](const AdminCredential& a, const AdminCredential& b) {
      return std::tie(a.created_at, a.serial) < std::tie(b.created_at, b.serial);
    });
    return out;
  }

  Status CheckAdminCredential(const std::string& serial) override {
    std::lock_guard lock(mu_);
    return CheckAdminLocked(serial);
  }

  Status RotateAdminCredential(const std::string& old_serial, const AdminCredential& replacement,
                               TimePoint now) override {
    std::lock_guard lock(mu_);
    if (Status s = CheckAdminLocked(old_serial); !s.ok()) return s;
    if (Status s = InsertAdminLocked(replacement); !s.ok()) return s;
    AdminCredential* old = FindAdminLocked(old_serial);
    old->revoked_at = Truncate(now);
    old->replaced_by = replacement.serial;
    return OkStatus();
  }

  Result<std::optional<RootCaRecord>> GetRootCa(const std::string& virtual_mesh) override {
    std::lock_guard lock(mu_);
    auto r = s_.roots.find(virtual_mesh);
    if (r == s_.roots.end()) return std::optional<RootCaRecord>();
    return std::optional<RootCaRecord>(r->second);
  }

  Result<std::vector<RootCaRecord>> ListRootCas() override {
    std::lock_guard lock(mu_);
    std::vector<RootCaRecord> out;
    for (const auto& [vm, r] : s_.roots) out.push_back(r);
    return out;
  }

  Result<RootCaRecord> PutRootCaIfAbsent(const RootCaRecord& record) override {
    std::lock_guard lock(mu_);
    if (auto r = s_.roots.find(record.virtual_mesh); r != s_.roots.end()) return r->second;
    RootCaRecord stored = record;
    stored.created_at = Truncate(record.created_at);
    s_.roots[record.virtual_mesh] = stored;
    return record;  // as the SQLite store: the caller's record, not the stored copy
  }

  Result<std::optional<RootRotationRecord>> GetRootRotation(const std::string& virtual_mesh) override {
    std::lock_guard lock(mu_);
    auto r = s_.rotations.find(virtual_mesh);
    if (r == s_.rotations.end()) return std::optional<RootRotationRecord>();
    return std::optional<RootRotationRecord>(r->second);
  }

  Status StartRootRotation(const RootRotationRecord& record) override {
    std::lock_guard lock(mu_);
    if (!s_.roots.count(record.virtual_mesh)) return store_errors::NoRootToRotate(record.virtual_mesh);
    if (auto r = s_.rotations.find(record.virtual_mesh); r != s_.rotations.end()) {
      return store_errors::RotationInProgress(record.virtual_mesh, r->second.phase);
    }
    RootRotationRecord stored = record;
    stored.next.virtual_mesh = record.virtual_mesh;
    stored.next.created_at = Truncate(record.next.created_at);
    stored.started_at = Truncate(record.started_at);
    stored.phase_since = Truncate(record.phase_since);
    s_.rotations[record.virtual_mesh] = stored;
    return OkStatus();
  }

  Status SetRootRotationPhase(const std::string& virtual_mesh, const std::string& from, const std::string& to,
                              TimePoint now) override {
    std::lock_guard lock(mu_);
    auto r = s_.rotations.find(virtual_mesh);
    if (r == s_.rotations.end()) return store_errors::NoRotation(virtual_mesh);
    if (r->second.phase != from) return store_errors::RotationPhaseChanged(virtual_mesh, from, r->second.phase);
    r->second.phase = to;
    r->second.phase_since = Truncate(now);
    return OkStatus();
  }

  Status FinishRootRotation(const std::string& virtual_mesh, const std::string& from, bool completed) override {
    std::lock_guard lock(mu_);
    auto r = s_.rotations.find(virtual_mesh);
    if (r == s_.rotations.end()) return store_errors::NoRotation(virtual_mesh);
    if (r->second.phase != from) return store_errors::RotationPhaseChanged(virtual_mesh, from, r->second.phase);
    if (completed) s_.roots[virtual_mesh] = r->second.next;
    s_.rotations.erase(r);
    return OkStatus();
  }

  Status RecordIssuedCertificate(const IssuedCertificateRecord& record) override {
    std::lock_guard lock(mu_);
    for (const auto& r : s_.issued) {
      if (r.serial == record.serial)
        return MakeError("issued certificate serial " + record.serial + " already recorded");
    }
    IssuedCertificateRecord stored = record;
    stored.not_before = Truncate(record.not_before);
    stored.not_after = Truncate(record.not_after);
    stored.issued_at = Truncate(record.issued_at);
    s_.issued.push_back(stored);
    return OkStatus();
  }

  Result<std::vector<IssuedCertificateRecord>> ListIssuedCertificates() override {
    std::lock_guard lock(mu_);
    std::vector<IssuedCertificateRecord> out = s_.issued;
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.issued_at, a.serial) < std::tie(b.issued_at, b.serial);
    });
    return out;
  }

  Result<std::string> BindMeshIfAbsent(const std::string& mesh, const std::string& cluster, TimePoint) override {
    std::lock_guard lock(mu_);
    return s_.mesh_owners.emplace(mesh, cluster).first->second;
  }

  Result<std::optional<std::string>> GetMeshOwner(const std::string& mesh) override {
    std::lock_guard lock(mu_);
    auto it = s_.mesh_owners.find(mesh);
    if (it == s_.mesh_owners.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  Result<std::map<std::string, std::string>> ListMeshOwners() override {
    std::lock_guard lock(mu_);
    return s_.mesh_owners;
  }

  Result<StoredObject> PutObject(const StoredObject& object, std::optional<std::int64_t> expected_version) override {
    std::lock_guard lock(mu_);
    const auto key = std::make_tuple(object.kind, object.ns, object.name);
    auto current = s_.objects.find(key);
    if (expected_version) {
      const std::int64_t have = current != s_.objects.end() ? current->second.resource_version : 0;
      if (have != *expected_version) return store_errors::Conflict(object, have, *expected_version);
    }
    StoredObject stored = object;
    stored.resource_version = ++s_.resource_version;
    s_.objects[key] = stored;
    return stored;
  }

  Result<std::optional<StoredObject>> GetObject(const std::string& kind, const std::string& ns,
                                                const std::string& name) override {
    std::lock_guard lock(mu_);
    auto it = s_.objects.find(std::make_tuple(kind, ns, name));
    if (it == s_.objects.end()) return std::optional<StoredObject>();
    return std::optional<StoredObject>(it->second);
  }

  Result<std::vector<StoredObject>> ListObjects(const std::string& kind) override {
    std::lock_guard lock(mu_);
    std::vector<StoredObject> out;
    // Ordered by kind, namespace, name: the kind's objects are one run, already in namespace/name order.
    for (auto it = s_.objects.lower_bound(std::make_tuple(kind, std::string(), std::string()));
         it != s_.objects.end() && std::get<0>(it->first) == kind; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Result<bool> DeleteObject(const std::string& kind, const std::string& ns, const std::string& name) override {
    std::lock_guard lock(mu_);
    return s_.objects.erase(std::make_tuple(kind, ns, name)) > 0;
  }

  Result<std::optional<std::string>> GetSetting(const std::string& key) override {
    std::lock_guard lock(mu_);
    auto it = s_.settings.find(key);
    if (it == s_.settings.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  Result<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) override {
    std::lock_guard lock(mu_);
    return s_.settings.emplace(key, value).first->second;
  }

 private:
  Status CheckTokenLocked(const std::string& cluster, const std::string& token_hash, TimePoint now) const {
    auto t = s_.tokens.find(token_hash);
    if (t == s_.tokens.end() || t->second.cluster != cluster) return store_errors::InvalidToken(cluster);
    if (t->second.used_at) return store_errors::TokenUsed(cluster, ToMillis(*t->second.used_at));
    if (ToMillis(t->second.expires_at) <= ToMillis(now)) {
      return store_errors::TokenExpired(cluster, ToMillis(t->second.expires_at));
    }
    return OkStatus();
  }

  const Identity* FindIdentityLocked(const std::string& serial) const {
    for (const auto& i : s_.identities) {
      if (i.identity.serial == serial) return &i;
    }
    return nullptr;
  }

  Status CheckNewIdentityLocked(const IssuedIdentity& identity) const {
    if (FindIdentityLocked(identity.serial) != nullptr) {
      return MakeError("identity serial " + identity.serial + " already recorded");
    }
    return OkStatus();
  }

  void InsertIdentityLocked(const IssuedIdentity& identity) {
    IssuedIdentity stored = identity;
    stored.not_before = Truncate(identity.not_before);
    stored.not_after = Truncate(identity.not_after);
    s_.identities.push_back(Identity{stored, std::nullopt});
    if (auto c = s_.clusters.find(identity.cluster); c != s_.clusters.end()) {
      c->second.identity_serial = identity.serial;
      c->second.identity_not_after = stored.not_after;
    }
  }

  AdminCredential* FindAdminLocked(const std::string& serial) {
    for (auto& a : s_.admins) {
      if (a.serial == serial) return &a;
    }
    return nullptr;
  }

  Status InsertAdminLocked(const AdminCredential& credential) {
    if (FindAdminLocked(credential.serial) != nullptr) {
      return MakeError("admin credential serial " + credential.serial + ": already pinned");
    }
    // A new pin is active whatever the argument says (the SQLite store stores neither field).
    s_.admins.push_back(AdminCredential{.serial = credential.serial,
                                        .not_after = Truncate(credential.not_after),
                                        .public_key_fingerprint = credential.public_key_fingerprint,
                                        .created_at = Truncate(credential.created_at)});
    return OkStatus();
  }

  Status CheckAdminLocked(const std::string& serial) {
    const AdminCredential* a = FindAdminLocked(serial);
    if (a == nullptr) return store_errors::AdminUnknown(serial);
    if (a->revoked_at) return store_errors::AdminRevoked(serial, ToMillis(*a->revoked_at), a->replaced_by);
    return OkStatus();
  }

  std::mutex mu_;
  State s_;
};

}  // namespace

StorePtr MakeMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace vmesh::hub
