#include "common/link/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <map>
#include <mutex>

#include "common/link/websocket_internal.h"

namespace vmesh::link {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using asio::ip::tcp;
using internal::ConnectionImpl;
using internal::TlsStream;
using internal::WsStream;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// True if the comma-separated Sec-WebSocket-Protocol offer contains `protocol`.
bool OffersSubprotocol(std::string_view offer, std::string_view protocol) {
  while (!offer.empty()) {
    size_t comma = offer.find(',');
    std::string_view item = offer.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item == protocol) return true;
    if (comma == std::string_view::npos) break;
    offer.remove_prefix(comma + 1);
  }
  return false;
}

HttpRequest ToHttpRequest(const http::request<http::string_body>& req, const PeerIdentity& peer,
                          const std::string& remote) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  out.path = out.target.substr(0, out.target.find('?'));
  for (const auto& field : req) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = req.body();
  out.peer = peer;
  out.remote_address = remote;
  return out;
}

http::response<http::string_body> ToBeastResponse(const HttpResponse& response, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(response.status), version};
  res.set(http::field::server, "vmesh");
  res.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  res.body() = response.body;
  res.prepare_payload();
  return res;
}

// The TLS stream of a connection still speaking HTTP, shared with Stop() so that it can be closed.
struct PendingStream {
  PendingStream(tcp::socket socket, asio::ssl::context& context) : stream(std::move(socket), context) {}
  TlsStream stream;
  bool moved = false;  // handed over to a WebSocket; Stop() then goes through the connection
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io, ServerOptions options)
      : io(io), options(std::move(options)), acceptor_strand(asio::make_strand(io)), acceptor(acceptor_strand) {}

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Serve(tcp::socket socket, uint64_t id);
  // An answer for a request that fails the route's authentication, or nullopt when it may proceed.
  std::optional<HttpResponse> Authenticate(ClientCertPolicy policy, const HttpRequest& request);
  void Finished(uint64_t id);
  template <typename Route>
  std::optional<Route> FindRoute(const std::map<std::string, Route>& routes, const std::string& path) const {
    std::lock_guard lock(mu);
    auto it = routes.find(path);
    if (it != routes.end()) return it->second;
    // A route registered with a trailing "/" also serves every path under it; the longest such prefix wins.
    const Route* best = nullptr;
    size_t best_length = 0;
    for (const auto& [prefix, route] : routes) {
      if (prefix.size() > best_length && prefix.back() == '/' && path.starts_with(prefix)) {
        best = &route;
        best_length = prefix.size();
      }
    }
    if (!best) return std::nullopt;
    return *best;
  }

  asio::io_context& io;
  const ServerOptions options;
  std::map<std::string, WebSocketRoute> ws_routes;  // guarded by mu
  std::map<std::string, HttpRoute> http_routes;     // guarded by mu
  asio::strand<asio::io_context::executor_type> acceptor_strand;
  tcp::acceptor acceptor;
  uint16_t bound_port = 0;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  bool stopping = false;
  bool accept_loop_running = false;
  uint64_t next_id = 1;
  uint64_t refused = 0;  // connections closed at accept (max_connections)
  uint64_t refused_logged = 0;
  std::chrono::steady_clock::time_point refusal_logged_at{};
  // Live sessions, each either still in HTTP (pending) or upgraded (connections).
  std::map<uint64_t, std::pair<std::shared_ptr<PendingStream>, asio::any_io_executor>> pending;
  std::map<uint64_t, std::shared_ptr<ConnectionImpl>> connections;
  size_t live = 0;  // sessions not yet finished (pending, upgrading or upgraded)
};

std::optional<HttpResponse> Server::Impl::Authenticate(ClientCertPolicy policy, const HttpRequest& request) {
  if (policy != ClientCertPolicy::kRequired) return std::nullopt;
  if (!request.peer.authenticated) {
    return HttpResponse::Text(401, "a client certificate issued by the hub is required for " + request.path + "\n");
  }
  if (options.identity_check && !options.identity_check(request.peer)) {
    spdlog::warn("link: refused {} from {} for {}", request.peer.ToString(), request.remote_address, request.path);
    return HttpResponse::Text(403, "identity " + request.peer.ToString() + " is not allowed\n");
  }
  return std::nullopt;
}

