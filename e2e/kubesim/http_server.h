// HttpServer: serves an ApiHandler over HTTP/1.1, plain or TLS (Boost.Beast, C++20 coroutines).
//
// Requests are answered by ApiHandler::Handle(); watches are streamed with chunked transfer encoding,
// one JSON event per line, woken by the store's change listener, with BOOKMARK events every
// `bookmark_interval` when the client allows them, until `timeoutSeconds`, the client disconnecting, or
// Stop(). With a FaultInjector, requests get its latency and errors and watches its drops (faults.h),
// and it answers the admin endpoint /kubesim/faults (bearer token required like everywhere). All I/O runs on the
// io_context passed in; the server must be used (Listen/Stop) from that context's thread, or before it runs. The store
// may be written from any thread; it must outlive the io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "e2e/kubesim/api_handler.h"
#include "e2e/kubesim/faults.h"

namespace vmesh::kubesim {

struct HttpServerOptions {
  std::chrono::milliseconds bookmark_interval{std::chrono::seconds(60)};
  // Serve HTTPS with this certificate chain (PEM, leaf first) and key (PEM) when both are set.
  std::string tls_cert_chain_pem;
  std::string tls_key_pem;
  FaultInjector* faults = nullptr;  // not owned; must outlive the io_context
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const ApiHandler& handler, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0 picks a free one), starts accepting, and returns the bound port. Fails on an
  // unusable address or TLS certificate.
  Result<uint16_t> Listen(const std::string& host, uint16_t port);

  // Stops accepting and closes every connection, ending open watches; io_context::run() then returns
  // once nothing else is pending.
  void Stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vmesh::kubesim
