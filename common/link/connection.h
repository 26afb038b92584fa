// One hub–agent WebSocket (SPEC §9): binary messages over TLS, subprotocol "vmesh.v1", a message size limit,
// pings and dead-peer detection, and a graceful close.
//
// Each connection runs on its own strand: one reader delivering messages to the handler, exactly one writer
// draining the outbound queue (Send() only enqueues), a ping timer and an idle watchdog. Handlers are
// called on that strand, one at a time, and must not block.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "common/link/clock.h"
#include "common/link/tls.h"

namespace vmesh::link {

// The WebSocket subprotocol of the link; connections without it are refused.
inline constexpr char kSubprotocol[] = "vmesh.v1";

// WebSocket close codes (RFC 6455 §7.4.1) the link uses.
struct CloseCode {
  enum : uint16_t {
    kNormal = 1000,
    kGoingAway = 1001,  // server shutting down, client stopping
    kProtocolError = 1002,
    kUnsupportedData = 1003,  // e.g. a text frame
    kAbnormal = 1006,         // never sent: the connection ended without a closing handshake
    kPolicyViolation = 1008,  // e.g. a revoked identity, a message for another cluster
    kMessageTooBig = 1009,
    kInternalError = 1011,
    kServiceRestart = 1012,  // e.g. a hub replica that lost the leader election: reconnect (to the new leader)
  };
};

struct ConnectionOptions {
  // Largest message accepted; a bigger one closes the connection with 1009.
  std::size_t max_message_bytes = 16u << 20;
  // Bytes of messages waiting to be written above which Send() fails (one message is always accepted
  // into an empty queue).
  std::size_t max_queued_bytes = 64u << 20;
  // A ping is sent this often.
  std::chrono::milliseconds ping_interval{10000};
  // Nothing received (no message, ping or pong) for this long: the peer is dead and the connection is dropped.
  std::chrono::milliseconds idle_timeout{30000};
  // Longest time a closing handshake may take before the connection is dropped.
  std::chrono::milliseconds close_grace{5000};
  // Longest time the TLS handshake plus the WebSocket upgrade may take when dialing (a server applies its
  // ServerOptions::tls_handshake_timeout and request_timeout instead).
  std::chrono::milliseconds handshake_timeout{10000};
  // What the ping interval, idle timeout and close grace are measured on (tests: a ManualClock); null means
  // SteadyClock(). Socket-level deadlines (handshakes, requests) always use the steady clock.
  ClockPtr clock;
};

// How a connection ended.
struct CloseInfo {
  // The close code of the closing handshake (ours if we closed first, the peer's otherwise), or
  // CloseCode::kAbnormal (1006) when there was none (dead peer, reset, TLS error).
  uint16_t code = CloseCode::kAbnormal;
  std::string reason;
  // True if this side started the close (Close(), a too-big message, the idle watchdog, an error).
  bool local = false;

  std::string ToString() const;  // "1009 (local): message too big"
};

class Connection;
using ConnectionPtr = std::shared_ptr<Connection>;

struct ConnectionHandlers {
  // Once, when the connection is ready, before any message.
  std::function<void(const ConnectionPtr&)> on_open;
  // Each binary message received, in order.
  std::function<void(const ConnectionPtr&, std::string message)> on_message;
  // Once, when the connection has ended (however it ended). No callback follows.
  std::function<void(const ConnectionPtr&, const CloseInfo&)> on_closed;
};

class Connection {
 public:
  virtual ~Connection() = default;

  // Queues one binary message for the writer and returns at once. Thread-safe. Fails when the connection is
  // closing or closed, when the message exceeds max_message_bytes, or when the queue is full.
  virtual Status Send(std::string message) = 0;
  // Starts the closing handshake after the messages already queued; Send() fails from now on. Thread-safe;
  // only the first call counts. The connection is dropped if the handshake is not done within close_grace.
  virtual void Close(uint16_t code = CloseCode::kNormal, std::string reason = "") = 0;

  // False once Close() was called or the connection ended.
  virtual bool is_open() const = 0;
  // Bytes queued and not yet handed to the socket.
  virtual std::size_t queued_bytes() const = 0;

  // The peer's verified certificate (server side: the client's, if it presented one; client side: the server's).
  virtual const PeerIdentity& peer() const = 0;
  // "127.0.0.1:40211"
  virtual const std::string& remote_address() const = 0;
  // The request target of the upgrade, e.g. "/v1/connect".
  virtual const std::string& target() const = 0;
};

}  // namespace vmesh::link
