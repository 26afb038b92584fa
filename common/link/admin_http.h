// A plain-HTTP admin server for /healthz, /readyz and /metrics (SPEC §2 vmesh-agent --admin-listen, §14).
//
// No TLS and no authentication: bind it to loopback (the default everywhere) or a pod-internal address. Routes
// are exact paths answered by handlers on the io_context's thread; anything else is 404. Keep-alive is
// supported; request bodies above 64 KiB are refused.
//
// Thread safety: Handle() before Start(); Start(), port() and Stop() from any thread. Handlers must not block.
#pragma once

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

class AdminHttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  AdminHttpServer(boost::asio::io_context& io, std::string host, uint16_t port);
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

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vmesh::link
