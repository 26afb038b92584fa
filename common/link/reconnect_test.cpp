// ReconnectingClient against a real link server on 127.0.0.1: reconnection after a server restart, the
// reported backoff delays, and the reset after a stable period (with an injected clock).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <mutex>

#include "common/link/client.h"
#include "common/link/clock.h"
#include "common/link/event_loop.h"
#include "common/link/link_test_util.h"
#include "common/link/server.h"

namespace vmesh::link {
namespace {

using std::chrono::milliseconds;
using test::ClientTls;
using test::LinkCa;
using test::ServerTls;
using test::WaitFor;

ConnectionOptions FastOptions() {
  ConnectionOptions options;
  options.ping_interval = milliseconds(200);
  options.idle_timeout = milliseconds(600);
  options.close_grace = milliseconds(1000);
  options.handshake_timeout = milliseconds(3000);
  return options;
}

// A port that was free a moment ago (bound with port 0, then released).
uint16_t FreePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// Records what the ReconnectingClient reports.
struct Events {
  std::mutex mu;
  int connected = 0;
  std::vector<DisconnectInfo> disconnects;
  std::vector<std::string> messages;

  ReconnectHandlers Handlers() {
    ReconnectHandlers handlers;
    handlers.on_connected = [this](const ConnectionPtr& connection) {
      EXPECT_TRUE(connection->Send("hello from agent").ok());
      std::lock_guard lock(mu);
      ++connected;
    };
    handlers.on_message = [this](const ConnectionPtr&, std::string message) {
      std::lock_guard lock(mu);
      messages.push_back(std::move(message));
    };
    handlers.on_disconnected = [this](const DisconnectInfo& info) {
      std::lock_guard lock(mu);
      disconnects.push_back(info);
    };
    return handlers;
  }
  int connected_count() {
    std::lock_guard lock(mu);
    return connected;
  }
  size_t disconnect_count() {
    std::lock_guard lock(mu);
    return disconnects.size();
  }
};

// A hub stand-in: accepts authenticated clusters, greets them, and remembers the live connections.
class Hub {
 public:
  Hub(EventLoop& loop, uint16_t port) {
    ServerOptions options;
    options.port = port;
    options.tls = ServerTls();
    options.connection = FastOptions();
    options.stop_grace = milliseconds(1000);
    server_ = std::make_unique<Server>(loop.context(), std::move(options));
    server_->Handle("/v1/connect", WebSocketRoute{ClientCertPolicy::kRequired, [this](const HttpRequest&) {
                                                    ConnectionHandlers handlers;
                                                    handlers.on_open = [this](const ConnectionPtr& connection) {
                                                      EXPECT_TRUE(connection->Send("welcome").ok());
                                                      std::lock_guard lock(mu_);
                                                      connections_.push_back(connection);
                                                    };
                                                    return UpgradeDecision::Accept(std::move(handlers));
                                                  }});
    Status status = server_->Start();
    EXPECT_TRUE(status.ok()) << status.error().message;
  }

  Server& server() { return *server_; }
  ConnectionPtr last_connection() {
    std::lock_guard lock(mu_);
    return connections_.empty() ? nullptr : connections_.back();
  }
  size_t accepted() {
    std::lock_guard lock(mu_);
    return connections_.size();
  }

 private:
  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::vector<ConnectionPtr> connections_;
};

ReconnectOptions ClientOptions(uint16_t port, const test::Identity& identity) {
  ReconnectOptions options;
  options.dial =
      DialOptions{"wss://127.0.0.1:" + std::to_string(port) + "/v1/connect", ClientTls(&identity), FastOptions()};
  options.backoff = BackoffPolicy{milliseconds(20), milliseconds(200), milliseconds(60000)};
  options.random = Backoff::SeededRandom(1);
  return options;
}

TEST(ReconnectingClientTest, ReconnectsWhenTheServerComesBack) {
  EventLoop loop(2);
  const uint16_t port = FreePort();
  test::Identity identity = LinkCa().IssueClient("cluster-1");
  auto hub = std::make_unique<Hub>(loop, port);
  Events events;
  ReconnectingClient client(loop.context(), ClientOptions(port, identity), events.Handlers());
  client.Start();
  ASSERT_TRUE(WaitFor([&] { return events.connected_count() == 1; }));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(events.mu);
    return events.messages.size() == 1;
  }));
  EXPECT_EQ(events.messages[0], "welcome");
  EXPECT_NE(client.connection(), nullptr);

  // The hub goes away: the client sees the close and keeps trying.
  hub->server().Stop();
  hub.reset();
  ASSERT_TRUE(WaitFor([&] { return events.disconnect_count() >= 3; }));
  {
    std::lock_guard lock(events.mu);
    EXPECT_TRUE(events.disconnects[0].was_connected);
    ASSERT_TRUE(events.disconnects[0].close.has_value());
    EXPECT_EQ(events.disconnects[0].close->code, CloseCode::kGoingAway);
    EXPECT_FALSE(events.disconnects[1].was_connected);  // refused attempts
    EXPECT_NE(events.disconnects[1].reason.find("cannot connect"), std::string::npos) << events.disconnects[1].reason;
  }
  EXPECT_EQ(client.connection(), nullptr);

  // Meanwhile the agent renewed its certificate: later dials use it.
  test::Identity renewed = LinkCa().IssueClient("cluster-1");
  const size_t before = events.disconnect_count();
  client.SetTls(ClientTls(&renewed));
  // Two more failed attempts: at least the second one started after the swap.
  ASSERT_TRUE(WaitFor([&] { return events.disconnect_count() >= before + 2; }));

  // Back on the same port: the client reconnects by itself.
  hub = std::make_unique<Hub>(loop, port);
  ASSERT_TRUE(WaitFor([&] { return events.connected_count() == 2; }));
  ASSERT_TRUE(WaitFor([&] { return hub->accepted() == 1; }));
  EXPECT_TRUE(hub->last_connection()->peer().authenticated);
  EXPECT_EQ(hub->last_connection()->peer().serial_hex, renewed.serial_hex);

  // Stop closes the session with 1001 and stops reconnecting.
  client.Stop();
  EXPECT_EQ(client.connection(), nullptr);
  ASSERT_TRUE(WaitFor([&] { return hub->server().connection_count() == 0; }));
}

