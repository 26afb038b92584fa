#include "e2e/kubesim/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <set>
#include <type_traits>

namespace vmesh::kubesim {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
constexpr size_t kMaxBodyBytes = 32u << 20;

// A Warning header value as kube-apiserver writes it: code 299, agent "-", the text quoted.
std::string WarningHeader(const std::string& text) {
  std::string quoted = "299 - \"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

// One client connection. `wake` interrupts a watch waiting for changes; `pending` records that the store
// changed since the watch last looked.
struct ConnectionBase {
  explicit ConnectionBase(net::io_context& io) : wake(io) {}
  virtual ~ConnectionBase() = default;
  virtual void Close() = 0;
  net::steady_timer wake;
  bool pending = false;
  bool closed = false;
};

// Stream is tcp::socket (plain HTTP) or ssl::stream<tcp::socket> (HTTPS).
template <class Stream>
struct Connection : ConnectionBase {
  template <class... Args>
  Connection(net::io_context& io, Args&&... args) : ConnectionBase(io), stream(std::forward<Args>(args)...) {}
  void Close() override {
    boost::system::error_code ignored;
    stream.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream.lowest_layer().close(ignored);
  }
  Stream stream;
};

using TlsStream = ssl::stream<tcp::socket>;

class HttpServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(net::io_context& io, const ApiHandler& handler, HttpServerOptions options)
      : io_(io), handler_(handler), store_(handler.store()), options_(std::move(options)), acceptor_(io) {}

  // May run after the ApiHandler is gone (coroutine frames keep the Impl alive until the io_context
  // drops them), so it touches only the store, which must outlive the io_context.
  ~Impl() {
    if (listener_id_ != 0) store_.RemoveChangeListener(listener_id_);
  }

  Result<uint16_t> Listen(const std::string& host, uint16_t port) {
    boost::system::error_code ec;
    if (!options_.tls_cert_chain_pem.empty() && !options_.tls_key_pem.empty()) {
      tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
      tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                        ec);
      if (!ec) tls_->use_certificate_chain(net::buffer(options_.tls_cert_chain_pem), ec);
      if (!ec) tls_->use_private_key(net::buffer(options_.tls_key_pem), ssl::context::pem, ec);
      if (ec) return MakeError("TLS certificate: " + ec.message());
    }
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
        conn->Close();
        conn->wake.cancel();
      }
    }
  }

 private:
  void WakeWatches() {
    for (ConnectionBase* conn : watching_) {
      conn->pending = true;
      conn->wake.cancel();
    }
  }

  net::awaitable<void> Accept(std::shared_ptr<Impl> self) {
    while (!stopping_) {
      tcp::socket socket(io_);
      auto [ec] = co_await acceptor_.async_accept(socket, kUseTuple);
      if (ec) {
        if (stopping_ || ec == net::error::operation_aborted) co_return;
        continue;
      }
      connections_.remove_if([](const std::weak_ptr<ConnectionBase>& w) { return w.expired(); });
      if (tls_) {
        auto conn = std::make_shared<Connection<TlsStream>>(io_, std::move(socket), *tls_);
        connections_.push_back(conn);
        net::co_spawn(io_, Serve(self, conn), net::detached);
      } else {
        auto conn = std::make_shared<Connection<tcp::socket>>(io_, std::move(socket));
        connections_.push_back(conn);
        net::co_spawn(io_, Serve(self, conn), net::detached);
      }
    }
  }

  template <class Stream>
  net::awaitable<void> Serve(std::shared_ptr<Impl> self, std::shared_ptr<Connection<Stream>> conn) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      auto [hec] = co_await conn->stream.async_handshake(ssl::stream_base::server, kUseTuple);
      if (hec) {
        conn->Close();
        co_return;
      }
    }
    boost::beast::flat_buffer buffer;
    while (!conn->closed) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBodyBytes);
      auto [ec, n] = co_await http::async_read(conn->stream, buffer, parser, kUseTuple);
      if (ec) break;
      const auto& req = parser.get();
      HttpRequest request{std::string(req.method_string()),
                          std::string(req.target()),
                          std::string(req[http::field::accept]),
                          std::string(req[http::field::content_type]),
                          req.body(),
                          std::string(req[http::field::user_agent]),
                          std::string(req[http::field::authorization])};
      std::optional<HttpResponse> response;
      bool expire_watch = false;
      if (FaultInjector* faults = options_.faults) {
        const std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
        if (path == FaultInjector::kAdminPath) {
          response = handler_.Authorized(request) ? faults->HandleAdmin(request) : ApiHandler::UnauthorizedResponse();
        } else if (path != "/healthz" && path != "/readyz" && path != "/livez") {
          if (auto latency = faults->config().latency; latency.count() > 0) {
            net::steady_timer delay(io_, latency);
            co_await delay.async_wait(kUseTuple);
            if (conn->closed) break;
          }
          if (!IsWatchTarget(request.target)) {
            response = faults->MaybeFail();
          } else if (handler_.Authorized(request)) {
            expire_watch = faults->TakeExpireNextWatch();
          }
        }
      }
      if (!response) {
        HandleResult result = handler_.Handle(request);
        if (result.watch) {
          co_await Watch(conn, std::move(*result.watch), req.version(), expire_watch);
          break;
        }
        response = std::move(result.response);
      }
      http::response<http::string_body> res{static_cast<http::status>(response->status), req.version()};
      res.set(http::field::content_type, response->content_type);
      res.set(http::field::cache_control, "no-cache, private");
      if (response->status == 429) res.set(http::field::retry_after, "1");
      for (const auto& warning : response->warnings) res.insert(http::field::warning, WarningHeader(warning));
      res.keep_alive(req.keep_alive());
      res.body() = std::move(response->body);
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(conn->stream, res, kUseTuple);
      if (wec || !res.keep_alive()) break;
    }
    conn->Close();
  }

  // Notices the client going away during a watch (it sends nothing while watching).
  template <class Stream>
  static net::awaitable<void> DetectClose(std::shared_ptr<Connection<Stream>> conn) {
    char byte;
    co_await conn->stream.async_read_some(net::buffer(&byte, 1), kUseTuple);
    conn->closed = true;
    conn->wake.cancel();
  }

  template <class Stream>
  static net::awaitable<bool> WriteChunk(Connection<Stream>& conn, const std::vector<std::string>& lines) {
    if (lines.empty()) co_return true;
    std::string data;
    for (const auto& line : lines) data += line;
    auto [ec, n] = co_await net::async_write(conn.stream, http::make_chunk(net::buffer(data)), kUseTuple);
    co_return !ec;
  }

  // Sends `lines`; with an event budget, cuts the connection once it is spent. False when the watch is over.
  template <class Stream>
  static net::awaitable<bool> Send(Connection<Stream>& conn, std::vector<std::string> lines,
                                   std::optional<uint64_t>& events_left) {
    bool drop = false;
    if (events_left) {
      if (lines.size() >= *events_left) {
        lines.resize(*events_left);
        drop = true;
      }
      *events_left -= lines.size();
    }
    if (!co_await WriteChunk(conn, lines)) co_return false;
    if (drop) {
      conn.closed = true;
      conn.Close();
      co_return false;
    }
    co_return true;
  }

  template <class Stream>
  net::awaitable<void> Watch(std::shared_ptr<Connection<Stream>> conn, WatchRequest request, unsigned http_version,
                             bool expire) {
    WatchStream stream(store_, std::move(request));
    const bool bookmarks = stream.request().allow_bookmarks;
    const FaultConfig faults = options_.faults ? options_.faults->config() : FaultConfig{};
    auto deadline = Clock::now() + stream.request().timeout;
    // A watch dropped by fault injection ends without the last chunk, as when a connection breaks.
    bool drop_at_deadline = false;
    if (faults.drop_watch_after.count() > 0 && Clock::now() + faults.drop_watch_after < deadline) {
      deadline = Clock::now() + faults.drop_watch_after;
      drop_at_deadline = true;
    }
    // With dropWatchAfterEvents, how many events may still be sent before the connection is cut.
    std::optional<uint64_t> events_left;
    if (faults.drop_watch_after_events > 0) events_left = faults.drop_watch_after_events;
    auto next_bookmark = Clock::now() + options_.bookmark_interval;

    watching_.insert(conn.get());
    struct Unregister {
      Impl* impl;
      ConnectionBase* conn;
      ~Unregister() { impl->watching_.erase(conn); }
    } unregister{this, conn.get()};

    http::response<http::empty_body> res{http::status::ok, http_version};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-cache, private");
    res.keep_alive(false);
    res.chunked(true);
    http::response_serializer<http::empty_body> serializer{res};
    auto [hec, hn] = co_await http::async_write_header(conn->stream, serializer, kUseTuple);
    if (hec) co_return;
    net::co_spawn(io_, DetectClose(conn), net::detached);

    if (expire) {
      std::vector<std::string> expired(1, ExpiredWatchLine());
      if (co_await WriteChunk(*conn, expired))
        co_await net::async_write(conn->stream, http::make_chunk_last(), kUseTuple);
      co_return;
    }
    if (!co_await Send(*conn, stream.Start(), events_left)) co_return;
    while (!stream.done() && !conn->closed && Clock::now() < deadline) {
      if (!conn->pending) {
        conn->wake.expires_at(bookmarks ? std::min(deadline, next_bookmark) : deadline);
        co_await conn->wake.async_wait(kUseTuple);
        if (conn->closed) co_return;
      }
      conn->pending = false;
      if (!co_await Send(*conn, stream.Poll(), events_left)) co_return;
      if (bookmarks && Clock::now() >= next_bookmark && !stream.done()) {
        std::vector<std::string> bookmark(1, stream.BookmarkLine());  // (no braced list: GCC 12 coroutine bug)
        if (!co_await WriteChunk(*conn, bookmark)) co_return;
        next_bookmark = Clock::now() + options_.bookmark_interval;
      }
    }
    if (drop_at_deadline && !stream.done() && Clock::now() >= deadline) {
      conn->closed = true;
      conn->Close();
      co_return;
    }
    co_await net::async_write(conn->stream, http::make_chunk_last(), kUseTuple);
  }

  net::io_context& io_;
  const ApiHandler& handler_;
  ObjectStore& store_;
  HttpServerOptions options_;
  tcp::acceptor acceptor_;
  std::unique_ptr<ssl::context> tls_;
  int listener_id_ = 0;
  bool stopping_ = false;
  std::list<std::weak_ptr<ConnectionBase>> connections_;
  std::set<ConnectionBase*> watching_;
};

HttpServer::HttpServer(net::io_context& io, const ApiHandler& handler, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(io, handler, std::move(options))) {}

HttpServer::~HttpServer() { impl_->Stop(); }

Result<uint16_t> HttpServer::Listen(const std::string& host, uint16_t port) { return impl_->Listen(host, port); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace vmesh::kubesim
