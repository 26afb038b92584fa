#include <mutex>

#include "common/base/time.h"
#include "hub/store/sqlite.h"
#include "hub/store/store.h"
#include "hub/store/store_errors.h"

namespace vmesh::hub {

std::string_view ClusterStateName(ClusterState state) {
  switch (state) {
    case ClusterState::kRegistered:
      return "REGISTERED";
    case ClusterState::kConnected:
      return "CONNECTED";
    case ClusterState::kDisconnected:
      return "DISCONNECTED";
    case ClusterState::kDeregistered:
      return "DEREGISTERED";
  }
  return "UNKNOWN";
}

namespace {

// Schema migrations, applied in order inside one transaction each. Never edit a released entry: append.
constexpr const char* kMigrations[] = {
    // 1: registration, identities, link CA, settings.
    R"sql(
CREATE TABLE clusters (
  name               TEXT PRIMARY KEY,
  state              TEXT NOT NULL,
  registered_at      INTEGER NOT NULL,
  deregistered_at    INTEGER,
  agent_version      TEXT NOT NULL DEFAULT '',
  identity_serial    TEXT NOT NULL DEFAULT '',
  identity_not_after INTEGER,
  connected_since    INTEGER,
  last_heartbeat     INTEGER
);
CREATE TABLE bootstrap_tokens (
  token_hash TEXT PRIMARY KEY,
  cluster    TEXT NOT NULL REFERENCES clusters(name),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER
);
CREATE INDEX bootstrap_tokens_by_cluster ON bootstrap_tokens(cluster);
CREATE TABLE identities (
  serial                 TEXT PRIMARY KEY,
  cluster                TEXT NOT NULL REFERENCES clusters(name),
  not_before             INTEGER NOT NULL,
  not_after              INTEGER NOT NULL,
  public_key_fingerprint TEXT NOT NULL,
  revoked_at             INTEGER
);
CREATE INDEX identities_by_cluster ON identities(cluster);
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE link_ca (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  certificate_pem TEXT NOT NULL,
  key_pem         TEXT NOT NULL
);
)sql",
    // 2: VirtualMesh root CAs and the intermediates issued from them (never a cluster's private key).
    R"sql(
CREATE TABLE root_cas (
  virtual_mesh    TEXT PRIMARY KEY,
  certificate_pem TEXT NOT NULL,
  chain_pem       TEXT NOT NULL DEFAULT '',
  key_pem         TEXT NOT NULL,
  source          TEXT NOT NULL,
  created_at      INTEGER NOT NULL
);
CREATE TABLE issued_certificates (
  serial                 TEXT PRIMARY KEY,
  virtual_mesh           TEXT NOT NULL,
  mesh                   TEXT NOT NULL,
  cluster                TEXT NOT NULL,
  not_before             INTEGER NOT NULL,
  not_after              INTEGER NOT NULL,
  public_key_fingerprint TEXT NOT NULL,
  issued_at              INTEGER NOT NULL
);
CREATE INDEX issued_certificates_by_mesh ON issued_certificates(mesh);
)sql",
    // 3: API objects (VirtualMeshes, AccessPolicies, discovery) and the resourceVersion counter.
    R"sql(
CREATE TABLE objects (
  kind                 TEXT NOT NULL,
  namespace            TEXT NOT NULL,
  name                 TEXT NOT NULL,
  uid                  TEXT NOT NULL,
  generation           INTEGER NOT NULL,
  resource_version     INTEGER NOT NULL,
  creation_timestamp   TEXT NOT NULL,
  body                 BLOB NOT NULL,
  status               BLOB NOT NULL DEFAULT x'',
  last_good            BLOB,
  last_good_generation INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('resource_version', 0);
)sql",
    // 4: admin client certificates the API accepts, pinned by serial and revocable (`vmeshctl admin rotate`).
    R"sql(
CREATE TABLE admin_credentials (
  serial                 TEXT PRIMARY KEY,
  not_after              INTEGER NOT NULL,
  public_key_fingerprint TEXT NOT NULL,
  created_at             INTEGER NOT NULL,
  revoked_at             INTEGER,
  replaced_by            TEXT NOT NULL DEFAULT ''
);
)sql",
    // 5: mesh ownership, bound on first report. Meshes certificates were issued for before this schema are
    // bound to the cluster that got the first one.
    R"sql(
CREATE TABLE mesh_owners (
  mesh     TEXT PRIMARY KEY,
  cluster  TEXT NOT NULL,
  bound_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO mesh_owners (mesh, cluster, bound_at)
  SELECT mesh, cluster, issued_at FROM issued_certificates ORDER BY issued_at, serial;
)sql",
    // 6: root rotations in progress (SPEC §5.5), one per VirtualMesh, beside the root they replace.
    R"sql(
