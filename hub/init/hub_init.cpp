#include "hub/init/hub_init.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/api/dns.h"
#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/base/resource_names.h"
#include "common/pki/aead.h"
#include "common/pki/csr.h"
#include "common/pki/secure_string.h"
#include "common/pki/verify.h"
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

Result<pki::CaSigner> LoadLinkCa(Store& store, const std::optional<std::string>& key_encryption_key) {
  auto material = store.GetLinkCa();
  if (!material.ok()) return material.error();
  if (!material->has_value()) return MakeError("the hub has no link CA: run `vmesh-hub init` first");
  auto cert = pki::Certificate::FromPem((*material)->certificate_pem);
  if (!cert.ok()) return cert.error().Wrap("link CA certificate");
  Result<pki::PrivateKey> key = MakeError("unset");
  if (pki::IsSealed((*material)->key_pem)) {
    if (!key_encryption_key) {
      return MakeError(
          "the link CA key is sealed with a key-encryption key: start the hub with --root-key-encryption-key-file");
    }
    auto opened = pki::Open(*key_encryption_key, (*material)->key_pem, kLinkCaSealContext);
    if (!opened.ok()) {
      return MakeError(
          "the key-encryption key does not open the sealed link CA key (wrong "
          "--root-key-encryption-key-file?): " +
          opened.error().message);
    }
    key = pki::PrivateKey::FromPem(opened->view());
  } else {
    key = pki::PrivateKey::FromPem((*material)->key_pem);
  }
  if (!key.ok()) return key.error().Wrap("link CA key");
  return pki::CaSigner::Create(std::move(*cert), std::move(*key));
}

Result<SealReport> SealKeysAtRest(Store& store, const std::string& kek) {
  SealReport report;
  std::vector<StoredKeyUpdate> updates;
  auto link = store.GetLinkCa();
  if (!link.ok()) return link.error();
  if (link->has_value()) {
    const std::string& stored = (*link)->key_pem;
    if (pki::IsSealed(stored)) {
      if (auto opened = pki::Open(kek, stored, kLinkCaSealContext); !opened.ok()) {
        return MakeError(
            "the key-encryption key does not open the sealed link CA key (wrong "
            "--root-key-encryption-key-file?): " +
            opened.error().message);
      }
    } else {
      auto sealed = pki::Seal(kek, stored, kLinkCaSealContext);
      if (!sealed.ok()) return sealed.error().Wrap("sealing the link CA key");
      updates.push_back({"", stored, std::move(*sealed)});
      report.link_ca_sealed = true;
    }
  }
  auto roots = store.ListRootCas();
  if (!roots.ok()) return roots.error();
  for (auto& root : *roots) {
    if (pki::IsSealed(root.key_pem)) {
      if (auto opened = pki::Open(kek, root.key_pem, root.virtual_mesh); !opened.ok()) {
        return MakeError("the key-encryption key does not open the sealed root key of " + root.virtual_mesh +
                         " (wrong --root-key-encryption-key-file?): " + opened.error().message);
      }
      ++report.roots_already_sealed;
    } else {
      auto sealed = pki::Seal(kek, root.key_pem, root.virtual_mesh);
      if (!sealed.ok()) return sealed.error().Wrap("sealing the root key of " + root.virtual_mesh);
      updates.push_back({root.virtual_mesh, root.key_pem, std::move(*sealed)});
      ++report.roots_sealed;
    }
    pki::Cleanse(root.key_pem);
  }
  if (link->has_value()) pki::Cleanse((*link)->key_pem);
  // Also with nothing to update: the checkpoint flushes what an earlier step (e.g. sealing Secrets) left in the WAL.
  Status s = store.ReplaceStoredKeys(updates);
  for (auto& u : updates) pki::Cleanse(u.expected_key_pem);
  if (!s.ok()) return s.error().Wrap("sealing keys at rest");
  return report;
}

pki::LeafProfile AdminProfile(const std::string& hub_name) {
  return pki::LeafProfile{.subject = {.common_name = "vmesh admin", .organization = "vmesh"},
                          .uri_sans = {AdminSpiffeId(hub_name)},
                          .client_auth = true,
                          .ttl = kAdminCertTtl};
}

namespace {

AdminCredential CredentialOf(const pki::Certificate& cert, TimePoint now) {
  auto key = cert.public_key();
  return AdminCredential{
      cert.serial_hex(), cert.not_after(), key.ok() ? key->Fingerprint() : "", now, std::nullopt, ""};
}

}  // namespace

