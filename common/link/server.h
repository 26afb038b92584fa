// The link server: one TLS listener serving WebSocket routes (/v1/connect, /v1/bootstrap, ...) and plain HTTPS
// routes on the same port (SPEC §9).
//
// Per accepted connection: TLS handshake (a client certificate is requested and, if presented, verified),
// then the HTTP request is routed by exact path. Before any route handler runs, a route that requires a client
// certificate answers 401 to a peer without one, and the IdentityCheck may refuse an authenticated peer with
// 403. WebSocket upgrades must offer the "vmesh.v1" subprotocol (400 otherwise); unknown paths get 404.
//
// Thread safety: every method may be called from any thread, except Stop() and the destructor, which block and
// must not be called from the io_context's threads. Routes may be added before or after Start().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "common/link/connection.h"
#include "common/link/http.h"
#include "common/link/tls.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vmesh::link {

enum class ClientCertPolicy {
  kOptional,  // the request is served with or without one (PeerIdentity::authenticated tells)
  kRequired,  // 401 without a verified client certificate; the IdentityCheck applies
};

// What a WebSocket route answers to an upgrade request.
struct UpgradeDecision {
  bool accept = false;
  ConnectionHandlers handlers;  // when accepted
  HttpResponse refusal;         // when not

  static UpgradeDecision Accept(ConnectionHandlers handlers) { return UpgradeDecision{true, std::move(handlers), {}}; }
  static UpgradeDecision Refuse(int status, std::string body) {
    return UpgradeDecision{false, {}, HttpResponse::Text(status, std::move(body))};
  }
};

struct WebSocketRoute {
  ClientCertPolicy client_cert = ClientCertPolicy::kRequired;
  // Called on the connection's strand with the upgrade request (and its peer).
  std::function<UpgradeDecision(const HttpRequest&)> on_upgrade;
};

struct HttpRoute {
  ClientCertPolicy client_cert = ClientCertPolicy::kOptional;
  // Called on the connection's strand; must not block for long.
  std::function<HttpResponse(const HttpRequest&)> handler;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see Server::port())
  TlsContextPtr tls;  // TlsContext::Server(...)
  ConnectionOptions connection;
  IdentityCheck identity_check;  // optional
  std::size_t max_request_body_bytes = 1u << 20;
  // Longest a Stop() waits for connections to close gracefully before dropping them.
  std::chrono::milliseconds stop_grace{5000};

  // Limits against idle and slow peers (a connection past one is closed without an answer):
  // the TLS handshake of a new connection, e.g. a peer that connects and sends nothing;
  std::chrono::milliseconds tls_handshake_timeout{10000};
  // reading one HTTP request, header and body, from its first byte (a slowloris peer trickling a header);
  std::chrono::milliseconds request_timeout{10000};
  // an idle keep-alive connection waiting for its next request.
  std::chrono::milliseconds keep_alive_timeout{30000};
  // Connections served at once (in TLS or HTTP, or upgraded). Further ones are closed as soon as they are
  // accepted, with a log line (at most one a second) and on_connection_refused; existing sessions go on.
  std::size_t max_connections = 1024;
  // Called on an io thread for each connection refused by max_connections (e.g. to count it in a metric).
  std::function<void()> on_connection_refused;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a route for an exact path (no query). A path ending in "/" (e.g. "/v1/objects/") also serves every
  // path under it that has no exact route; the longest such prefix wins. A later registration for the same path
  // replaces it.
  void Handle(const std::string& path, WebSocketRoute route);
  void Handle(const std::string& path, HttpRoute route);

  // Binds and listens. Fails (e.g. address in use) with a message naming the address.
  Status Start();
  // The bound port (after a successful Start()).
  uint16_t port() const;

  // Stops accepting, closes every WebSocket with 1001 "server shutting down" and waits for them up to
  // stop_grace, then drops whatever is left. Idempotent. Blocks; not from an io thread.
  void Stop();

  // Open WebSocket connections.
  std::size_t connection_count() const;
  // Connections closed at accept because max_connections were being served.
  std::uint64_t refused_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vmesh::link
