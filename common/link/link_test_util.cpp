#include "common/link/link_test_util.h"

#include <cstdlib>
#include <thread>

#include "common/pki/csr.h"

namespace vmesh::link::test {
namespace {

template <typename T>
T Must(Result<T> result, const char* what) {
  if (!result.ok()) {
    fprintf(stderr, "%s: %s\n", what, result.error().message.c_str());
    std::abort();
  }
  return std::move(result).value();
}

Identity Issue(const pki::CaSigner& signer, const pki::LeafProfile& profile) {
  auto key = Must(pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256()), "key");
  pki::CsrRequest request;
  request.subject.common_name = "link test";
  auto csr = Must(pki::Csr::Create(key, request), "csr");
  auto cert = Must(pki::IssueLeaf(signer, csr, profile, std::chrono::system_clock::now()), "leaf");
  return Identity{cert.ToPem(), key.ToPem(), cert.serial_hex()};
}

}  // namespace

TestCa::TestCa(const std::string& name) {
  auto key = Must(pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256()), "CA key");
  pki::RootCaProfile profile;
  profile.common_name = "vmesh link CA " + name;
  auto cert = Must(pki::IssueRootCa(key, profile, std::chrono::system_clock::now()), "CA");
  ca_pem_ = cert.ToPem();
  signer_.emplace(Must(pki::CaSigner::Create(cert, key), "CA signer"));
}

Identity TestCa::IssueServer(std::vector<std::string> dns_sans, std::vector<std::string> ip_sans) const {
  pki::LeafProfile profile;
  profile.subject.common_name = "vmesh-hub";
  profile.ip_sans = std::move(ip_sans);
  profile.dns_sans = std::move(dns_sans);
  profile.server_auth = true;
  return Issue(*signer_, profile);
}

Identity TestCa::IssueClient(const std::string& cluster) const {
  pki::LeafProfile profile;
  profile.uri_sans = {"spiffe://hub/cluster/" + cluster};
  profile.client_auth = true;
  return Issue(*signer_, profile);
}

const TestCa& LinkCa() {
  static const TestCa ca("test");
  return ca;
}

const Identity& ServerIdentity() {
  static const Identity identity = LinkCa().IssueServer();
  return identity;
}

TlsContextPtr ServerTls() {
  ServerTlsConfig config;
  config.certificate_chain_pem = ServerIdentity().certificate_pem;
  config.private_key_pem = ServerIdentity().key_pem;
  config.client_ca_pem = LinkCa().ca_pem();
  return Must(TlsContext::Server(config), "server TLS");
}

TlsContextPtr ClientTls(const Identity* client) {
  ClientTlsConfig config;
  config.ca_bundle_pem = LinkCa().ca_pem();
  if (client) {
    config.certificate_chain_pem = client->certificate_pem;
    config.private_key_pem = client->key_pem;
  }
  return Must(TlsContext::Client(config), "client TLS");
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace vmesh::link::test
