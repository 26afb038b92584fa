#include "common/link/client.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
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

std::string HostHeader(const Url& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  return (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
}

std::string Trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.size() > 512) text.resize(512);
  return text;
}

// TCP connect and TLS handshake, verifying the server against the URL's host. On the calling coroutine's executor.
asio::awaitable<Result<std::unique_ptr<TlsStream>>> ConnectTls(const Url& url, const TlsContextPtr& tls,
                                                               std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  if (!tls || tls->is_server()) co_return MakeError("a client TLS context is required");
  const std::string where = HostHeader(url);
  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(url.host, std::to_string(url.port), kAwait);
  if (resolve_ec) co_return MakeError("cannot resolve " + url.host + ": " + resolve_ec.message());
  auto stream = std::make_unique<TlsStream>(executor, tls->asio_context());
  beast::get_lowest_layer(*stream).expires_after(timeout);
  auto [connect_ec, endpoint] = co_await beast::get_lowest_layer(*stream).async_connect(endpoints, kAwait);
  if (connect_ec) co_return MakeError("cannot connect to " + where + ": " + connect_ec.message());
  if (Status s = ConfigureServerVerification(stream->native_handle(), url.host); !s.ok()) co_return s.error();
  auto [handshake_ec] = co_await stream->async_handshake(asio::ssl::stream_base::client, kAwait);
  if (handshake_ec) co_return MakeError("TLS handshake with " + where + " failed: " + handshake_ec.message());
  co_return stream;
}

// Dials on the calling coroutine's executor, which becomes the connection's strand. The connection is not
// started.
asio::awaitable<Result<std::shared_ptr<ConnectionImpl>>> DialAsync(const DialOptions& options,
                                                                   ConnectionHandlers handlers) {
  auto url = Url::Parse(options.url);
  if (!url.ok()) co_return url.error();
  if (url->scheme != "wss") co_return MakeError("link URL " + options.url + " must use wss://");
  auto stream = co_await ConnectTls(*url, options.tls, options.connection.handshake_timeout);
  if (!stream.ok()) co_return stream.error();
  const std::string remote = internal::RemoteAddress(beast::get_lowest_layer(**stream).socket());
  PeerIdentity peer = PeerIdentityFromSsl((*stream)->native_handle());

  WsStream ws(std::move(**stream));
  ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(http::field::user_agent, "vmesh-link");
    req.set(http::field::sec_websocket_protocol, kSubprotocol);
  }));
  websocket::response_type res;
  auto [ec] = co_await ws.async_handshake(res, HostHeader(*url), url->target, kAwait);
  if (ec == websocket::error::upgrade_declined) {
    co_return MakeError("upgrade to " + options.url + " refused: HTTP " + std::to_string(res.result_int()) + ": " +
                        Trim(res.body()));
  }
  if (ec) co_return MakeError("WebSocket upgrade to " + options.url + " failed: " + ec.message());
  if (res[http::field::sec_websocket_protocol] != kSubprotocol) {
    co_return MakeError(std::string("server at ") + options.url + " did not select the subprotocol " + kSubprotocol);
  }
  co_return std::make_shared<ConnectionImpl>(std::move(ws), options.connection, std::move(handlers), std::move(peer),
                                             remote, url->target);
}

asio::awaitable<Result<HttpResponse>> FetchAsync(TlsContextPtr tls, FetchRequest request) {
  auto url = Url::Parse(request.url);
  if (!url.ok()) co_return url.error();
  if (url->scheme != "https") co_return MakeError("URL " + request.url + " must use https://");
  auto stream = co_await ConnectTls(*url, tls, request.timeout);
  if (!stream.ok()) co_return stream.error();
  TlsStream& tls_stream = **stream;

  http::request<http::string_body> req{http::string_to_verb(request.method), url->target, 11};
  req.set(http::field::host, HostHeader(*url));
  req.set(http::field::user_agent, "vmesh-link");
  if (!request.body.empty() || req.method() == http::verb::post || req.method() == http::verb::put) {
    req.set(http::field::content_type, request.content_type);
  }
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.keep_alive(false);
  req.body() = request.body;
  req.prepare_payload();
  if (auto [ec, bytes] = co_await http::async_write(tls_stream, req, kAwait); ec) {
    co_return MakeError("sending the request to " + request.url + " failed: " + ec.message());
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16u << 20);
  if (auto [ec, bytes] = co_await http::async_read(tls_stream, buffer, parser, kAwait); ec) {
    co_return MakeError("reading the response from " + request.url + " failed: " + ec.message());
  }
  auto res = parser.release();
  HttpResponse out;
  out.status = res.result_int();
  out.content_type = std::string(res[http::field::content_type]);
  out.body = std::move(res.body());
  for (const auto& field : res) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  beast::get_lowest_layer(tls_stream).expires_after(std::chrono::seconds(1));
  co_await tls_stream.async_shutdown(kAwait);
  co_return out;
}

}  // namespace

void Dial(asio::io_context& io, DialOptions options, ConnectionHandlers handlers,
          std::function<void(Result<ConnectionPtr>)> done) {
  auto strand = asio::make_strand(io);
  asio::co_spawn(
      strand,
      [options = std::move(options), handlers = std::move(handlers),
       done = std::move(done)]() mutable -> asio::awaitable<void> {
        std::optional<Result<std::shared_ptr<ConnectionImpl>>> result;
        try {
          result.emplace(co_await DialAsync(options, std::move(handlers)));
        } catch (const std::exception& e) {
          result.emplace(MakeError("dialing " + options.url + " failed: " + e.what()));
        }
        if (!result->ok()) {
          done(result->error());
          co_return;
        }
        (**result)->Start({});
        done(ConnectionPtr(**result));
      },
      [](std::exception_ptr error) {
        if (error) std::rethrow_exception(error);  // thrown by `done` itself
      });
}

