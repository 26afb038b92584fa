// `vmesh-hub init` (SPEC §2): the hub's own link CA (separate from any VirtualMesh root), its server
// certificate, and the admin credential. Safe to re-run: existing material is never overwritten; what is
// missing is created.
//
// Data directory layout (mode 0700):
//   hub.db              SQLite store (0600): the link CA (certificate + key), the hub name, clusters, ...
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
};

struct InitReport {
  std::string hub_name;  // the name in force (an earlier init's, if any)
  std::vector<std::string> created;
  std::vector<std::string> kept;
};

Result<InitReport> InitHub(const InitOptions& options, TimePoint now);

// The link CA as a signer, from the store.
Result<pki::CaSigner> LoadLinkCa(Store& store);

std::string StorePath(const std::string& data_dir);
std::string ServerCertificatePath(const std::string& data_dir);
std::string ServerKeyPath(const std::string& data_dir);
std::string AdminConfigPath(const std::string& data_dir);

}  // namespace vmesh::hub