Result<std::optional<std::string>> PinAdminCredentialOnce(Store& store, const pki::CaSigner& link_ca,
                                                          const std::string& hub_name,
                                                          const std::string& admin_config_path, TimePoint now) {
  auto pinned = store.ListAdminCredentials();
  if (!pinned.ok()) return pinned.error();
  if (!pinned->empty() || !FileExists(admin_config_path)) return std::optional<std::string>();
  auto text = ReadFile(admin_config_path, ReadOptions{.no_follow = true});
  if (!text.ok()) return text.error();
  config::v1::AdminConfig admin;
  auto errors = api::DecodeInto(*text, &admin);
  pki::Cleanse(*text);
  pki::Cleanse(*admin.mutable_client_key());
  if (!errors.empty()) return MakeError(admin_config_path + ": " + api::JoinErrors(errors));
  auto cert = pki::Certificate::FromPem(admin.client_certificate());
  if (!cert.ok()) return cert.error().Wrap(admin_config_path + " clientCertificate");
  if (auto chain = pki::VerifyChain(*cert, {link_ca.certificate()}, {}, now); !chain.ok()) {
    return chain.error().Wrap(admin_config_path + " clientCertificate is not an admin certificate of this hub");
  }
  const auto sans = cert->uri_sans();
  if (std::find(sans.begin(), sans.end(), AdminSpiffeId(hub_name)) == sans.end()) {
    return MakeError(admin_config_path + " clientCertificate lacks the admin identity " + AdminSpiffeId(hub_name));
  }
  if (Status s = store.AddAdminCredential(CredentialOf(*cert, now)); !s.ok()) return s.error();
  return std::optional<std::string>(cert->serial_hex());
}

Result<RotatedAdmin> RotateAdminCredential(Store& store, const pki::CaSigner& link_ca, const std::string& hub_name,
                                           const std::string& old_serial, const std::string& csr_pem, TimePoint now) {
  // Refuse early (before signing anything) when the caller's own credential is not active.
  if (Status s = store.CheckAdminCredential(old_serial); !s.ok()) return s.error();
  auto csr = pki::Csr::FromPem(csr_pem);
  if (!csr.ok()) return csr.error().Wrap("admin CSR").WithCode(ErrorCode::kInvalidArgument);
  auto cert = pki::IssueLeaf(link_ca, *csr, AdminProfile(hub_name), now);
  if (!cert.ok()) return cert.error().Wrap("admin certificate");
  if (Status s = store.RotateAdminCredential(old_serial, CredentialOf(*cert, now), now); !s.ok()) return s.error();
  return RotatedAdmin{cert->ToPem(), cert->serial_hex()};
}

namespace {

struct ServerSans {
  std::vector<std::string> dns = {"localhost"};
  std::vector<std::string> ip = {"127.0.0.1"};
};

// Checks the options before anything is created; the server certificate's SANs.
Result<ServerSans> CheckInitOptions(const InitOptions& options) {
  if (options.data_dir.empty()) return MakeError("--data-dir is required");
  if (auto problem = api::Dns1123SubdomainProblem(options.hub_name)) {
    return MakeError("--hub-name " + api::QuoteValue(options.hub_name) + " " + *problem);
  }
  ServerSans sans;
  for (const std::string& host : options.advertise_hosts) {
    if (IsIpAddress(host)) {
      if (std::find(sans.ip.begin(), sans.ip.end(), host) == sans.ip.end()) sans.ip.push_back(host);
    } else if (api::IsDns1123Subdomain(host) || (host.rfind("*.", 0) == 0 && api::IsDns1123Subdomain(host.substr(2)))) {
      if (std::find(sans.dns.begin(), sans.dns.end(), host) == sans.dns.end()) sans.dns.push_back(host);
    } else {
      return MakeError("--advertise-host " + api::QuoteValue(host) + " is neither an IP address nor a DNS name");
    }
  }
  return sans;
}

}  // namespace