void Server::Impl::Finished(uint64_t id) {
  std::lock_guard lock(mu);
  pending.erase(id);
  connections.erase(id);
  --live;
  cv.notify_all();
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  auto self = shared_from_this();
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), kAwait);
    uint64_t id = 0;
    bool refuse = false;
    {
      std::lock_guard lock(mu);
      if (stopping || !acceptor.is_open()) break;
      if (ec) {
        // E.g. too many open files: keep serving the connections we have, try again shortly.
        spdlog::warn("link: accept on port {} failed: {}", bound_port, ec.message());
      } else if (live >= options.max_connections) {
        refuse = true;
        ++refused;
        // One line a second at most: a flood of connections must not become a flood of log lines.
        const auto now = std::chrono::steady_clock::now();
        if (refused_logged == 0 || now - refusal_logged_at >= std::chrono::seconds(1)) {
          boost::system::error_code remote_ec;
          const auto remote = socket.remote_endpoint(remote_ec);
          spdlog::warn(
              "link: port {} serves its maximum of {} connections; closed {} new connection(s), the last from {}",
              bound_port, options.max_connections, refused - refused_logged,
              remote_ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port()));
          refused_logged = refused;
          refusal_logged_at = now;
        }
      } else {
        id = next_id++;
        ++live;
      }
    }
    if (refuse) {
      boost::system::error_code ignored;
      socket.close(ignored);
      if (options.on_connection_refused) options.on_connection_refused();
      continue;
    }
    if (ec) {
      asio::steady_timer pause(acceptor_strand, std::chrono::milliseconds(100));
      co_await pause.async_wait(kAwait);
      continue;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, Serve(std::move(socket), id), [self, id](std::exception_ptr error) {
      if (error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          spdlog::error("link: session failed: {}", e.what());
        } catch (...) {
        }
      }
      self->Finished(id);
    });
  }
  std::lock_guard lock(mu);
  accept_loop_running = false;
  cv.notify_all();
}

asio::awaitable<void> Server::Impl::Serve(tcp::socket socket, uint64_t id) {
  auto self = shared_from_this();
  auto executor = socket.get_executor();
  const std::string remote = internal::RemoteAddress(socket);
  auto pending_stream = std::make_shared<PendingStream>(std::move(socket), options.tls->asio_context());
  {
    std::lock_guard lock(mu);
    if (stopping) co_return;
    pending.emplace(id, std::make_pair(pending_stream, executor));
  }
  TlsStream& stream = pending_stream->stream;
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(options.tls_handshake_timeout);
  if (auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kAwait); ec) {
    spdlog::debug("link: TLS handshake with {} failed: {}", remote, ec.message());
    co_return;
  }
  const PeerIdentity peer = PeerIdentityFromSsl(stream.native_handle());

  beast::flat_buffer buffer;
  for (bool first = true;; first = false) {
    if (!first && buffer.size() == 0) {
      // Keep-alive: wait for the first byte of the next request.
      lowest.expires_after(options.keep_alive_timeout);
      auto [ec, bytes] = co_await stream.async_read_some(buffer.prepare(4096), kAwait);
      if (ec) {
        if (ec == beast::error::timeout) spdlog::debug("link: idle keep-alive connection from {} closed", remote);
        break;
      }
      buffer.commit(bytes);
    }
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(options.max_request_body_bytes);
    // A deadline for the whole request, not a per-read idle timer: a byte now and then does not extend it.
    lowest.expires_after(options.request_timeout);
    if (auto [ec, bytes] = co_await http::async_read(stream, buffer, parser, kAwait); ec) {
      if (ec == beast::error::timeout) {
        spdlog::debug("link: request from {} not complete within {} ms: closed", remote,
                      options.request_timeout.count());
      } else if (ec != http::error::end_of_stream) {
        spdlog::debug("link: bad request from {}: {}", remote, ec.message());
      }
      break;
    }
    http::request<http::string_body> req = parser.release();
    HttpRequest request = ToHttpRequest(req, peer, remote);
    std::optional<HttpResponse> response;
    bool keep_alive = req.keep_alive();

    if (websocket::is_upgrade(req)) {
      keep_alive = false;  // a refused upgrade ends the connection
      std::optional<WebSocketRoute> route = FindRoute(ws_routes, request.path);
      if (!route) {
        response = HttpResponse::Text(404, "no WebSocket endpoint " + request.path + "\n");
      } else if ((response = Authenticate(route->client_cert, request))) {
      } else if (!OffersSubprotocol(request.header("Sec-WebSocket-Protocol"), kSubprotocol)) {
        response = HttpResponse::Text(400, std::string("the WebSocket subprotocol ") + kSubprotocol + " is required\n");
      } else {
        UpgradeDecision decision =
            route->on_upgrade ? route->on_upgrade(request) : UpgradeDecision::Refuse(404, "no handler\n");
        if (!decision.accept) {
          response = std::move(decision.refusal);
        } else {
          WsStream ws(std::move(stream));
          {
            std::lock_guard lock(mu);
            pending_stream->moved = true;
            pending.erase(id);
          }
          ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
            res.set(http::field::server, "vmesh");
            res.set(http::field::sec_websocket_protocol, kSubprotocol);
          }));
          if (auto [ec] = co_await ws.async_accept(req, kAwait); ec) {
            spdlog::debug("link: WebSocket upgrade from {} failed: {}", remote, ec.message());
            co_return;
          }
          auto connection = std::make_shared<ConnectionImpl>(std::move(ws), options.connection,
                                                             std::move(decision.handlers), peer, remote, request.path);
          bool close_now = false;
          uint64_t connection_id = 0;
          {
            std::lock_guard lock(mu);
            close_now = stopping;
            connection_id = next_id++;
            connections.emplace(connection_id, connection);
            ++live;  // released by the connection's on_finished
          }
          spdlog::debug("link: {} connected from {} to {}", peer.ToString(), remote, request.path);
          connection->Start([self, connection_id] { self->Finished(connection_id); });
          if (close_now) connection->Close(CloseCode::kGoingAway, "server shutting down");
          co_return;
        }
      }
    } else {
      std::optional<HttpRoute> route = FindRoute(http_routes, request.path);
      if (!route) {
        response = FindRoute(ws_routes, request.path)
                       ? HttpResponse::Text(426, "this endpoint speaks WebSocket (" + std::string(kSubprotocol) + ")\n")
                       : HttpResponse::Text(404, "no endpoint " + request.path + "\n");
      } else if ((response = Authenticate(route->client_cert, request))) {
      } else {
        response = route->handler ? route->handler(request) : HttpResponse::Text(404, "no handler\n");
      }
    }

    auto res = ToBeastResponse(*response, req.version(), keep_alive);
    lowest.expires_after(options.request_timeout);  // the handler's time does not count against the answer
    if (auto [ec, bytes] = co_await http::async_write(stream, res, kAwait); ec || !keep_alive) break;
  }
  // Best effort close_notify, bounded.
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
  co_await stream.async_shutdown(kAwait);
  beast::get_lowest_layer(stream).close();
}

