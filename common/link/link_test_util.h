// Helpers for the common/link tests: a throw-away PKI (link CA, server and client certificates), TLS contexts
// built from it, and waiting for conditions.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/link/tls.h"
#include "common/pki/issuer.h"
#include "common/pki/key.h"

namespace vmesh::link::test {

struct Identity {
  std::string certificate_pem;
  std::string key_pem;
  std::string serial_hex;
};

// A CA that issues link certificates. ECDSA P-256 keys, so that creating one takes milliseconds.
class TestCa {
 public:
  explicit TestCa(const std::string& name);
  const std::string& ca_pem() const { return ca_pem_; }
  // serverAuth with the given SANs (by default IP 127.0.0.1 and DNS localhost).
  Identity IssueServer(std::vector<std::string> dns_sans = {"localhost"},
                       std::vector<std::string> ip_sans = {"127.0.0.1"}) const;
  // clientAuth, SAN URI spiffe://hub/cluster/<cluster>.
  Identity IssueClient(const std::string& cluster) const;

 private:
  std::optional<pki::CaSigner> signer_;
  std::string ca_pem_;
};

// The process-wide link CA, server identity and its server context (client CA = the link CA).
const TestCa& LinkCa();
const Identity& ServerIdentity();
TlsContextPtr ServerTls();
// A client context trusting the link CA, with `client` as its identity (or none).
TlsContextPtr ClientTls(const Identity* client);

// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace vmesh::link::test