struct ReconnectingClient::Impl : std::enable_shared_from_this<ReconnectingClient::Impl> {
  Impl(asio::io_context& io, ReconnectOptions options, ReconnectHandlers handlers)
      : io(io),
        options(std::move(options)),
        handlers(std::move(handlers)),
        strand(asio::make_strand(io)),
        clock(this->options.clock                   ? this->options.clock
              : this->options.dial.connection.clock ? this->options.dial.connection.clock
                                                    : SteadyClock()),
        timer(strand),
        backoff_timer(clock->MakeTimer(strand)),
        backoff(this->options.backoff, this->options.random) {
    if (!this->options.now) this->options.now = [clock = clock] { return clock->Now(); };
  }

  asio::awaitable<void> Loop();

  asio::io_context& io;
  ReconnectOptions options;
  ReconnectHandlers handlers;
  asio::strand<asio::io_context::executor_type> strand;
  ClockPtr clock;
  asio::steady_timer timer;  // the wait for the connection to end
  TimerPtr backoff_timer;    // strand only

  // Strand only.
  Backoff backoff;
  bool stopping = false;
  std::optional<CloseInfo> closed;

  mutable std::mutex mu;
  std::condition_variable cv;
  ConnectionPtr current;
  bool started = false;
  bool running = false;
};

asio::awaitable<void> ReconnectingClient::Impl::Loop() {
  auto self = shared_from_this();
  while (!stopping) {
    ConnectionHandlers connection_handlers;
    connection_handlers.on_message = handlers.on_message;
    // The connection shares this strand, so this runs serialized with the loop.
    connection_handlers.on_closed = [weak = weak_from_this()](const ConnectionPtr&, const CloseInfo& info) {
      if (auto impl = weak.lock()) {
        impl->closed = info;
        impl->timer.cancel();
      }
    };
    closed.reset();
    const DialOptions dial = options.dial;  // SetTls() may replace options.dial.tls meanwhile
    auto result = co_await DialAsync(dial, std::move(connection_handlers));
    DisconnectInfo info;
    if (result.ok()) {
      std::shared_ptr<ConnectionImpl> connection = *result;
      {
        std::lock_guard lock(mu);
        current = connection;
      }
      backoff.Connected(options.now());
      // Run() is posted to this strand, so on_connected precedes every message.
      connection->Start({});
      if (handlers.on_connected) handlers.on_connected(connection);
      if (stopping) connection->Close(CloseCode::kGoingAway, "client stopping");
      while (!closed) {
        timer.expires_at(asio::steady_timer::time_point::max());
        co_await timer.async_wait(kAwait);
      }
      {
        std::lock_guard lock(mu);
        current.reset();
      }
      info.was_connected = true;
      info.close = closed;
      info.reason = "connection lost: " + closed->ToString();
    } else {
      info.reason = result.error().message;
    }
    if (stopping) break;
    info.retry_in = backoff.Disconnected(options.now());
    info.attempt = backoff.attempt() - 1;
    spdlog::info("link: {}: {}; retrying in {} ms", options.dial.url, info.reason, info.retry_in.count());
    if (handlers.on_disconnected) handlers.on_disconnected(info);
    if (stopping) break;
    backoff_timer->ExpiresAfter(info.retry_in);
    co_await backoff_timer->Wait();
  }
  std::lock_guard lock(mu);
  running = false;
  cv.notify_all();
}

ReconnectingClient::ReconnectingClient(asio::io_context& io, ReconnectOptions options, ReconnectHandlers handlers)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handlers))) {}

ReconnectingClient::~ReconnectingClient() { Stop(); }

void ReconnectingClient::Start() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->started) return;
    impl_->started = true;
    impl_->running = true;
  }
  asio::co_spawn(impl_->strand, impl_->Loop(), [impl = impl_](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("link: reconnecting client for {} failed: {}", impl->options.dial.url, e.what());
    } catch (...) {
    }
    std::lock_guard lock(impl->mu);
    impl->running = false;
    impl->cv.notify_all();
  });
}

void ReconnectingClient::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->running) return;
  }
  asio::post(impl_->strand, [impl = impl_] {
    impl->stopping = true;
    impl->timer.cancel();
    impl->backoff_timer->Cancel();
    std::lock_guard lock(impl->mu);
    if (impl->current) impl->current->Close(CloseCode::kGoingAway, "client stopping");
  });
  const auto& connection = impl_->options.dial.connection;
  std::unique_lock lock(impl_->mu);
  if (!impl_->cv.wait_for(lock, connection.handshake_timeout + connection.close_grace + std::chrono::seconds(1),
                          [&] { return !impl_->running; })) {
    spdlog::error("link: reconnecting client for {} did not stop (io_context not running?)", impl_->options.dial.url);
  }
}

void ReconnectingClient::SetTls(TlsContextPtr tls) {
  asio::post(impl_->strand,
             [impl = impl_, tls = std::move(tls)]() mutable { impl->options.dial.tls = std::move(tls); });
}

ConnectionPtr ReconnectingClient::connection() const {
  std::lock_guard lock(impl_->mu);
  return impl_->current;
}

Result<HttpResponse> Fetch(const TlsContextPtr& tls, const FetchRequest& request) {
  asio::io_context io;
  std::optional<Result<HttpResponse>> out;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { out.emplace(co_await FetchAsync(tls, request)); },
      [&](std::exception_ptr error) {
        if (error) std::rethrow_exception(error);
      });
  io.run();
  if (!out) return MakeError("request to " + request.url + " did not complete");
  return std::move(*out);
}

}  // namespace vmesh::link
