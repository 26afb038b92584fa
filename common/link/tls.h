// TLS set-up for the hub–agent link (SPEC §9): TLS 1.2 minimum (1.3 preferred by OpenSSL's negotiation),
// mutual authentication, and the identity a verified peer certificate carries.
//
// Thread safety: a TlsContext is immutable after creation and may be shared by any number of connections on
// any threads. PeerIdentity is a plain value.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/pki/certificate.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace vmesh::link {

struct ServerTlsConfig {
  // PEM: the server certificate first, then any intermediates.
  std::string certificate_chain_pem;
  // PEM: the server certificate's private key (unencrypted).
  std::string private_key_pem;
  // PEM bundle of the CAs whose client certificates are accepted. When set, every handshake asks for a
  // client certificate; one that is presented must verify (with clientAuth), or the handshake fails. Whether a
  // certificate is *required* is decided per route by the server (see server.h), so that /v1/bootstrap works
  // without one. Empty: no client certificate is requested.
  std::string client_ca_pem;
};

struct ClientTlsConfig {
  // PEM bundle of the CAs trusted to have issued the server's certificate (the only trust anchors; system
  // CAs are never used). Required.
  std::string ca_bundle_pem;
  // Optional client identity: PEM certificate chain (leaf first) and its private key. Both or neither.
  std::string certificate_chain_pem;
  std::string private_key_pem;
};

// An OpenSSL context configured for one role. Create with Server() or Client().
class TlsContext {
 public:
  // Fails, naming the problem, when a PEM does not parse or the key does not match the certificate.
  static Result<std::shared_ptr<TlsContext>> Server(const ServerTlsConfig& config);
  static Result<std::shared_ptr<TlsContext>> Client(const ClientTlsConfig& config);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool is_server() const { return server_; }
  // For tweaks tests need (e.g. capping the protocol version). Changes affect later handshakes only.
  SSL_CTX* native_handle() const;
  boost::asio::ssl::context& asio_context() const { return *context_; }

 private:
  TlsContext(std::unique_ptr<boost::asio::ssl::context> context, bool server);

  std::unique_ptr<boost::asio::ssl::context> context_;
  bool server_;
};

using TlsContextPtr = std::shared_ptr<TlsContext>;

// Client side, per connection: SNI (for DNS names) and verification of the server certificate against `host`
// (a DNS name matched against DNS SANs, or an IP address matched against IP SANs). Fails for an empty host.
Status ConfigureServerVerification(SSL* ssl, const std::string& host);

// What the peer's verified certificate says about it.
struct PeerIdentity {
  // A certificate was presented and verified against the configured CAs. When false the other fields are empty.
  bool authenticated = false;
  std::vector<std::string> uri_sans;  // e.g. "spiffe://hub/cluster/cluster-1"
  std::vector<std::string> dns_sans;
  std::string serial_hex;   // lowercase hex, as pki::Certificate::serial_hex()
  std::string subject;      // RFC 2253
  std::string fingerprint;  // SHA-256 of the DER, lowercase hex
  std::optional<pki::Certificate> certificate;

  // The first URI SAN starting with "spiffe://", or "" when there is none.
  std::string spiffe_id() const;
  // "spiffe://hub/cluster/c1 (serial 4f…)" or "anonymous", for logs.
  std::string ToString() const;
};

// The identity of the peer of a completed handshake (the verified peer certificate, if any).
PeerIdentity PeerIdentityFromSsl(SSL* ssl);

// Decides, after the TLS handshake and before an upgrade or request is served, whether an authenticated peer
// is still welcome (e.g. its serial or cluster has not been revoked). Return false to refuse (HTTP 403).
// Called on a connection's strand; must be thread-safe.
using IdentityCheck = std::function<bool(const PeerIdentity&)>;

}  // namespace vmesh::link
