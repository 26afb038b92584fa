#include "hub/init/hub_init.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/api/dns.h"
#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/pki/csr.h"
#include "vmesh/config/v1/config.pb.h"

namespace vmesh::hub {
namespace {

using namespace std::chrono_literals;

constexpr auto kLinkCaTtl = std::chrono::hours(24 * 3650);
constexpr auto kServerCertTtl = std::chrono::hours(24 * 365);
constexpr auto kAdminCertTtl = std::chrono::hours(24 * 365);

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Result<pki::Certificate> IssueFor(const pki::CaSigner& ca, const pki::PrivateKey& key, const pki::LeafProfile& profile,
                                  TimePoint now) {
  auto csr = pki::Csr::Create(key, {});
  if (!csr.ok()) return csr.error();
  return pki::IssueLeaf(ca, *csr, profile, now);
}

}  // namespace

std::string StorePath(const std::string& dir) { return dir + "/hub.db"; }
std::string ServerCertificatePath(const std::string& dir) { return dir + "/server.crt"; }
std::string ServerKeyPath(const std::string& dir) { return dir + "/server.key"; }
std::string AdminConfigPath(const std::string& dir) { return dir + "/admin.vmeshconfig"; }

Result<pki::CaSigner> LoadLinkCa(Store& store) {
  auto material = store.GetLinkCa();
  if (!material.ok()) return material.error();
  if (!material->has_value()) return MakeError("the hub has no link CA: run `vmesh-hub init` first");
  auto cert = pki::Certificate::FromPem((*material)->certificate_pem);
  if (!cert.ok()) return cert.error().Wrap("link CA certificate");
  auto key = pki::PrivateKey::FromPem((*material)->key_pem);
  if (!key.ok()) return key.error().Wrap("link CA key");
  return pki::CaSigner::Create(std::move(*cert), std::move(*key));
}

Result<InitReport> InitHub(const InitOptions& options, TimePoint now) {
  if (options.data_dir.empty()) return MakeError("--data-dir is required");
  if (auto problem = api::Dns1123SubdomainProblem(options.hub_name)) {
    return MakeError("--hub-name " + api::QuoteValue(options.hub_name) + " " + *problem);
  }
  std::vector<std::string> dns_sans = {"localhost"};
  std::vector<std::string> ip_sans = {"127.0.0.1"};
  for (const std::string& host : options.advertise_hosts) {
    if (IsIpAddress(host)) {
      if (std::find(ip_sans.begin(), ip_sans.end(), host) == ip_sans.end()) ip_sans.push_back(host);
    } else if (api::IsDns1123Subdomain(host) || (host.rfind("*.", 0) == 0 && api::IsDns1123Subdomain(host.substr(2)))) {
      if (std::find(dns_sans.begin(), dns_sans.end(), host) == dns_sans.end()) dns_sans.push_back(host);
    } else {
      return MakeError("--advertise-host " + api::QuoteValue(host) + " is neither an IP address nor a DNS name");
    }
  }

  if (Status s = MakeDirectories(options.data_dir, 0700); !s.ok()) return s.error();
  auto store = OpenSqliteStore(StorePath(options.data_dir));
  if (!store.ok()) return store.error();
  InitReport report;

  auto name = (*store)->PutSettingIfAbsent(kHubNameSetting, options.hub_name);
  if (!name.ok()) return name.error();
  report.hub_name = *name;

  auto existing_ca = (*store)->GetLinkCa();
  if (!existing_ca.ok()) return existing_ca.error();
  if (existing_ca->has_value()) {
    report.kept.push_back("link CA");
  } else {
    auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    if (!key.ok()) return key.error();
    auto cert = pki::IssueRootCa(
        *key, {.organization = "vmesh", .common_name = "vmesh link CA " + report.hub_name, .ttl = kLinkCaTtl}, now);
    if (!cert.ok()) return cert.error();
    if (Status s = (*store)->PutLinkCa({cert->ToPem(), key->ToPem()}); !s.ok()) return s.error();
    report.created.push_back("link CA");
  }
  auto ca = LoadLinkCa(**store);
  if (!ca.ok()) return ca.error();

  const std::string cert_path = ServerCertificatePath(options.data_dir);
  const std::string key_path = ServerKeyPath(options.data_dir);
  if (FileExists(cert_path) && FileExists(key_path)) {
    report.kept.push_back(cert_path);
  } else {
    auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    if (!key.ok()) return key.error();
    pki::LeafProfile profile{.subject = {.common_name = report.hub_name, .organization = "vmesh"},
                             .dns_sans = dns_sans,
                             .ip_sans = ip_sans,
                             .server_auth = true,
                             .ttl = kServerCertTtl};
    auto cert = IssueFor(*ca, *key, profile, now);
    if (!cert.ok()) return cert.error().Wrap("server certificate");
    // Key first: a certificate without its key would be useless, a key without certificate is re-made.
    if (Status s = WriteFileAtomically(key_path, key->ToPem(), 0600); !s.ok()) return s.error();
    if (Status s = WriteFileAtomically(cert_path, cert->ToPem() + ca->certificate().ToPem(), 0644); !s.ok()) {
      return s.error();
    }
    report.created.push_back(cert_path);
  }

  const std::string admin_path = AdminConfigPath(options.data_dir);
  if (FileExists(admin_path)) {
    report.kept.push_back(admin_path);
  } else {
    auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    if (!key.ok()) return key.error();
    pki::LeafProfile profile{.subject = {.common_name = "vmesh admin", .organization = "vmesh"},
                             .uri_sans = {"spiffe://" + report.hub_name + "/admin"},
                             .client_auth = true,
                             .ttl = kAdminCertTtl};
    auto cert = IssueFor(*ca, *key, profile, now);
    if (!cert.ok()) return cert.error().Wrap("admin certificate");
    config::v1::AdminConfig admin;
    admin.set_api_version("vmesh.dev/v1");
    admin.set_kind("AdminConfig");
    admin.set_hub_url(options.api_url);
    admin.set_hub_ca(ca->certificate().ToPem());
    admin.set_client_certificate(cert->ToPem());
    admin.set_client_key(key->ToPem());
    if (Status s = WriteNewFile(admin_path, api::Encode(admin, api::Format::kYaml), 0600); !s.ok()) return s.error();
    report.created.push_back(admin_path);
  }
  return report;
}

}  // namespace vmesh::hub
