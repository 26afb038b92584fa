// Internal to vmesh_link (included by its .cpp files only): the Beast stream types and the connection
// implementation the server and the client hand an upgraded stream to.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <deque>
#include <mutex>
#include <optional>

#include "common/link/connection.h"

namespace vmesh::link::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using WsStream = websocket::stream<TlsStream>;

// "1.2.3.4:5678" for a connected socket ("?" when unknown).
std::string RemoteAddress(const asio::ip::tcp::socket& socket);

class ConnectionImpl final : public Connection, public std::enable_shared_from_this<ConnectionImpl> {
 public:
  // `ws` has completed the upgrade; its executor is the connection's strand.
  ConnectionImpl(WsStream ws, const ConnectionOptions& options, ConnectionHandlers handlers, PeerIdentity peer,
                 std::string remote_address, std::string target);
  ~ConnectionImpl() override;

  // Calls on_open, then runs reader, writer, pinger and watchdog on the strand. `on_finished` runs last, after
  // on_closed, when every part has stopped touching the stream.
  void Start(std::function<void()> on_finished);
  // Thread-safe: drops the connection now, without a closing handshake.
  void Abort(std::string reason);

  Status Send(std::string message) override;
  void Close(uint16_t code, std::string reason) override;
  bool is_open() const override;
  std::size_t queued_bytes() const override;
  const PeerIdentity& peer() const override { return peer_; }
  const std::string& remote_address() const override { return remote_address_; }
  const std::string& target() const override { return target_; }

 private:
  asio::awaitable<void> Run();
  asio::awaitable<void> WriteLoop();
  asio::awaitable<void> PingLoop();
  asio::awaitable<void> Watchdog();
  // Drops the connection when the closing handshake outlasts close_grace (grace_timer_, armed by Close()).
  asio::awaitable<void> CloseGrace(uint16_t code, std::string reason);
  // On the strand.
  void Wake();
  void Drop(CloseInfo info);
  void Finish(CloseInfo info);

  WsStream ws_;
  const ConnectionOptions options_;
  ConnectionHandlers handlers_;
  const PeerIdentity peer_;
  const std::string remote_address_;
  const std::string target_;
  std::function<void()> on_finished_;

  // Shared with other threads.
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool accepting_ = true;
  std::optional<websocket::close_reason> close_request_;

  // Strand only.
  asio::steady_timer wake_timer_;
  const ClockPtr clock_;
  TimerPtr ping_timer_;
  TimerPtr idle_timer_;
  TimerPtr grace_timer_;
  std::chrono::steady_clock::time_point last_received_;
  bool ping_due_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  int running_ = 0;                     // writer, pinger, watchdog still running
  std::optional<CloseInfo> drop_info_;  // why we dropped the connection, if we did
  std::optional<CloseInfo> final_info_;
};

}  // namespace vmesh::link::internal
