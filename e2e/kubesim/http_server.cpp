#include "e2e/kubesim/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <set>

namespace vmesh::kubesim {

namespace net = boost::asio;
namespace http = boost::beast::http;
using net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
constexpr size_t kMaxBodyBytes = 32u << 20;

// One client connection. `wake` interrupts a watch waiting for changes; `pending` records that the store
// changed since the watch last looked.
struct Connection {
  explicit Connection(net::io_context& io) : socket(io), wake(io) {}
  tcp::socket socket;
  net::steady_timer wake;
  bool pending = false;
  bool closed = false;
};

class HttpServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(net::io_context& io, const ApiHandler& handler, HttpServerOptions options)
      : io_(io), handler_(handler), store_(handler.store()), options_(options), acceptor_(io) {}

  // May run after the ApiHandler is gone (coroutine frames keep the Impl alive until the io_context
  // drops them), so it touches only the store, which must outlive the io_context.
  ~Impl() {
    if (listener_id_ != 0) store_.RemoveChangeListener(listener_id_);
  }

  Result<uint16_t> Listen(const std::string& host, uint16_t port) {
    boost::system::error_code ec;
    auto address = net::ip::make_address(host, ec);
    if (ec) return MakeError("invalid listen address \"" + host + "\": " + ec.message());
    tcp::endpoint endpoint(address, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return MakeError("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
    // Store changes may come from any thread; watches are woken on the I/O thread.
    std::weak_ptr<Impl> weak = shared_from_this();
    listener_id_ = store_.AddChangeListener([weak, this] {
      net::post(io_, [weak, this] {
        if (auto self = weak.lock()) WakeWatches();
      });
    });
    net::co_spawn(io_, Accept(shared_from_this()), net::detached);
    return acceptor_.local_endpoint().port();
  }

  void Stop() {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (const auto& weak : connections_) {
      if (auto conn = weak.lock()) {
        conn->closed = true;
        conn->socket.close(ec);
        conn->wake.cancel();
      }
    }
  }

 private:
  void WakeWatches() {
    for (Connection* conn : watching_) {
      conn->pending = true;
      conn->wake.cancel();
    }
  }

  net::awaitable<void> Accept(std::shared_ptr<Impl> self) {
    while (!stopping_) {
      auto conn = std::make_shared<Connection>(io_);
      auto [ec] = co_await acceptor_.async_accept(conn->socket, kUseTuple);
      if (ec) {
        if (stopping_ || ec == net::error::operation_aborted) co_return;
        continue;
      }
      connections_.remove_if([](const std::weak_ptr<Connection>& w) { return w.expired(); });
      connections_.push_back(conn);
      net::co_spawn(io_, Serve(self, conn), net::detached);
    }
  }

  net::awaitable<void> Serve(std::shared_ptr<Impl> self, std::shared_ptr<Connection> conn) {
    boost::beast::flat_buffer buffer;
    while (!conn->closed) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBodyBytes);
      auto [ec, n] = co_await http::async_read(conn->socket, buffer, parser, kUseTuple);
      if (ec) break;
      const auto& req = parser.get();
      HttpRequest request{std::string(req.method_string()),
                          std::string(req.target()),
                          std::string(req[http::field::accept]),
                          std::string(req[http::field::content_type]),
                          req.body(),
                          std::string(req[http::field::user_agent]),
                          std::string(req[http::field::authorization])};
      HandleResult result = handler_.Handle(request);
      if (result.watch) {
        co_await Watch(conn, std::move(*result.watch), req.version());
        break;
      }
      http::response<http::string_body> res{static_cast<http::status>(result.response->status), req.version()};
      res.set(http::field::content_type, result.response->content_type);
      res.set(http::field::cache_control, "no-cache, private");
      res.keep_alive(req.keep_alive());
      res.body() = std::move(result.response->body);
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(conn->socket, res, kUseTuple);
      if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
    conn->socket.close(ignored);
  }

  // Notices the client going away during a watch (it sends nothing while watching).
  static net::awaitable<void> DetectClose(std::shared_ptr<Connection> conn) {
    char byte;
    co_await conn->socket.async_read_some(net::buffer(&byte, 1), kUseTuple);
    conn->closed = true;
    conn->wake.cancel();
  }

  static net::awaitable<bool> WriteChunk(Connection& conn, const std::vector<std::string>& lines) {
    if (lines.empty()) co_return true;
    std::string data;
    for (const auto& line : lines) data += line;
    auto [ec, n] = co_await net::async_write(conn.socket, http::make_chunk(net::buffer(data)), kUseTuple);
    co_return !ec;
  }

  net::awaitable<void> Watch(std::shared_ptr<Connection> conn, WatchRequest request, unsigned http_version) {
    WatchStream stream(store_, std::move(request));
    const bool bookmarks = stream.request().allow_bookmarks;
    const auto deadline = Clock::now() + stream.request().timeout;
    auto next_bookmark = Clock::now() + options_.bookmark_interval;

    watching_.insert(conn.get());
    struct Unregister {
      Impl* impl;
      Connection* conn;
      ~Unregister() { impl->watching_.erase(conn); }
    } unregister{this, conn.get()};

    http::response<http::empty_body> res{http::status::ok, http_version};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-cache, private");
    res.keep_alive(false);
    res.chunked(true);
    http::response_serializer<http::empty_body> serializer{res};
    auto [hec, hn] = co_await http::async_write_header(conn->socket, serializer, kUseTuple);
    if (hec) co_return;
    net::co_spawn(io_, DetectClose(conn), net::detached);

    if (!co_await WriteChunk(*conn, stream.Start())) co_return;
    while (!stream.done() && !conn->closed && Clock::now() < deadline) {
      if (!conn->pending) {
        conn->wake.expires_at(bookmarks ? std::min(deadline, next_bookmark) : deadline);
        co_await conn->wake.async_wait(kUseTuple);
        if (conn->closed) co_return;
      }
      conn->pending = false;
      if (!co_await WriteChunk(*conn, stream.Poll())) co_return;
      if (bookmarks && Clock::now() >= next_bookmark && !stream.done()) {
        std::vector<std::string> bookmark(1, stream.BookmarkLine());  // (no braced list: GCC 12 coroutine bug)
        if (!co_await WriteChunk(*conn, bookmark)) co_return;
        next_bookmark = Clock::now() + options_.bookmark_interval;
      }
    }
    co_await net::async_write(conn->socket, http::make_chunk_last(), kUseTuple);
  }

  net::io_context& io_;
  const ApiHandler& handler_;
  ObjectStore& store_;
  HttpServerOptions options_;
  tcp::acceptor acceptor_;
  int listener_id_ = 0;
  bool stopping_ = false;
  std::list<std::weak_ptr<Connection>> connections_;
  std::set<Connection*> watching_;
};

HttpServer::HttpServer(net::io_context& io, const ApiHandler& handler, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(io, handler, options)) {}

HttpServer::~HttpServer() { impl_->Stop(); }

Result<uint16_t> HttpServer::Listen(const std::string& host, uint16_t port) { return impl_->Listen(host, port); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace vmesh::kubesim
