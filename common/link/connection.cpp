#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "common/link/websocket_internal.h"

namespace vmesh::link {

std::string CloseInfo::ToString() const {
  std::string out = std::to_string(code) + (local ? " (local)" : " (remote)");
  if (!reason.empty()) out += ": " + reason;
  return out;
}

namespace internal {
namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

}  // namespace

std::string RemoteAddress(const asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "?";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

ConnectionImpl::ConnectionImpl(WsStream ws, const ConnectionOptions& options, ConnectionHandlers handlers,
                               PeerIdentity peer, std::string remote_address, std::string target)
    : ws_(std::move(ws)),
      options_(options),
      handlers_(std::move(handlers)),
      peer_(std::move(peer)),
      remote_address_(std::move(remote_address)),
      target_(std::move(target)),
      wake_timer_(ws_.get_executor()),
      clock_(options.clock ? options.clock : SteadyClock()),
      ping_timer_(clock_->MakeTimer(ws_.get_executor())),
      idle_timer_(clock_->MakeTimer(ws_.get_executor())),
      grace_timer_(clock_->MakeTimer(ws_.get_executor())) {}

ConnectionImpl::~ConnectionImpl() = default;

void ConnectionImpl::Start(std::function<void()> on_finished) {
  on_finished_ = std::move(on_finished);
  auto self = shared_from_this();
  asio::co_spawn(ws_.get_executor(), Run(), [self](std::exception_ptr error) {
    if (error && !self->finished_) {
      // A handler threw: nothing sensible can follow on this connection.
      std::string what = "internal error";
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        what += std::string(": ") + e.what();
      } catch (...) {
      }
      spdlog::error("link: connection {} {}: {}", self->remote_address_, self->target_, what);
      self->Drop(CloseInfo{CloseCode::kInternalError, what, true});
      self->Finish(CloseInfo{CloseCode::kInternalError, what, true});
    }
  });
}

asio::awaitable<void> ConnectionImpl::Run() {
  auto self = shared_from_this();
  auto executor = ws_.get_executor();
  last_received_ = clock_->Now();
  beast::get_lowest_layer(ws_).expires_never();
  ws_.binary(true);
  ws_.auto_fragment(false);
  ws_.read_message_max(0);  // see the read loop
  // Beast's own timer bounds the closing handshake; idleness is ours (Watchdog) so that pings and the dead-peer
  // window are configured independently.
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = options_.close_grace;
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  ws_.control_callback([this](websocket::frame_type, beast::string_view) { last_received_ = clock_->Now(); });

  if (handlers_.on_open) handlers_.on_open(self);

  running_ = 4;  // reader (this coroutine), writer, pinger, watchdog
  auto part_done = [self](std::exception_ptr) {
    if (--self->running_ == 0 && self->on_finished_) std::exchange(self->on_finished_, nullptr)();
  };
  asio::co_spawn(executor, WriteLoop(), part_done);
  asio::co_spawn(executor, PingLoop(), part_done);
  asio::co_spawn(executor, Watchdog(), part_done);

  // The size limit is enforced here rather than by Beast's read_message_max: Beast fails the connection with
  // 1009 but then reports the TLS teardown's error instead, and our own Close() goes through the writer and a
  // proper closing handshake. Reading in chunks keeps memory bounded by the limit whatever a frame header claims.
  constexpr std::size_t kReadChunk = 64 * 1024;
  CloseInfo info;
  beast::flat_buffer buffer;
  bool discarding = false;  // the current message is over the limit (or arrives after Close()): drop it
  for (;;) {
    auto [ec, bytes] = co_await ws_.async_read_some(buffer, kReadChunk, kAwait);
    if (ec) {
      if (drop_info_) {
        info = *drop_info_;
      } else if (close_sent_) {
        std::lock_guard lock(mu_);
        info = CloseInfo{close_request_->code, std::string(close_request_->reason.c_str()), true};
      } else if (ec == websocket::error::closed) {
        info = CloseInfo{ws_.reason().code, std::string(ws_.reason().reason.c_str()), false};
      } else if (ec.category() == websocket::make_error_code(websocket::error::closed).category()) {
        // A WebSocket protocol violation by the peer: Beast has failed the connection with 1002.
        info = CloseInfo{CloseCode::kProtocolError, ec.message(), true};
      } else {
        info = CloseInfo{CloseCode::kAbnormal, ec.message(), false};
      }
      break;
    }
    last_received_ = clock_->Now();
    if (!discarding && buffer.size() > options_.max_message_bytes) {
      discarding = true;
      Close(CloseCode::kMessageTooBig, "message larger than " + std::to_string(options_.max_message_bytes) + " bytes");
    }
    if (discarding) buffer.clear();
    if (!ws_.is_message_done()) continue;
    if (discarding) {
      discarding = !is_open();  // after Close(), everything until the peer's close frame is dropped
      continue;
    }
    if (!ws_.got_binary()) {
      Close(CloseCode::kUnsupportedData, "text messages are not supported");
      discarding = true;
      buffer.clear();
      continue;
    }
    if (handlers_.on_message) handlers_.on_message(self, beast::buffers_to_string(buffer.data()));
    buffer.clear();
    // An idle connection should not keep the memory of its largest message.
    if (buffer.capacity() > 4 * kReadChunk) buffer.shrink_to_fit();
  }
  Finish(std::move(info));
  part_done(nullptr);
}

asio::awaitable<void> ConnectionImpl::WriteLoop() {
  auto self = shared_from_this();
  while (!finished_) {
    if (ping_due_) {
      ping_due_ = false;
      auto [ec] = co_await ws_.async_ping({}, kAwait);
      if (ec) break;
      continue;
    }
    std::optional<std::string> message;
    std::optional<websocket::close_reason> close;
    {
      std::lock_guard lock(mu_);
      if (!queue_.empty()) {
        message = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= message->size();
      } else if (close_request_ && !close_sent_) {
        close = close_request_;
      }
    }
    if (message) {
      auto [ec, bytes] = co_await ws_.async_write(asio::buffer(*message), kAwait);
      if (ec) {
        Drop(CloseInfo{CloseCode::kAbnormal, "write failed: " + ec.message(), false});
        break;
      }
      continue;
    }
    if (close) {
      close_sent_ = true;
      co_await ws_.async_close(*close, kAwait);
      // The reader completes once the peer's close frame arrives (or the connection drops).
      break;
    }
    wake_timer_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_timer_.async_wait(kAwait);
  }
}

asio::awaitable<void> ConnectionImpl::PingLoop() {
  auto self = shared_from_this();
  while (!finished_) {
    ping_timer_->ExpiresAfter(options_.ping_interval);
    auto ec = co_await ping_timer_->Wait();
    if (ec || finished_) break;
    ping_due_ = true;
    Wake();
  }
}

asio::awaitable<void> ConnectionImpl::Watchdog() {
  auto self = shared_from_this();
  while (!finished_) {
    auto deadline = last_received_ + options_.idle_timeout;
    const auto now = clock_->Now();
    if (now >= deadline) {
      auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_received_);
      Drop(CloseInfo{CloseCode::kAbnormal, "peer silent for " + std::to_string(silent.count()) + " ms", true});
      break;
    }
    idle_timer_->ExpiresAt(deadline);
    co_await idle_timer_->Wait();
  }
}