TEST(ReconnectingClientTest, WaitsTheBackoffDelayBeforeRedialingAndNotAfterStop) {
  EventLoop loop(1);
  const uint16_t port = FreePort();  // nothing listens
  test::Identity identity = LinkCa().IssueClient("cluster-1");
  Events events;
  auto clock = std::make_shared<ManualClock>();
  ReconnectOptions options = ClientOptions(port, identity);
  options.clock = clock;
  ReconnectingClient client(loop.context(), options, events.Handlers());
  client.Start();
  ASSERT_TRUE(WaitFor([&] { return events.disconnect_count() == 1 && clock->armed_timers() == 1; }));
  const milliseconds delay = [&] {
    std::lock_guard lock(events.mu);
    return events.disconnects[0].retry_in;
  }();
  ASSERT_GT(delay, milliseconds(1));
  // One millisecond early: no second attempt (the clock did not reach the backoff deadline, so nothing fires).
  clock->Advance(delay - milliseconds(1));
  EXPECT_EQ(clock->armed_timers(), 1u);
  EXPECT_EQ(events.disconnect_count(), 1u);
  clock->Advance(milliseconds(1));
  ASSERT_TRUE(WaitFor([&] { return events.disconnect_count() == 2 && clock->armed_timers() == 1; }));
  // Stopped, nothing waits to redial, however much time passes.
  client.Stop();
  EXPECT_EQ(clock->armed_timers(), 0u);
  clock->Advance(std::chrono::hours(1));
  EXPECT_EQ(events.disconnect_count(), 2u);
}

TEST(ReconnectingClientTest, ReportedDelaysFollowTheSeededBackoff) {
  EventLoop loop(1);
  const uint16_t port = FreePort();  // nothing listens
  test::Identity identity = LinkCa().IssueClient("cluster-1");
  Events events;
  ReconnectOptions options = ClientOptions(port, identity);
  options.random = Backoff::SeededRandom(1234);
  auto clock = std::make_shared<ManualClock>();
  options.clock = clock;  // the test moves time: no waiting for the delays
  ReconnectingClient client(loop.context(), options, events.Handlers());
  client.Start();
  ASSERT_TRUE(WaitFor([&] {
    clock->Advance(options.backoff.cap);
    return events.disconnect_count() >= 6;
  }));
  client.Stop();

  Backoff expected(options.backoff, Backoff::SeededRandom(1234));
  std::lock_guard lock(events.mu);
  for (size_t i = 0; i < 6; ++i) {
    const DisconnectInfo& info = events.disconnects[i];
    EXPECT_FALSE(info.was_connected);
    EXPECT_EQ(info.attempt, static_cast<int>(i));
    EXPECT_LE(info.retry_in, std::min(options.backoff.cap, options.backoff.base * (1 << i)));
    EXPECT_EQ(info.retry_in, expected.Next()) << "attempt " << i;
  }
}

TEST(ReconnectingClientTest, BackoffResetsAfterAStablePeriod) {
  EventLoop loop(2);
  Hub hub(loop, 0);
  test::Identity identity = LinkCa().IssueClient("cluster-1");
  Events events;
  ReconnectOptions options = ClientOptions(hub.server().port(), identity);
  options.backoff = BackoffPolicy{milliseconds(10), milliseconds(1000), milliseconds(60000)};
  options.random = [] { return ~uint64_t{0}; };  // always the ceiling: the attempt is visible in the delay
  std::atomic<int64_t> now_ms{0};
  options.now = [&] { return std::chrono::steady_clock::time_point(milliseconds(now_ms.load())); };
  ReconnectingClient client(loop.context(), options, events.Handlers());
  client.Start();

  // Three short-lived sessions: the delay doubles each time.
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(WaitFor([&] { return hub.accepted() == static_cast<size_t>(i) && events.connected_count() == i; }));
    now_ms += 1000;
    hub.last_connection()->Close(CloseCode::kGoingAway, "restarting");
    ASSERT_TRUE(WaitFor([&] { return events.disconnect_count() == static_cast<size_t>(i); }));
  }
  // A session that stays up for the stable period: back to the base delay.
  // (on_connected follows the client's own bookkeeping of when the session started.)
  ASSERT_TRUE(WaitFor([&] { return hub.accepted() == 4 && events.connected_count() == 4; }));
  now_ms += 60000;
  hub.last_connection()->Close(CloseCode::kGoingAway, "restarting");
  ASSERT_TRUE(WaitFor([&] { return events.disconnect_count() == 4; }));
  ASSERT_TRUE(WaitFor([&] { return hub.accepted() == 5; }));
  client.Stop();

  std::lock_guard lock(events.mu);
  std::vector<int64_t> delays;
  for (const DisconnectInfo& info : events.disconnects) {
    EXPECT_TRUE(info.was_connected);
    delays.push_back(info.retry_in.count());
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{10, 20, 40, 10}));
}

}  // namespace
}  // namespace vmesh::link