Result<InitReport> InitHub(Store& store, const InitOptions& options, TimePoint now) {
  auto sans = CheckInitOptions(options);
  if (!sans.ok()) return sans.error();
  const std::vector<std::string>& dns_sans = sans->dns;
  const std::vector<std::string>& ip_sans = sans->ip;

  if (Status s = MakeDirectories(options.data_dir, 0700); !s.ok()) return s.error();
  InitReport report;

  auto name = store.PutSettingIfAbsent(kHubNameSetting, options.hub_name);
  if (!name.ok()) return name.error();
  report.hub_name = *name;

  auto existing_ca = store.GetLinkCa();
  if (!existing_ca.ok()) return existing_ca.error();
  if (existing_ca->has_value()) {
    report.kept.push_back("link CA");
  } else {
    auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    if (!key.ok()) return key.error();
    auto cert = pki::IssueRootCa(
        *key, {.organization = "vmesh", .common_name = "vmesh link CA " + report.hub_name, .ttl = kLinkCaTtl}, now);
    if (!cert.ok()) return cert.error();
    pki::SecureString key_pem(key->ToPem());
    std::string stored_key = key_pem.value();
    if (options.key_encryption_key) {
      auto sealed = pki::Seal(*options.key_encryption_key, key_pem.view(), kLinkCaSealContext);
      if (!sealed.ok()) return sealed.error().Wrap("sealing the link CA key");
      pki::Cleanse(stored_key);
      stored_key = std::move(*sealed);
    }
    Status put = store.PutLinkCa({cert->ToPem(), stored_key});
    pki::Cleanse(stored_key);
    if (put.ok()) {
      report.created.push_back("link CA");
    } else if (put.error().code == ErrorCode::kConflict) {
      // Another replica's init (a shared store) created it since we looked: the first link CA wins, use it.
      report.kept.push_back("link CA");
    } else {
      return put.error();
    }
  }
  if (options.key_encryption_key) {
    // A link CA (or roots) stored in plain by an earlier init or serve without the key.
    auto sealed = SealKeysAtRest(store, *options.key_encryption_key);
    if (!sealed.ok()) return sealed.error();
    if (sealed->link_ca_sealed) report.created.push_back("sealed link CA key");
  }
  auto ca = LoadLinkCa(store, options.key_encryption_key);
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
    if (Status s = WriteFileAtomically(key_path, pki::SecureString(key->ToPem()).value(), 0600); !s.ok()) {
      return s.error();
    }
    if (Status s = WriteFileAtomically(cert_path, cert->ToPem() + ca->certificate().ToPem(), 0644); !s.ok()) {
      return s.error();
    }
    report.created.push_back(cert_path);
  }

  const std::string admin_path = AdminConfigPath(options.data_dir);
  if (FileExists(admin_path)) {
    report.kept.push_back(admin_path);
    auto pinned = PinAdminCredentialOnce(store, *ca, report.hub_name, admin_path, now);
    if (!pinned.ok()) return pinned.error();
    if (pinned->has_value()) report.created.push_back("pinned admin certificate serial " + **pinned);
  } else {
    auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    if (!key.ok()) return key.error();
    auto cert = IssueFor(*ca, *key, AdminProfile(report.hub_name), now);
    if (!cert.ok()) return cert.error().Wrap("admin certificate");
    config::v1::AdminConfig admin;
    admin.set_api_version("vmesh.dev/v1");
    admin.set_kind("AdminConfig");
    admin.set_hub_url(options.api_url);
    admin.set_hub_ca(ca->certificate().ToPem());
    admin.set_client_certificate(cert->ToPem());
    admin.set_client_key(pki::SecureString(key->ToPem()).value());
    pki::SecureString encoded(api::Encode(admin, api::Format::kYaml));
    pki::Cleanse(*admin.mutable_client_key());
    // Pinned before the file exists: a credential on disk is always one the API accepts.
    if (Status s = store.AddAdminCredential(CredentialOf(*cert, now)); !s.ok()) return s.error();
    if (Status s = WriteNewFile(admin_path, encoded.value(), 0600); !s.ok()) return s.error();
    report.created.push_back(admin_path);
  }
  return report;
}

Result<InitReport> InitHub(const InitOptions& options, TimePoint now) {
  if (auto checked = CheckInitOptions(options); !checked.ok()) return checked.error();
  if (Status s = MakeDirectories(options.data_dir, 0700); !s.ok()) return s.error();
  auto store = OpenSqliteStore(StorePath(options.data_dir));
  if (!store.ok()) return store.error();
  return InitHub(**store, options, now);
}

}  // namespace vmesh::hub
