// Cluster registration and agent identities (SPEC §2 `vmeshctl cluster …`, §9 Registration).
//
// Register() creates a one-time bootstrap token (256 random bits; only its SHA-256 is stored) and returns
// the bundle the agent starts with. Bootstrap() exchanges the token and a CSR — whose key the agent
// generated and keeps — for a short-lived client certificate with SAN URI spiffe://<hub-name>/cluster/<NAME>,
// consuming the token in the same transaction that records the identity. RenewIdentity() issues a fresh
// certificate to an agent that proves its current identity over the live session. Deregister() revokes.
//
// Thread-safe (the Store serializes; the CaSigner is immutable).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/base/result.h"
#include "common/pki/issuer.h"
#include "hub/store/store.h"
#include "vmesh/config/v1/config.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::hub {

using Clock = std::function<TimePoint()>;

struct RegistrationOptions {
  std::string hub_name;
  // wss://host:port of the agent endpoint, written into bootstrap bundles.
  std::string agent_url;
  std::chrono::seconds identity_ttl = std::chrono::hours(24);
  std::chrono::seconds max_token_ttl = std::chrono::hours(24 * 7);
};

// The cluster named by an agent SPIFFE ID of this hub (common/base/resource_names.h AgentSpiffeId) that is a valid
// cluster name, or an error (kPermissionDenied).
Result<std::string> ClusterFromSpiffeId(const std::string& hub_name, const std::string& uri);

// SHA-256 of a bootstrap token, lowercase hex: what the store keeps.
std::string HashToken(const std::string& token);

class RegistrationService {
 public:
  RegistrationService(Store& store, pki::CaSigner link_ca, RegistrationOptions options, Clock clock);

  // Fails for a name that is not a DNS-1123 label or a ttl outside (0, max_token_ttl] (kInvalidArgument), or a
  // cluster that has bootstrapped already (deregister first; kConflict).
  Result<config::v1::BootstrapBundle> Register(const std::string& cluster, std::chrono::seconds ttl);

  // Never reveals whether a cluster exists to a caller without its token. A bad CSR is kInvalidArgument; a
  // token that is unknown, used or expired is kPermissionDenied.
  Result<link::v1::BootstrapResponse> Bootstrap(const link::v1::BootstrapRequest& request);

  // For an agent already authenticated as `cluster` on /v1/connect.
  Result<std::string> RenewIdentity(const std::string& cluster, const std::string& csr_pem);

  // OK when a peer presenting `certificate_pem`'s identity may connect: issued by this hub to `cluster`, not
  // revoked. (The TLS layer has already verified the chain and validity.)
  Status CheckPeer(const std::string& cluster, const std::string& serial_hex);

  // The agent of `cluster` opened a session with the identity `serial_hex` (CheckPeer passed): every identity
  // issued to the cluster before that one is revoked, so a stolen older certificate is refused from the next
  // handshake on. Rule: an older serial is revoked only once the agent has proven it holds the newer
  // certificate and key (a handshake with it), never when the renewal is issued — a response lost with the
  // connection would otherwise lock the agent out. Until then both work. Returns how many were revoked.
  Result<int> ConfirmIdentity(const std::string& cluster, const std::string& serial_hex);

  Status Deregister(const std::string& cluster);

  const pki::CaSigner& link_ca() const { return link_ca_; }

  // Fencing (docs/hub-on-kubernetes.md): asked immediately before every agent identity is signed (bootstrap and
  // renewal). When it fails nothing is signed, no token is consumed, and the call fails with kUnavailable:
  // "refusing to sign the identity of cluster C: <the guard's reason>". Set before use (not synchronized).
  void set_signing_guard(std::function<Status()> guard) { signing_guard_ = std::move(guard); }

 private:
  Result<pki::Certificate> IssueIdentity(const std::string& cluster, const std::string& csr_pem);

  Store& store_;
  pki::CaSigner link_ca_;
  RegistrationOptions options_;
  Clock clock_;
  std::function<Status()> signing_guard_;
};

}  // namespace vmesh::hub
