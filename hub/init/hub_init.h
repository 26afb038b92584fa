// `vmesh-hub init` (SPEC §2): the hub's own link CA (separate from any VirtualMesh root), its server
// certificate, and the admin credential. Safe to re-run: existing material is never overwritten; what is
// missing is created.
//
// Data directory layout (mode 0700):
//   hub.db              SQLite store (absent with the Kubernetes store, which holds the same in the cluster) (0600):
//   the link CA (certificate + key, sealed with AES-256-GCM when a
//                       key-encryption key is configured), the hub name, pinned admin serials, clusters, ...
//   server.crt          the hub's TLS server certificate (agent and API endpoints), chained to the link CA
//   server.key          its key (0600)
//   admin.vmeshconfig   hub URL, link CA, admin client certificate and key (0600) — what vmeshctl reads
#pragma once

#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/pki/issuer.h"
#include "hub/store/store.h"

namespace vmesh::hub {

inline constexpr char kHubNameSetting[] = "hub-name";

struct InitOptions {
  std::string data_dir;
  // Names the hub in agent identities (spiffe://<hub-name>/cluster/<name>); fixed at the first init.
  std::string hub_name = "vmesh-hub";
  // Host names / IP addresses agents and vmeshctl use to reach the hub; go into the server certificate.
  // localhost and 127.0.0.1 are always included.
  std::vector<std::string> advertise_hosts;
  // URL written into admin.vmeshconfig.
  std::string api_url = "https://127.0.0.1:9901";
  // --root-key-encryption-key-file: the link CA key (new, or stored in plain by an earlier init) and any root
  // key stored in plain are sealed with it.
  std::optional<std::string> key_encryption_key;
  // false (--no-admin-config): no admin.vmeshconfig and no admin pin — for replicas that only serve (a chart's
  // pods), so that re-created pods do not pile up pinned credentials; operators run their own init for theirs.
  bool admin_config = true;
};

struct InitReport {
  std::string hub_name;  // the name in force (an earlier init's, if any)
  std::vector<std::string> created;
  std::vector<std::string> kept;
};

// Creates what is missing in `store` (hub name, link CA, the admin credential's pin) and in options.data_dir (server
// certificate and key, admin.vmeshconfig); keeps what exists. The store is SQLite (hub.db in the data directory)
// or the Kubernetes store (shared by the replicas, each of which may have its own data directory).
Result<InitReport> InitHub(Store& store, const InitOptions& options, TimePoint now);
// The SQLite store: opens (creating) DIR/hub.db, then InitHub(store, ...).
Result<InitReport> InitHub(const InitOptions& options, TimePoint now);

// The link CA as a signer, from the store. A sealed key needs `key_encryption_key`; without it, or with the
// wrong one, the error says so in one line.
Result<pki::CaSigner> LoadLinkCa(Store& store, const std::optional<std::string>& key_encryption_key = std::nullopt);

// The associated data the link CA key is sealed with (root keys use their VirtualMesh, "<namespace>/<name>").
inline constexpr char kLinkCaSealContext[] = "vmesh link CA";

struct SealReport {
  bool link_ca_sealed = false;  // the link CA key was stored in plain and is now sealed
  int roots_sealed = 0;         // root keys that were stored in plain and are now sealed
  int roots_already_sealed = 0;
};

// With a key-encryption key (serve and init with --root-key-encryption-key-file): first checks that every key
// already sealed opens with it (a wrong key fails here, naming the key it does not open), then seals the link
// CA key and every VirtualMesh root key still stored in plain, all in one store transaction. Idempotent.
Result<SealReport> SealKeysAtRest(Store& store, const std::string& key_encryption_key);

// --- Admin credentials (pinned by serial; SPEC §2) ---------------------------------------------------------
// The admin client certificate profile: O=vmesh, CN "vmesh admin", SAN spiffe://<hub-name>/admin, clientAuth.
pki::LeafProfile AdminProfile(const std::string& hub_name);

// The upgrade rule for data directories made before admin serials were pinned: when the store has no admin
// credential at all (none pinned, none revoked), the certificate in `admin_config_path` is pinned, provided it
// chains to the link CA and carries the admin identity. Runs once: after that, pins only change through init
// (a new admin.vmeshconfig) and `vmeshctl admin rotate`. Returns the serial pinned, or nullopt when nothing was
// to do (already pinned, or no admin.vmeshconfig).
Result<std::optional<std::string>> PinAdminCredentialOnce(Store& store, const pki::CaSigner& link_ca,
                                                          const std::string& hub_name,
                                                          const std::string& admin_config_path, TimePoint now);

struct RotatedAdmin {
  std::string certificate_pem;
  std::string serial;
};

// `vmeshctl admin rotate` on the hub: signs `csr_pem` (only its public key is used) as a new admin certificate
// from the link CA, pins its serial and revokes `old_serial` (the caller's) in one transaction. A CSR that does
// not parse is kInvalidArgument.
Result<RotatedAdmin> RotateAdminCredential(Store& store, const pki::CaSigner& link_ca, const std::string& hub_name,
                                           const std::string& old_serial, const std::string& csr_pem, TimePoint now);

std::string StorePath(const std::string& data_dir);
std::string ServerCertificatePath(const std::string& data_dir);
std::string ServerKeyPath(const std::string& data_dir);
std::string AdminConfigPath(const std::string& data_dir);

}  // namespace vmesh::hub
