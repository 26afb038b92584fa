// A plain-HTTP admin server for /healthz, /readyz and /metrics (SPEC §2 vmesh-agent --admin-listen, §14).
//
// No TLS and no authentication: bind it to loopback (the default everywhere) or a pod-internal address. Routes
// are exact paths answered by handlers on the io_context's thread; anything else is 404. Keep-alive is
// supported; request bodies above 64 KiB are refused. Slow and idle peers are dropped and the number of
// connections is capped (AdminHttpOptions).
//
// Thread safety: Handle() before Start(); Start(), port() and Stop() from any thread. Handlers must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/base/result.h"
#include "common/link/http.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vmesh::link {

// "127.0.0.1:9902", "[::1]:9902", ":9902" (all interfaces), "localhost:0".
Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& address);

struct AdminHttpOptions {
  // Reading one request, header and body, from its first byte (and a new connection's first request from
  // the accept): a slowloris peer trickling a header is closed when it passes.
  std::chrono::milliseconds request_timeout{10000};
  // An idle keep-alive connection waiting for its next request.
  std::chrono::milliseconds keep_alive_timeout{30000};
  // Connections served at once; further ones are closed at accept with a log line (at most one a second) and
  // on_connection_refused (called on the io thread).
  std::size_t max_connections = 64;
  std::function<void()> on_connection_refused;
};

class AdminHttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  AdminHttpServer(boost::asio::io_context& io, std::string host, uint16_t port, AdminHttpOptions options = {});
  ~AdminHttpServer();  // Stop()
  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;

  void Handle(const std::string& path, Handler handler);

  // Binds and listens; fails naming the address (e.g. in use).
  Status Start();
  // The bound port (after Start()).
  uint16_t port() const;
  // Stops accepting and closes open connections. Idempotent; does not block.
  void Stop();
  // Connections closed at accept because max_connections were being served.
  std::uint64_t refused_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vmesh::link
