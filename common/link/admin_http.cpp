#include "common/link/admin_http.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <map>
#include <mutex>
#include <set>

namespace vmesh::link {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

}  // namespace

Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return MakeError("listen address \"" + address + "\": expected HOST:PORT");
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return MakeError("listen address \"" + address + "\": the port must be a number in 0..65535");
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

struct AdminHttpServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, std::string host, uint16_t port, AdminHttpOptions options)
      : io(io), acceptor(io), host(std::move(host)), port(port), options(std::move(options)) {}

  asio::io_context& io;
  tcp::acceptor acceptor;
  std::string host;
  uint16_t port;
  const AdminHttpOptions options;
  std::map<std::string, Handler> routes;
  mutable std::mutex mu;
  std::set<std::shared_ptr<beast::tcp_stream>> streams;  // guarded by mu
  bool stopped = false;                                  // guarded by mu
  std::uint64_t refused = 0;                             // guarded by mu
  std::uint64_t refused_logged = 0;                      // guarded by mu
  std::chrono::steady_clock::time_point refusal_logged_at{};

  HttpResponse Dispatch(const HttpRequest& request) {
    auto it = routes.find(request.path);
    if (it == routes.end()) return HttpResponse::Text(404, "not found: " + request.path + "\n");
    return it->second(request);
  }

  static asio::awaitable<void> Serve(std::shared_ptr<Impl> self, std::shared_ptr<beast::tcp_stream> stream) {
    beast::flat_buffer buffer;
    for (bool first = true;; first = false) {
      boost::system::error_code ec;
      if (!first && buffer.size() == 0) {
        // Keep-alive: wait for the first byte of the next request.
        stream->expires_after(self->options.keep_alive_timeout);
        const std::size_t n =
            co_await stream->async_read_some(buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        buffer.commit(n);
      }
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024);
      // A deadline for the whole request: a byte now and then does not extend it.
      stream->expires_after(self->options.request_timeout);
      co_await http::async_read(*stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == beast::error::timeout) spdlog::debug("admin http: request not complete in time: closed");
        break;
      }
      auto& req = parser.get();
      HttpRequest request;
      request.method = std::string(req.method_string());
      request.target = std::string(req.target());
      request.path = request.target.substr(0, request.target.find('?'));
      for (const auto& field : req) request.headers.emplace_back(field.name_string(), field.value());
      request.body = req.body();
      if (auto remote = stream->socket().remote_endpoint(ec); !ec) {
        request.remote_address = remote.address().to_string() + ":" + std::to_string(remote.port());
      }
      HttpResponse answer = self->Dispatch(request);
      http::response<http::string_body> res{static_cast<http::status>(answer.status), req.version()};
      res.set(http::field::content_type, answer.content_type);
      for (const auto& [name, value] : answer.headers) res.set(name, value);
      res.keep_alive(req.keep_alive());
      res.body() = request.method == "HEAD" ? std::string() : std::move(answer.body);
      res.prepare_payload();
      stream->expires_after(self->options.request_timeout);
      co_await http::async_write(*stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->close();
    std::lock_guard lock(self->mu);
    self->streams.erase(stream);
  }

  static asio::awaitable<void> Accept(std::shared_ptr<Impl> self) {
    for (;;) {
      tcp::socket socket(self->io);
      boost::system::error_code ec;
      co_await self->acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) break;
      if (ec) continue;
      std::shared_ptr<beast::tcp_stream> stream;
      {
        std::lock_guard lock(self->mu);
        if (self->stopped) break;
        if (self->streams.size() >= self->options.max_connections) {
          ++self->refused;
          const auto now = std::chrono::steady_clock::now();
          if (self->refused_logged == 0 || now - self->refusal_logged_at >= std::chrono::seconds(1)) {
            spdlog::warn("admin http on {}:{}: serving its maximum of {} connections; closed {} new connection(s)",
                         self->host, self->acceptor.local_endpoint(ec).port(), self->options.max_connections,
                         self->refused - self->refused_logged);
            self->refused_logged = self->refused;
            self->refusal_logged_at = now;
          }
        } else {
          stream = std::make_shared<beast::tcp_stream>(std::move(socket));
          self->streams.insert(stream);
        }
      }
      if (!stream) {
        socket.close(ec);
        if (self->options.on_connection_refused) self->options.on_connection_refused();
        continue;
      }
      asio::co_spawn(self->io, Serve(self, stream), asio::detached);
    }
  }
};

AdminHttpServer::AdminHttpServer(asio::io_context& io, std::string host, uint16_t port, AdminHttpOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(host), port, std::move(options))) {}

AdminHttpServer::~AdminHttpServer() { Stop(); }

void AdminHttpServer::Handle(const std::string& path, Handler handler) { impl_->routes[path] = std::move(handler); }

Status AdminHttpServer::Start() {
  const std::string where = impl_->host + ":" + std::to_string(impl_->port);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl_->host == "localhost" ? "127.0.0.1" : impl_->host, ec);
  if (ec) return MakeError("admin listen address " + where + ": " + ec.message());
  tcp::endpoint endpoint(address, impl_->port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return MakeError("cannot listen on " + where + ": " + ec.message());
  asio::co_spawn(impl_->io, Impl::Accept(impl_), asio::detached);
  return OkStatus();
}

uint16_t AdminHttpServer::port() const {
  boost::system::error_code ec;
  auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void AdminHttpServer::Stop() {
  auto impl = impl_;
  {
    std::lock_guard lock(impl->mu);
    if (impl->stopped) return;
    impl->stopped = true;
  }
  asio::post(impl->io, [impl] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    std::lock_guard lock(impl->mu);
    for (const auto& stream : impl->streams) stream->socket().close(ignored);
  });
}

std::uint64_t AdminHttpServer::refused_connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->refused;
}

}  // namespace vmesh::link