CREATE TABLE root_rotations (
  virtual_mesh         TEXT PRIMARY KEY REFERENCES root_cas(virtual_mesh),
  phase                TEXT NOT NULL,
  next_certificate_pem TEXT NOT NULL,
  next_chain_pem       TEXT NOT NULL DEFAULT '',
  next_key_pem         TEXT NOT NULL,
  next_source          TEXT NOT NULL,
  next_created_at      INTEGER NOT NULL,
  reason               TEXT NOT NULL DEFAULT '',
  started_at           INTEGER NOT NULL,
  phase_since          INTEGER NOT NULL
);
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

using store_errors::FromMillis;
using store_errors::ToMillis;

std::optional<TimePoint> FromMillis(std::optional<std::int64_t> ms) {
  if (!ms) return std::nullopt;
  return FromMillis(*ms);
}

ClusterState ParseState(const std::string& s) {
  if (s == "CONNECTED") return ClusterState::kConnected;
  if (s == "DISCONNECTED") return ClusterState::kDisconnected;
  if (s == "DEREGISTERED") return ClusterState::kDeregistered;
  return ClusterState::kRegistered;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(Database db) : db_(std::move(db)) {}

  Status Migrate() {
    std::lock_guard lock(mu_);
    if (Status s = db_.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !s.ok()) return s;
    auto version = ReadSchemaVersion();
    if (!version.ok()) return version.error();
    if (*version > kSchemaVersion) {
      return MakeError("the store was written by a newer vmesh-hub (schema version " + std::to_string(*version) +
                       ", this build knows up to " + std::to_string(kSchemaVersion) + "); upgrade vmesh-hub");
    }
    for (int v = *version; v < kSchemaVersion; ++v) {
      auto tx = Transaction::Begin(db_);
      if (!tx.ok()) return tx.error();
      if (Status s = db_.Exec(kMigrations[v]); !s.ok())
        return s.error().Wrap("migration to schema " + std::to_string(v + 1));
      if (Status s =
              db_.Exec("DELETE FROM schema_version; INSERT INTO schema_version VALUES (" + std::to_string(v + 1) + ")");
          !s.ok()) {
        return s;
      }
      if (Status s = tx->Commit(); !s.ok()) return s;
    }
    return OkStatus();
  }

  Status RegisterCluster(const std::string& name, const std::string& token_hash, TimePoint token_expires,
                         TimePoint now) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    auto existing = LoadCluster(name);
    if (!existing.ok()) return existing.error();
    if (existing->has_value()) {
      const ClusterRecord& c = **existing;
      if (c.state != ClusterState::kDeregistered && !c.identity_serial.empty()) {
        return store_errors::AlreadyBootstrapped(name);
      }
      // Not bootstrapped yet (or deregistered): start over with a fresh token.
      if (Status s = Run("DELETE FROM bootstrap_tokens WHERE cluster = ?1", name); !s.ok()) return s;
      auto update = db_.Prepare(
          "UPDATE clusters SET state = 'REGISTERED', registered_at = ?2, deregistered_at = NULL, agent_version = '', "
          "identity_serial = '', identity_not_after = NULL, connected_since = NULL, last_heartbeat = NULL "
          "WHERE name = ?1");
      if (!update.ok()) return update.error();
      if (Status s = update->Bind(1, name).Bind(2, ToMillis(now)).Run(); !s.ok()) return s;
    } else {
      auto insert = db_.Prepare("INSERT INTO clusters (name, state, registered_at) VALUES (?1, 'REGISTERED', ?2)");
      if (!insert.ok()) return insert.error();
      if (Status s = insert->Bind(1, name).Bind(2, ToMillis(now)).Run(); !s.ok()) return s;
    }
    auto token = db_.Prepare(
        "INSERT INTO bootstrap_tokens (token_hash, cluster, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)");
    if (!token.ok()) return token.error();
    if (Status s =
            token->Bind(1, token_hash).Bind(2, name).Bind(3, ToMillis(now)).Bind(4, ToMillis(token_expires)).Run();
        !s.ok()) {
      return s;
    }
    return tx->Commit();
  }

  Status CheckBootstrapToken(const std::string& cluster, const std::string& token_hash, TimePoint now) override {
    std::lock_guard lock(mu_);
    return CheckTokenLocked(cluster, token_hash, now);
  }

  Status CompleteBootstrap(const std::string& cluster, const std::string& token_hash, const IssuedIdentity& identity,
                           TimePoint now) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    if (Status s = CheckTokenLocked(cluster, token_hash, now); !s.ok()) return s;
    auto use = db_.Prepare("UPDATE bootstrap_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL");
    if (!use.ok()) return use.error();
    if (Status s = use->Bind(1, token_hash).Bind(2, ToMillis(now)).Run(); !s.ok()) return s;
    if (db_.Changes() != 1) return store_errors::TokenConsumed(cluster);
    if (Status s = InsertIdentityLocked(identity); !s.ok()) return s;
    return tx->Commit();
  }

  Status RecordIdentity(const IssuedIdentity& identity) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    auto c = LoadCluster(identity.cluster);
    if (!c.ok()) return c.error();
    if (!c->has_value() || (*c)->state == ClusterState::kDeregistered) {
      return store_errors::NotRegistered(identity.cluster);
    }
    if (Status s = InsertIdentityLocked(identity); !s.ok()) return s;
    return tx->Commit();
  }

  Status CheckIdentity(const std::string& cluster, const std::string& serial) override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare(
        "SELECT i.cluster, i.revoked_at, c.state FROM identities i JOIN clusters c ON c.name = i.cluster "
        "WHERE i.serial = ?1");
    if (!q.ok()) return q.error();
    q->Bind(1, serial);
    auto row = q->Step();
    if (!row.ok()) return row.error();
    if (!*row) return store_errors::SerialNotIssued(serial);
    if (q->ColumnText(0) != cluster) {
      return store_errors::SerialOfAnotherCluster(serial, q->ColumnText(0), cluster);
    }
    if (ParseState(q->ColumnText(2)) == ClusterState::kDeregistered) {
      return store_errors::ClusterDeregistered(cluster);
    }
    if (!q->ColumnIsNull(1)) {
      return store_errors::SerialRevoked(serial, cluster);
    }
    return OkStatus();
  }

  Result<int> RevokeIdentitiesBefore(const std::string& cluster, const std::string& serial, TimePoint now) override {
    std::lock_guard lock(mu_);
    // Identities are never deleted, so rowid order is recording order.
    auto q = db_.Prepare(
        "UPDATE identities SET revoked_at = ?3 WHERE cluster = ?1 AND revoked_at IS NULL AND rowid < "
        "(SELECT rowid FROM identities WHERE serial = ?2 AND cluster = ?1)");
    if (!q.ok()) return q.error();
    if (Status s = q->Bind(1, cluster).Bind(2, serial).Bind(3, ToMillis(now)).Run(); !s.ok()) return s.error();
    return db_.Changes();
  }

  Status DeregisterCluster(const std::string& name, TimePoint now) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    auto c = LoadCluster(name);
    if (!c.ok()) return c.error();
    if (!c->has_value()) return store_errors::NotRegistered(name);
    if ((*c)->state == ClusterState::kDeregistered) return store_errors::AlreadyDeregistered(name);
    auto revoke = db_.Prepare("UPDATE identities SET revoked_at = ?2 WHERE cluster = ?1 AND revoked_at IS NULL");
    if (!revoke.ok()) return revoke.error();
    if (Status s = revoke->Bind(1, name).Bind(2, ToMillis(now)).Run(); !s.ok()) return s;
    if (Status s = Run("DELETE FROM bootstrap_tokens WHERE cluster = ?1", name); !s.ok()) return s;
    auto update = db_.Prepare(
        "UPDATE clusters SET state = 'DEREGISTERED', deregistered_at = ?2, connected_since = NULL WHERE name = ?1");
    if (!update.ok()) return update.error();
    if (Status s = update->Bind(1, name).Bind(2, ToMillis(now)).Run(); !s.ok()) return s;
    return tx->Commit();
  }

  Result<std::optional<ClusterRecord>> GetCluster(const std::string& name) override {
    std::lock_guard lock(mu_);
    return LoadCluster(name);
  }

  Result<std::vector<ClusterRecord>> ListClusters() override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare(std::string(kSelectCluster) + " ORDER BY name");
    if (!q.ok()) return q.error();
    std::vector<ClusterRecord> out;
    while (true) {
      auto row = q->Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back(ReadCluster(*q));
    }
    return out;
  }

  Status MarkConnected(const std::string& name, const std::string& agent_version, TimePoint now) override {
    return UpdateLive(name,
                      "UPDATE clusters SET state = 'CONNECTED', agent_version = ?3, connected_since = ?2, "
                      "last_heartbeat = ?2 WHERE name = ?1 AND state != 'DEREGISTERED'",
                      now, agent_version);
  }
  Status MarkHeartbeat(const std::string& name, TimePoint now) override {
    return UpdateLive(name, "UPDATE clusters SET last_heartbeat = ?2 WHERE name = ?1 AND state != 'DEREGISTERED'", now,
                      std::nullopt);
  }
  Status MarkDisconnected(const std::string& name, TimePoint now) override {
    return UpdateLive(name,
                      "UPDATE clusters SET state = 'DISCONNECTED', connected_since = NULL, last_heartbeat = "
                      "COALESCE(last_heartbeat, ?2) WHERE name = ?1 AND state = 'CONNECTED'",
                      now, std::nullopt);
  }

  Result<std::optional<LinkCaMaterial>> GetLinkCa() override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare("SELECT certificate_pem, key_pem FROM link_ca WHERE id = 1");
    if (!q.ok()) return q.error();
    auto row = q->Step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<LinkCaMaterial>();
    return std::optional<LinkCaMaterial>(LinkCaMaterial{q->ColumnText(0), q->ColumnText(1)});
  }

  Status PutLinkCa(const LinkCaMaterial& material) override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare("INSERT INTO link_ca (id, certificate_pem, key_pem) VALUES (1, ?1, ?2)");
    if (!q.ok()) return q.error();
    Status s = q->Bind(1, material.certificate_pem).Bind(2, material.key_pem).Run();
    if (!s.ok()) return store_errors::LinkCaExists();
    return OkStatus();
  }

  Status ReplaceStoredKeys(const std::vector<StoredKeyUpdate>& updates) override {
    std::lock_guard lock(mu_);
    {
      auto tx = Transaction::Begin(db_);
      if (!tx.ok()) return tx.error();
      for (const auto& u : updates) {
        const bool link = u.virtual_mesh.empty();
        auto q = db_.Prepare(link ? "UPDATE link_ca SET key_pem = ?2 WHERE id = 1 AND key_pem = ?1"
                                  : "UPDATE root_cas SET key_pem = ?2 WHERE key_pem = ?1 AND virtual_mesh = ?3");
        if (!q.ok()) return q.error();
        q->Bind(1, u.expected_key_pem).Bind(2, u.key_pem);
        if (!link) q->Bind(3, u.virtual_mesh);
        if (Status s = q->Run(); !s.ok()) return s;
        if (db_.Changes() != 1) {
          return store_errors::KeyChanged(u.virtual_mesh);
        }
      }
      if (Status s = tx->Commit(); !s.ok()) return s;
    }
    // The old values may still sit in the write-ahead log: copy it into the database (whose freed bytes
    // secure_delete zeroed) and truncate it.
    return db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  Status AddAdminCredential(const AdminCredential& c) override {
    std::lock_guard lock(mu_);
    return InsertAdminLocked(c);
  }

  Result<std::vector<AdminCredential>> ListAdminCredentials() override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare(std::string(kSelectAdmin) + " ORDER BY created_at, serial");
    if (!q.ok()) return q.error();
    std::vector<AdminCredential> out;
    while (true) {
      auto row = q->Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back(ReadAdmin(*q));
    }
    return out;
  }

  Status CheckAdminCredential(const std::string& serial) override {
    std::lock_guard lock(mu_);
    return CheckAdminLocked(serial);
  }

  Status RotateAdminCredential(const std::string& old_serial, const AdminCredential& replacement,
                               TimePoint now) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    if (Status s = CheckAdminLocked(old_serial); !s.ok()) return s;
    if (Status s = InsertAdminLocked(replacement); !s.ok()) return s;
    auto q = db_.Prepare("UPDATE admin_credentials SET revoked_at = ?2, replaced_by = ?3 WHERE serial = ?1");
    if (!q.ok()) return q.error();
    if (Status s = q->Bind(1, old_serial).Bind(2, ToMillis(now)).Bind(3, replacement.serial).Run(); !s.ok()) return s;
    return tx->Commit();
  }

  Result<std::optional<std::string>> GetSetting(const std::string& key) override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare("SELECT value FROM settings WHERE key = ?1");
    if (!q.ok()) return q.error();
    q->Bind(1, key);
    auto row = q->Step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<std::string>();
    return std::optional<std::string>(q->ColumnText(0));
  }

  Result<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) override {
    std::lock_guard lock(mu_);
    auto insert = db_.Prepare("INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)");
    if (!insert.ok()) return insert.error();
    if (Status s = insert->Bind(1, key).Bind(2, value).Run(); !s.ok()) return s.error();
    auto q = db_.Prepare("SELECT value FROM settings WHERE key = ?1");
    if (!q.ok()) return q.error();
    q->Bind(1, key);
    auto row = q->Step();
    if (!row.ok()) return row.error();
    return q->ColumnText(0);
  }

  Result<std::optional<RootCaRecord>> GetRootCa(const std::string& virtual_mesh) override {
    std::lock_guard lock(mu_);
    return LoadRootCa(virtual_mesh);
  }

  Result<std::vector<RootCaRecord>> ListRootCas() override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare(std::string(kSelectRootCa) + " ORDER BY virtual_mesh");
    if (!q.ok()) return q.error();
    std::vector<RootCaRecord> out;
    while (true) {
      auto row = q->Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back(ReadRootCa(*q));
    }
    return out;
  }

  Result<RootCaRecord> PutRootCaIfAbsent(const RootCaRecord& record) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    auto existing = LoadRootCa(record.virtual_mesh);
    if (!existing.ok()) return existing.error();
    if (existing->has_value()) return **existing;
    auto q = db_.Prepare(
        "INSERT INTO root_cas (virtual_mesh, certificate_pem, chain_pem, key_pem, source, created_at) VALUES (?1, ?2, "
        "?3, ?4, ?5, ?6)");
    if (!q.ok()) return q.error();
    if (Status s = q->Bind(1, record.virtual_mesh)
                       .Bind(2, record.certificate_pem)
                       .Bind(3, record.chain_pem)
                       .Bind(4, record.key_pem)
                       .Bind(5, record.source)
                       .Bind(6, ToMillis(record.created_at))
                       .Run();
        !s.ok()) {
      return s.error();
    }
    if (Status s = tx->Commit(); !s.ok()) return s.error();
    return record;
  }

  Result<std::optional<RootRotationRecord>> GetRootRotation(const std::string& virtual_mesh) override {
    std::lock_guard lock(mu_);
    return LoadRotation(virtual_mesh);
  }

  Status StartRootRotation(const RootRotationRecord& r) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    auto root = LoadRootCa(r.virtual_mesh);
    if (!root.ok()) return root.error();
    if (!root->has_value()) return store_errors::NoRootToRotate(r.virtual_mesh);
    auto existing = LoadRotation(r.virtual_mesh);
    if (!existing.ok()) return existing.error();
    if (existing->has_value()) return store_errors::RotationInProgress(r.virtual_mesh, (*existing)->phase);
    auto q = db_.Prepare(
        "INSERT INTO root_rotations (virtual_mesh, phase, next_certificate_pem, next_chain_pem, next_key_pem, "
        "next_source, next_created_at, reason, started_at, phase_since) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "?10)");
    if (!q.ok()) return q.error();
    if (Status s = q->Bind(1, r.virtual_mesh)
                       .Bind(2, r.phase)
                       .Bind(3, r.next.certificate_pem)
                       .Bind(4, r.next.chain_pem)
                       .Bind(5, r.next.key_pem)
                       .Bind(6, r.next.source)
                       .Bind(7, ToMillis(r.next.created_at))
                       .Bind(8, r.reason)
                       .Bind(9, ToMillis(r.started_at))
                       .Bind(10, ToMillis(r.phase_since))
                       .Run();
        !s.ok()) {
      return s;
    }
    return tx->Commit();
  }

  Status SetRootRotationPhase(const std::string& virtual_mesh, const std::string& from, const std::string& to,
                              TimePoint now) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    if (Status s = CheckRotationPhase(virtual_mesh, from); !s.ok()) return s;
    auto q = db_.Prepare("UPDATE root_rotations SET phase = ?2, phase_since = ?3 WHERE virtual_mesh = ?1");
    if (!q.ok()) return q.error();
    if (Status s = q->Bind(1, virtual_mesh).Bind(2, to).Bind(3, ToMillis(now)).Run(); !s.ok()) return s;
    return tx->Commit();
  }

  Status FinishRootRotation(const std::string& virtual_mesh, const std::string& from, bool completed) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    if (Status s = CheckRotationPhase(virtual_mesh, from); !s.ok()) return s;
    if (completed) {
      auto q = db_.Prepare(
          "UPDATE root_cas SET (certificate_pem, chain_pem, key_pem, source, created_at) = (SELECT "
          "next_certificate_pem, next_chain_pem, next_key_pem, next_source, next_created_at FROM root_rotations WHERE "
          "virtual_mesh = ?1) WHERE virtual_mesh = ?1");
      if (!q.ok()) return q.error();
      if (Status s = q->Bind(1, virtual_mesh).Run(); !s.ok()) return s;
    }
    auto q = db_.Prepare("DELETE FROM root_rotations WHERE virtual_mesh = ?1");
    if (!q.ok()) return q.error();
    if (Status s = q->Bind(1, virtual_mesh).Run(); !s.ok()) return s;
    return tx->Commit();
  }

  Status RecordIssuedCertificate(const IssuedCertificateRecord& r) override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare(
        "INSERT INTO issued_certificates (serial, virtual_mesh, mesh, cluster, not_before, not_after, "
        "public_key_fingerprint, issued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!q.ok()) return q.error();
    return q->Bind(1, r.serial)
        .Bind(2, r.virtual_mesh)
        .Bind(3, r.mesh)
        .Bind(4, r.cluster)
        .Bind(5, ToMillis(r.not_before))
        .Bind(6, ToMillis(r.not_after))
        .Bind(7, r.public_key_fingerprint)
        .Bind(8, ToMillis(r.issued_at))
        .Run();
  }

  Result<std::vector<IssuedCertificateRecord>> ListIssuedCertificates() override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare(
        "SELECT serial, virtual_mesh, mesh, cluster, not_before, not_after, public_key_fingerprint, issued_at FROM "
        "issued_certificates ORDER BY issued_at, serial");
    if (!q.ok()) return q.error();
    std::vector<IssuedCertificateRecord> out;
    while (true) {
      auto row = q->Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back({q->ColumnText(0), q->ColumnText(1), q->ColumnText(2), q->ColumnText(3),
                     FromMillis(q->ColumnInt(4)), FromMillis(q->ColumnInt(5)), q->ColumnText(6),
                     FromMillis(q->ColumnInt(7))});
    }
    return out;
  }

  Result<std::string> BindMeshIfAbsent(const std::string& mesh, const std::string& cluster, TimePoint now) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    auto insert = db_.Prepare("INSERT OR IGNORE INTO mesh_owners (mesh, cluster, bound_at) VALUES (?1, ?2, ?3)");
    if (!insert.ok()) return insert.error();
    if (Status s = insert->Bind(1, mesh).Bind(2, cluster).Bind(3, ToMillis(now)).Run(); !s.ok()) return s.error();
    auto owner = LoadMeshOwner(mesh);
    if (!owner.ok()) return owner.error();
    if (!owner->has_value()) return store_errors::MeshNotBound(mesh, cluster);
    if (Status s = tx->Commit(); !s.ok()) return s.error();
    return **owner;
  }

  Result<std::optional<std::string>> GetMeshOwner(const std::string& mesh) override {
    std::lock_guard lock(mu_);
    return LoadMeshOwner(mesh);
  }

  Result<std::map<std::string, std::string>> ListMeshOwners() override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare("SELECT mesh, cluster FROM mesh_owners");
    if (!q.ok()) return q.error();
    std::map<std::string, std::string> out;
    while (true) {
      auto row = q->Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out[q->ColumnText(0)] = q->ColumnText(1);
    }
    return out;
  }

  Result<StoredObject> PutObject(const StoredObject& object, std::optional<std::int64_t> expected_version) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.error();
    auto current = LoadObject(object.kind, object.ns, object.name);
    if (!current.ok()) return current.error();
    if (expected_version) {
      const std::int64_t have = current->has_value() ? (*current)->resource_version : 0;
      if (have != *expected_version) {
        return store_errors::Conflict(object, have, *expected_version);
      }
    }
    auto bump = db_.Exec("UPDATE counters SET value = value + 1 WHERE name = 'resource_version'");
    if (!bump.ok()) return bump.error();
    auto counter = db_.Prepare("SELECT value FROM counters WHERE name = 'resource_version'");
    if (!counter.ok()) return counter.error();
    if (auto row = counter->Step(); !row.ok() || !*row) return MakeError("resource version counter missing");
    StoredObject stored = object;
    stored.resource_version = counter->ColumnInt(0);
    auto q = db_.Prepare(
        "INSERT INTO objects (kind, namespace, name, uid, generation, resource_version, creation_timestamp, body, "
        "status, last_good, last_good_generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
        "ON CONFLICT (kind, namespace, name) DO UPDATE SET uid = ?4, generation = ?5, resource_version = ?6, "
        "creation_timestamp = ?7, body = ?8, status = ?9, last_good = ?10, last_good_generation = ?11");
    if (!q.ok()) return q.error();
    q->Bind(1, stored.kind).Bind(2, stored.ns).Bind(3, stored.name).Bind(4, stored.uid);
    q->Bind(5, stored.generation).Bind(6, stored.resource_version).Bind(7, stored.creation_timestamp);
    q->BindBlob(8, stored.body).BindBlob(9, stored.status);
    if (stored.last_good) {
      q->BindBlob(10, *stored.last_good);
    } else {
      q->BindNull(10);
    }
    q->Bind(11, stored.last_good_generation);
    if (Status s = q->Run(); !s.ok()) return s.error();
    if (Status s = tx->Commit(); !s.ok()) return s.error();
    return stored;
  }

  Result<std::optional<StoredObject>> GetObject(const std::string& kind, const std::string& ns,
                                                const std::string& name) override {
    std::lock_guard lock(mu_);
    return LoadObject(kind, ns, name);
  }

  Result<std::vector<StoredObject>> ListObjects(const std::string& kind) override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare(std::string(kSelectObject) + " WHERE kind = ?1 ORDER BY namespace, name");
    if (!q.ok()) return q.error();
    q->Bind(1, kind);
    std::vector<StoredObject> out;
    while (true) {
      auto row = q->Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back(ReadObject(*q));
    }
    return out;
  }

  Result<bool> DeleteObject(const std::string& kind, const std::string& ns, const std::string& name) override {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare("DELETE FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3");
    if (!q.ok()) return q.error();
    if (Status s = q->Bind(1, kind).Bind(2, ns).Bind(3, name).Run(); !s.ok()) return s.error();
    return db_.Changes() > 0;
  }

 private:
  static constexpr const char* kSelectObject =
      "SELECT kind, namespace, name, uid, generation, resource_version, creation_timestamp, body, status, last_good, "
      "last_good_generation FROM objects";

  static StoredObject ReadObject(const Statement& q) {
    StoredObject o;
    o.kind = q.ColumnText(0);
    o.ns = q.ColumnText(1);
    o.name = q.ColumnText(2);
    o.uid = q.ColumnText(3);
    o.generation = q.ColumnInt(4);
    o.resource_version = q.ColumnInt(5);
    o.creation_timestamp = q.ColumnText(6);
    o.body = q.ColumnText(7);
    o.status = q.ColumnText(8);
    if (!q.ColumnIsNull(9)) o.last_good = q.ColumnText(9);
    o.last_good_generation = q.ColumnInt(10);
    return o;
  }

  Result<std::optional<StoredObject>> LoadObject(const std::string& kind, const std::string& ns,
                                                 const std::string& name) {
    auto q = db_.Prepare(std::string(kSelectObject) + " WHERE kind = ?1 AND namespace = ?2 AND name = ?3");
    if (!q.ok()) return q.error();
    q->Bind(1, kind).Bind(2, ns).Bind(3, name);
    auto row = q->Step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<StoredObject>();
    return std::optional<StoredObject>(ReadObject(*q));
  }

  Result<std::optional<std::string>> LoadMeshOwner(const std::string& mesh) {
    auto q = db_.Prepare("SELECT cluster FROM mesh_owners WHERE mesh = ?1");
    if (!q.ok()) return q.error();
    q->Bind(1, mesh);
    auto row = q->Step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<std::string>();
    return std::optional<std::string>(q->ColumnText(0));
  }

  static constexpr const char* kSelectRootCa =
      "SELECT virtual_mesh, certificate_pem, chain_pem, key_pem, source, created_at FROM root_cas";

  static RootCaRecord ReadRootCa(const Statement& q) {
    return RootCaRecord{q.ColumnText(0), q.ColumnText(1), q.ColumnText(2),
                        q.ColumnText(3), q.ColumnText(4), FromMillis(q.ColumnInt(5))};
  }

  Result<std::optional<RootCaRecord>> LoadRootCa(const std::string& virtual_mesh) {
    auto q = db_.Prepare(std::string(kSelectRootCa) + " WHERE virtual_mesh = ?1");
    if (!q.ok()) return q.error();
    q->Bind(1, virtual_mesh);
    auto row = q->Step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<RootCaRecord>();
    return std::optional<RootCaRecord>(ReadRootCa(*q));
  }

  Result<std::optional<RootRotationRecord>> LoadRotation(const std::string& virtual_mesh) {
    auto q = db_.Prepare(
        "SELECT virtual_mesh, phase, next_certificate_pem, next_chain_pem, next_key_pem, next_source, "
        "next_created_at, reason, started_at, phase_since FROM root_rotations WHERE virtual_mesh = ?1");
    if (!q.ok()) return q.error();
    q->Bind(1, virtual_mesh);
    auto row = q->Step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<RootRotationRecord>();
    RootRotationRecord r;
    r.virtual_mesh = q->ColumnText(0);
    r.phase = q->ColumnText(1);
    r.next = RootCaRecord{r.virtual_mesh,   q->ColumnText(2), q->ColumnText(3),
                          q->ColumnText(4), q->ColumnText(5), FromMillis(q->ColumnInt(6))};
    r.reason = q->ColumnText(7);
    r.started_at = FromMillis(q->ColumnInt(8));
    r.phase_since = FromMillis(q->ColumnInt(9));
    return std::optional<RootRotationRecord>(std::move(r));
  }

  Status CheckRotationPhase(const std::string& virtual_mesh, const std::string& from) {
    auto existing = LoadRotation(virtual_mesh);
    if (!existing.ok()) return existing.error();
    if (!existing->has_value()) return store_errors::NoRotation(virtual_mesh);
    if ((*existing)->phase != from) return store_errors::RotationPhaseChanged(virtual_mesh, from, (*existing)->phase);
    return OkStatus();
  }

  static constexpr const char* kSelectAdmin =
      "SELECT serial, not_after, public_key_fingerprint, created_at, revoked_at, replaced_by FROM admin_credentials";

  static AdminCredential ReadAdmin(const Statement& q) {
    AdminCredential c;
    c.serial = q.ColumnText(0);
    c.not_after = FromMillis(q.ColumnInt(1));
    c.public_key_fingerprint = q.ColumnText(2);
    c.created_at = FromMillis(q.ColumnInt(3));
    c.revoked_at = FromMillis(q.ColumnOptionalInt(4));
    c.replaced_by = q.ColumnText(5);
    return c;
  }

  Status InsertAdminLocked(const AdminCredential& c) {
    auto q = db_.Prepare(
        "INSERT INTO admin_credentials (serial, not_after, public_key_fingerprint, created_at) VALUES (?1, ?2, ?3, "
        "?4)");
    if (!q.ok()) return q.error();
    Status s = q->Bind(1, c.serial)
                   .Bind(2, ToMillis(c.not_after))
                   .Bind(3, c.public_key_fingerprint)
                   .Bind(4, ToMillis(c.created_at))
                   .Run();
    if (!s.ok()) return s.error().Wrap("admin credential serial " + c.serial);
    return OkStatus();
  }

  Status CheckAdminLocked(const std::string& serial) {
    auto q = db_.Prepare("SELECT revoked_at, replaced_by FROM admin_credentials WHERE serial = ?1");
    if (!q.ok()) return q.error();
    q->Bind(1, serial);
    auto row = q->Step();
    if (!row.ok()) return row.error();
    if (!*row) return store_errors::AdminUnknown(serial);
    if (!q->ColumnIsNull(0)) return store_errors::AdminRevoked(serial, q->ColumnInt(0), q->ColumnText(1));
    return OkStatus();
  }

  static constexpr const char* kSelectCluster =
      "SELECT name, state, registered_at, agent_version, identity_serial, identity_not_after, connected_since, "
      "last_heartbeat FROM clusters";

  Result<int> ReadSchemaVersion() {
    auto q = db_.Prepare("SELECT version FROM schema_version");
    if (!q.ok()) return q.error();
    auto row = q->Step();
    if (!row.ok()) return row.error();
    return *row ? static_cast<int>(q->ColumnInt(0)) : 0;
  }

  static ClusterRecord ReadCluster(const Statement& q) {
    ClusterRecord c;
    c.name = q.ColumnText(0);
    c.state = ParseState(q.ColumnText(1));
    c.registered_at = FromMillis(q.ColumnInt(2));
    c.agent_version = q.ColumnText(3);
    c.identity_serial = q.ColumnText(4);
    c.identity_not_after = FromMillis(q.ColumnOptionalInt(5));
    c.connected_since = FromMillis(q.ColumnOptionalInt(6));
    c.last_heartbeat = FromMillis(q.ColumnOptionalInt(7));
    return c;
  }

  Result<std::optional<ClusterRecord>> LoadCluster(const std::string& name) {
    auto q = db_.Prepare(std::string(kSelectCluster) + " WHERE name = ?1");
    if (!q.ok()) return q.error();
    q->Bind(1, name);
    auto row = q->Step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<ClusterRecord>();
    return std::optional<ClusterRecord>(ReadCluster(*q));
  }

  Status Run(const char* sql, const std::string& arg) {
    auto q = db_.Prepare(sql);
    if (!q.ok()) return q.error();
    return q->Bind(1, arg).Run();
  }

  Status CheckTokenLocked(const std::string& cluster, const std::string& token_hash, TimePoint now) {
    auto q = db_.Prepare(
        "SELECT t.cluster, t.expires_at, t.used_at, c.state FROM bootstrap_tokens t JOIN clusters c ON c.name = "
        "t.cluster WHERE t.token_hash = ?1");
    if (!q.ok()) return q.error();
    q->Bind(1, token_hash);
    auto row = q->Step();
    if (!row.ok()) return row.error();
    if (!*row || q->ColumnText(0) != cluster) return store_errors::InvalidToken(cluster);
    if (!q->ColumnIsNull(2)) return store_errors::TokenUsed(cluster, q->ColumnInt(2));
    if (q->ColumnInt(1) <= ToMillis(now)) return store_errors::TokenExpired(cluster, q->ColumnInt(1));
    return OkStatus();
  }

  Status InsertIdentityLocked(const IssuedIdentity& id) {
    auto q = db_.Prepare(
        "INSERT INTO identities (serial, cluster, not_before, not_after, public_key_fingerprint) VALUES (?1, ?2, ?3, "
        "?4, ?5)");
    if (!q.ok()) return q.error();
    if (Status s = q->Bind(1, id.serial)
                       .Bind(2, id.cluster)
                       .Bind(3, ToMillis(id.not_before))
                       .Bind(4, ToMillis(id.not_after))
                       .Bind(5, id.public_key_fingerprint)
                       .Run();
        !s.ok()) {
      return s;
    }
    auto u = db_.Prepare("UPDATE clusters SET identity_serial = ?2, identity_not_after = ?3 WHERE name = ?1");
    if (!u.ok()) return u.error();
    return u->Bind(1, id.cluster).Bind(2, id.serial).Bind(3, ToMillis(id.not_after)).Run();
  }

  Status UpdateLive(const std::string& name, const char* sql, TimePoint now, std::optional<std::string> version) {
    std::lock_guard lock(mu_);
    auto q = db_.Prepare(sql);
    if (!q.ok()) return q.error();
    q->Bind(1, name).Bind(2, ToMillis(now));
    if (version) q->Bind(3, *version);
    return q->Run();
  }

  std::mutex mu_;
  Database db_;
};

}  // namespace

int CurrentSchemaVersion() { return kSchemaVersion; }

Result<StorePtr> OpenSqliteStore(const std::string& path) {
  auto db = Database::Open(path);
  if (!db.ok()) return db.error();
  auto store = std::make_unique<SqliteStore>(std::move(*db));
  if (Status s = store->Migrate(); !s.ok()) return s.error().Wrap("cannot open store " + path);
  return StorePtr(std::move(store));
}

}  // namespace vmesh::hub
