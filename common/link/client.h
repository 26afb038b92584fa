// The agent side of the link: dialing wss://host:port/path with a client TLS context, the reconnecting
// client (exponential backoff with full jitter, SPEC §9), and one-shot HTTPS requests (bootstrap).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "common/link/backoff.h"
#include "common/link/connection.h"
#include "common/link/http.h"
#include "common/link/tls.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vmesh::link {

struct DialOptions {
  std::string url;    // "wss://hub.example:8443/v1/connect"; the host is what the server certificate must name
  TlsContextPtr tls;  // TlsContext::Client(...)
  ConnectionOptions connection;
};

// Connects: TCP, TLS (server verified against the URL's host), WebSocket upgrade offering "vmesh.v1"; fails if
// the server does not select it. `done` is called exactly once on an io thread: with the open connection or with
// an error saying what failed, including the HTTP status and body when the server refused the upgrade
// ("upgrade to wss://... refused: HTTP 401: a client certificate ..."). handlers.on_open runs on the connection's
// strand before any message, and may run before or after `done`.
void Dial(boost::asio::io_context& io, DialOptions options, ConnectionHandlers handlers,
          std::function<void(Result<ConnectionPtr>)> done);

// Why the connection (or an attempt) ended, and when the next attempt is.
struct DisconnectInfo {
  bool was_connected = false;      // a connection was lost (vs. an attempt failed)
  std::string reason;              // close code and reason, or the dial error
  std::optional<CloseInfo> close;  // when a connection was lost
  int attempt = 0;                 // the backoff attempt this delay belongs to (0 after a reset)
  std::chrono::milliseconds retry_in{0};
};

struct ReconnectOptions {
  DialOptions dial;
  BackoffPolicy backoff;                                       // 1 s → 60 s, reset after 60 s up
  Backoff::RandomSource random;                                // default: seeded from std::random_device
  std::function<std::chrono::steady_clock::time_point()> now;  // default: clock's (stable period)
  // The backoff waits' (and, unless `now` is set, the stable period's) clock; null: dial.connection.clock, or
  // SteadyClock() when that is null too.
  ClockPtr clock;
};

struct ReconnectHandlers {
  std::function<void(const ConnectionPtr&)> on_connected;
  std::function<void(const ConnectionPtr&, std::string message)> on_message;
  std::function<void(const DisconnectInfo&)> on_disconnected;
};

// Keeps one connection up: dials, and after each failure or loss waits Backoff delay and dials again, until
// Stop(). Handlers run on io threads, one at a time per connection; on_connected/on_disconnected are never
// concurrent with each other.
class ReconnectingClient {
 public:
  ReconnectingClient(boost::asio::io_context& io, ReconnectOptions options, ReconnectHandlers handlers);
  ~ReconnectingClient();  // Stop()
  ReconnectingClient(const ReconnectingClient&) = delete;
  ReconnectingClient& operator=(const ReconnectingClient&) = delete;

  void Start();
  // Closes the current connection with 1001 (bounded by close_grace) and stops reconnecting. Blocks; not from
  // an io thread. Idempotent.
  void Stop();

  // The current connection, or nullptr while disconnected. Thread-safe.
  ConnectionPtr connection() const;

  // Replaces the TLS context for later dials (e.g. after the agent renewed its certificate); the current
  // connection is unaffected. Thread-safe.
  void SetTls(TlsContextPtr tls);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

struct FetchRequest {
  std::string method = "POST";
  std::string url;  // "https://hub.example:8443/v1/bootstrap"
  std::string body;
  std::string content_type = "application/octet-stream";
  HttpHeaders headers;
  std::chrono::milliseconds timeout{10000};
};

// One HTTPS request on a fresh connection (server verified against the URL's host). Blocking: runs its own
// io_context on the calling thread. Any HTTP status is a successful result; errors are transport failures.
Result<HttpResponse> Fetch(const TlsContextPtr& tls, const FetchRequest& request);

}  // namespace vmesh::link