asio::awaitable<void> ConnectionImpl::CloseGrace(uint16_t code, std::string reason) {
  auto self = shared_from_this();
  if (boost::system::error_code ec = co_await grace_timer_->Wait(); ec) co_return;  // finished (or re-armed) first
  Drop(CloseInfo{code, reason + " (closing handshake timed out)", true});
}

void ConnectionImpl::Wake() { wake_timer_.cancel(); }

void ConnectionImpl::Drop(CloseInfo info) {
  if (finished_ || drop_info_) return;
  drop_info_ = std::move(info);
  beast::get_lowest_layer(ws_).close();
}

void ConnectionImpl::Finish(CloseInfo info) {
  if (finished_) return;
  finished_ = true;
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    queue_.clear();
    queued_bytes_ = 0;
  }
  wake_timer_.cancel();
  ping_timer_->Cancel();
  idle_timer_->Cancel();
  grace_timer_->Cancel();
  beast::get_lowest_layer(ws_).close();
  spdlog::debug("link: connection {} {} ({}) closed: {}", remote_address_, target_, peer_.ToString(), info.ToString());
  final_info_ = info;
  // Handlers may hold the connection: drop them so that the cycle breaks.
  ConnectionHandlers handlers = std::move(handlers_);
  handlers_ = {};
  if (handlers.on_closed) handlers.on_closed(shared_from_this(), info);
}

void ConnectionImpl::Abort(std::string reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), reason = std::move(reason)]() mutable {
    self->Drop(CloseInfo{CloseCode::kAbnormal, std::move(reason), true});
  });
}

Status ConnectionImpl::Send(std::string message) {
  if (message.size() > options_.max_message_bytes) {
    return MakeError("message of " + std::to_string(message.size()) + " bytes exceeds the limit of " +
                     std::to_string(options_.max_message_bytes));
  }
  {
    std::lock_guard lock(mu_);
    if (!accepting_) return MakeError("connection to " + remote_address_ + " is closed");
    if (!queue_.empty() && queued_bytes_ + message.size() > options_.max_queued_bytes) {
      return MakeError("send queue to " + remote_address_ + " is full (" + std::to_string(queued_bytes_) +
                       " bytes waiting)");
    }
    queued_bytes_ += message.size();
    queue_.push_back(std::move(message));
  }
  asio::post(ws_.get_executor(), [self = shared_from_this()] { self->Wake(); });
  return OkStatus();
}

void ConnectionImpl::Close(uint16_t code, std::string reason) {
  {
    std::lock_guard lock(mu_);
    if (!accepting_) return;
    accepting_ = false;
    // Control frames carry at most 123 bytes of reason.
    if (reason.size() > 123) reason.resize(123);
    close_request_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
  }
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason] {
    if (self->finished_) return;
    self->grace_timer_->ExpiresAfter(self->options_.close_grace);
    asio::co_spawn(self->ws_.get_executor(), self->CloseGrace(code, reason), asio::detached);
    self->Wake();
  });
}

bool ConnectionImpl::is_open() const {
  std::lock_guard lock(mu_);
  return accepting_;
}

std::size_t ConnectionImpl::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

}  // namespace internal
}  // namespace vmesh::link
