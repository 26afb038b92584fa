#include "common/link/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>

namespace vmesh::link {
namespace ssl = boost::asio::ssl;

namespace {

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// Adds every certificate of a PEM bundle as a trust anchor (and, on a server, as an acceptable client CA).
Status AddTrustAnchors(SSL_CTX* ctx, const std::string& pem, bool advertise, const char* what) {
  auto certs = pki::ParsePemBundle(pem);
  if (!certs.ok()) return certs.error().Wrap(what);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const pki::Certificate& cert : *certs) {
    if (X509_STORE_add_cert(store, cert.get()) != 1) {
      return MakeError(std::string(what) + ": " + OpenSslErrors());
    }
    if (advertise && SSL_CTX_add_client_CA(ctx, cert.get()) != 1) {
      return MakeError(std::string(what) + ": " + OpenSslErrors());
    }
  }
  return OkStatus();
}

Status UseIdentity(ssl::context& context, const std::string& chain_pem, const std::string& key_pem) {
  boost::system::error_code ec;
  context.use_certificate_chain(boost::asio::buffer(chain_pem), ec);
  if (ec) return MakeError("certificate chain: " + ec.message());
  context.use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec) return MakeError("private key: " + ec.message());
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    return MakeError("private key does not match the certificate: " + OpenSslErrors());
  }
  return OkStatus();
}

void SetCommonOptions(ssl::context& context) {
  context.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(context.native_handle(), SSL_OP_NO_RENEGOTIATION);
}

// What the hub's listeners offer (checked by sslscan in e2e_tls_scan_test). TLS 1.3 suites are OpenSSL's
// defaults (all AEAD). TLS 1.2 is limited to forward-secret AEAD suites (Mozilla's "intermediate" list): the CBC
// suites OpenSSL would also offer (ECDHE-*-AES*-SHA, -SHA256/384) are MAC-then-encrypt, the family of Lucky13 and
// padding-oracle attacks, and every client of the hub (vmesh-agent, vmeshctl, curl, Prometheus) speaks GCM or
// ChaCha20-Poly1305. Key exchange: X25519 and the NIST curves, no finite-field groups below 128-bit strength.
constexpr char kServerTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char kServerGroups[] = "X25519:P-256:P-384";

Status SetServerCiphers(SSL_CTX* ctx) {
  if (SSL_CTX_set_cipher_list(ctx, kServerTls12Ciphers) != 1) return MakeError("TLS 1.2 ciphers: " + OpenSslErrors());
  if (SSL_CTX_set1_groups_list(ctx, kServerGroups) != 1) return MakeError("TLS groups: " + OpenSslErrors());
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  return OkStatus();
}

}  // namespace

TlsContext::TlsContext(std::unique_ptr<ssl::context> context, bool server)
    : context_(std::move(context)), server_(server) {}

TlsContext::~TlsContext() = default;

SSL_CTX* TlsContext::native_handle() const { return context_->native_handle(); }

Result<std::shared_ptr<TlsContext>> TlsContext::Server(const ServerTlsConfig& config) {
  ERR_clear_error();
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  SetCommonOptions(*context);
  if (Status s = UseIdentity(*context, config.certificate_chain_pem, config.private_key_pem); !s.ok()) {
    return s.error().Wrap("server TLS identity");
  }
  SSL_CTX* ctx = context->native_handle();
  if (Status s = SetServerCiphers(ctx); !s.ok()) return s.error().Wrap("server TLS");
  if (!config.client_ca_pem.empty()) {
    if (Status s = AddTrustAnchors(ctx, config.client_ca_pem, /*advertise=*/true, "client CA bundle"); !s.ok()) {
      return s.error();
    }
    // Ask for a client certificate and verify any that is presented, but let the route decide whether a
    // missing one is acceptable (no SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    // Session resumption with client verification needs a session id context.
    static const unsigned char kSessionContext[] = "vmesh-link";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(context), /*server=*/true));
}

Result<std::shared_ptr<TlsContext>> TlsContext::Client(const ClientTlsConfig& config) {
  ERR_clear_error();
  if (config.ca_bundle_pem.empty()) return MakeError("client TLS: a CA bundle to verify the server is required");
  if (config.certificate_chain_pem.empty() != config.private_key_pem.empty()) {
    return MakeError("client TLS: a client certificate needs its private key (and vice versa)");
  }
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SetCommonOptions(*context);
  SSL_CTX* ctx = context->native_handle();
  if (Status s = AddTrustAnchors(ctx, config.ca_bundle_pem, /*advertise=*/false, "server CA bundle"); !s.ok()) {
    return s.error();
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!config.certificate_chain_pem.empty()) {
    if (Status s = UseIdentity(*context, config.certificate_chain_pem, config.private_key_pem); !s.ok()) {
      return s.error().Wrap("client TLS identity");
    }
  }
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(context), /*server=*/false));
}

Status ConfigureServerVerification(SSL* ssl, const std::string& host) {
  if (host.empty()) return MakeError("TLS: no host name to verify the server certificate against");
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (!ec) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) return MakeError("TLS: bad IP address " + host);
    return OkStatus();
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1) {
    return MakeError("TLS: bad host name " + host);
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return MakeError("TLS: cannot set SNI for " + host);
  return OkStatus();
}

std::string PeerIdentity::spiffe_id() const {
  for (const std::string& uri : uri_sans) {
    if (uri.rfind("spiffe://", 0) == 0) return uri;
  }
  return "";
}

std::string PeerIdentity::ToString() const {
  if (!authenticated) return "anonymous";
  std::string name = spiffe_id();
  if (name.empty()) name = subject.empty() ? "(no name)" : subject;
  return name + " (serial " + serial_hex + ")";
}

PeerIdentity PeerIdentityFromSsl(SSL* ssl) {
  PeerIdentity identity;
  if (ssl == nullptr) return identity;
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (peer == nullptr) return identity;
  pki::Certificate cert = pki::Certificate::FromOpenSsl(pki::X509Ptr(peer));
  if (SSL_get_verify_result(ssl) != X509_V_OK) return identity;
  identity.authenticated = true;
  identity.uri_sans = cert.uri_sans();
  identity.dns_sans = cert.dns_sans();
  identity.serial_hex = cert.serial_hex();
  identity.subject = cert.subject();
  identity.fingerprint = cert.Fingerprint();
  identity.certificate = std::move(cert);
  return identity;
}

}  // namespace vmesh::link