Server::Server(asio::io_context& io, ServerOptions options) : impl_(std::make_shared<Impl>(io, std::move(options))) {}

Server::~Server() { Stop(); }

void Server::Handle(const std::string& path, WebSocketRoute route) {
  std::lock_guard lock(impl_->mu);
  impl_->ws_routes[path] = std::move(route);
}

void Server::Handle(const std::string& path, HttpRoute route) {
  std::lock_guard lock(impl_->mu);
  impl_->http_routes[path] = std::move(route);
}

Status Server::Start() {
  Impl& impl = *impl_;
  if (!impl.options.tls || !impl.options.tls->is_server())
    return MakeError("link server: a server TLS context is required");
  const std::string where = impl.options.host + ":" + std::to_string(impl.options.port);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl.options.host, ec);
  if (ec) return MakeError("link server: bad listen address " + impl.options.host + ": " + ec.message());
  tcp::endpoint endpoint(address, impl.options.port);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    impl.acceptor.close();
    return MakeError("link server: cannot listen on " + where + ": " + ec.message());
  }
  impl.bound_port = impl.acceptor.local_endpoint().port();
  {
    std::lock_guard lock(impl.mu);
    impl.started = true;
    impl.accept_loop_running = true;
  }
  asio::co_spawn(impl.acceptor_strand, impl.AcceptLoop(), asio::detached);
  spdlog::info("link: listening on {}:{}", impl.options.host, impl.bound_port);
  return OkStatus();
}

uint16_t Server::port() const { return impl_->bound_port; }

std::uint64_t Server::refused_connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->refused;
}

std::size_t Server::connection_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->connections.size();
}

void Server::Stop() {
  Impl& impl = *impl_;
  std::vector<std::shared_ptr<ConnectionImpl>> connections;
  std::vector<std::pair<std::shared_ptr<PendingStream>, asio::any_io_executor>> pending;
  {
    std::lock_guard lock(impl.mu);
    if (!impl.started || impl.stopping) return;
    impl.stopping = true;
    for (auto& [id, connection] : impl.connections) connections.push_back(connection);
    for (auto& [id, entry] : impl.pending) pending.push_back(entry);
  }
  asio::post(impl.acceptor_strand, [impl = impl_] {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
  });
  // Connections still in TLS / HTTP have nothing to flush: close them now.
  for (auto& [stream, executor] : pending) {
    asio::post(executor, [stream] {
      if (!stream->moved) beast::get_lowest_layer(stream->stream).close();
    });
  }
  for (auto& connection : connections) connection->Close(CloseCode::kGoingAway, "server shutting down");

  std::unique_lock lock(impl.mu);
  auto done = [&] { return impl.live == 0 && !impl.accept_loop_running; };
  if (!impl.cv.wait_for(lock, impl.options.stop_grace, done)) {
    spdlog::warn("link: {} connection(s) did not close within {} ms; dropping them", impl.live,
                 impl.options.stop_grace.count());
    for (auto& [id, connection] : impl.connections) connection->Abort("server stopped");
    for (auto& [id, entry] : impl.pending) {
      asio::post(entry.second, [stream = entry.first] {
        if (!stream->moved) beast::get_lowest_layer(stream->stream).close();
      });
    }
    if (!impl.cv.wait_for(lock, std::chrono::seconds(2), done)) {
      spdlog::error("link: server on port {} stopped with {} session(s) still running (io_context not running?)",
                    impl.bound_port, impl.live);
    }
  }
  spdlog::info("link: server on port {} stopped", impl.bound_port);
}

}  // namespace vmesh::link
