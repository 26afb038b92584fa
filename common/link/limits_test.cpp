// Limits of the link server and the admin HTTP server against idle, slow and too many peers: a peer that never
// completes the TLS handshake, one that trickles a request header (slowloris), an idle keep-alive connection,
// and connections beyond the cap. Raw sockets on 127.0.0.1 play the misbehaving peers; the timeouts are set
// short, so no test sleeps long.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>

#include "common/link/admin_http.h"
#include "common/link/client.h"
#include "common/link/event_loop.h"
#include "common/link/link_test_util.h"
#include "common/link/server.h"

namespace vmesh::link {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

// How long a test waits for the server to act on a (short, test-configured) timeout before it fails instead
// of hanging: far above the configured timeouts, far below the defaults where it matters.
constexpr milliseconds kGuard{5000};

// A raw TCP connection to 127.0.0.1:port; closed on destruction.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawConnection() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  // A TLS client handshake over the connection (no client certificate). Afterwards the socket is
  // non-blocking, so that post-handshake messages (TLS 1.3 session tickets) are not taken for data or a close.
  bool StartTls() {
    static const TlsContextPtr tls = test::ClientTls(nullptr);
    ssl_ = SSL_new(tls->native_handle());
    SSL_set_fd(ssl_, fd_);
    const bool ok = SSL_connect(ssl_) == 1;
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    return ok;
  }

  // Writes (over TLS once started); false when the peer is gone.
  bool Write(const std::string& bytes) {
    if (ssl_) return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }

  enum class Event { kNothing, kData, kClosed };
  // Waits up to `wait` for something from the peer: data (kept in received()), or the end of the connection
  // (close_notify, FIN or RST).
  Event Poll(milliseconds wait) {
    if (!(ssl_ && SSL_pending(ssl_) > 0)) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return Event::kNothing;
    }
    char buf[4096];
    if (ssl_) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) {
        received_.append(buf, static_cast<std::size_t>(n));
        return Event::kData;
      }
      return SSL_get_error(ssl_, n) == SSL_ERROR_WANT_READ ? Event::kNothing : Event::kClosed;
    }
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      received_.append(buf, static_cast<std::size_t>(n));
      return Event::kData;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? Event::kNothing : Event::kClosed;
  }

  // Reads until the peer closes the connection (true) or `guard` passes without that (false).
  bool WaitClosedByPeer(milliseconds guard = kGuard) {
    const auto deadline = std::chrono::steady_clock::now() + guard;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Poll(milliseconds(20)) == Event::kClosed) return true;
    }
    return false;
  }

  // Reads until `text` has arrived `times` times in all (true) or the guard passes or the peer closes (false).
  bool ReadUntil(const std::string& text, int times = 1, milliseconds guard = kGuard) {
    const auto deadline = std::chrono::steady_clock::now() + guard;
    auto count = [&] {
      int n = 0;
      for (auto at = received_.find(text); at != std::string::npos; at = received_.find(text, at + 1)) ++n;
      return n;
    };
    while (count() < times) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      if (Poll(milliseconds(20)) == Event::kClosed) return count() >= times;
    }
    return true;
  }

  const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  SSL* ssl_ = nullptr;
  std::string received_;
};

// Sends `header` one byte at a time, a few ms apart, until the peer closes. Returns how many bytes were sent
// before the close, or nullopt if all of them went out without one.
std::optional<std::size_t> Trickle(RawConnection& c, const std::string& header) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (!c.Write(header.substr(i, 1))) return i;
    if (c.Poll(milliseconds(20)) == RawConnection::Event::kClosed) return i + 1;
  }
  return std::nullopt;
}

// A request header that takes about 20 s to trickle: far longer than the test timeouts, and than the
// default timeouts (10 s), so that only a request deadline stops it.
std::string SlowHeader() {
  return "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(1000, 'a') + "\r\n\r\n";
}

// --- Link server ----------------------------------------------------------------------------------------------

class LinkLimitsTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options) {
    options.tls = test::ServerTls();
    options.stop_grace = milliseconds(1000);
    options.connection.ping_interval = milliseconds(200);
    options.connection.idle_timeout = milliseconds(2000);
    server_ = std::make_unique<Server>(loop_.context(), std::move(options));
    server_->Handle("/v1/connect", WebSocketRoute{ClientCertPolicy::kRequired, [](const HttpRequest&) {
                                                    ConnectionHandlers handlers;
                                                    handlers.on_message = [](const ConnectionPtr& c, std::string m) {
                                                      (void)c->Send("echo:" + m);
                                                    };
                                                    return UpgradeDecision::Accept(std::move(handlers));
                                                  }});
    server_->Handle("/healthz", HttpRoute{ClientCertPolicy::kOptional,
                                          [](const HttpRequest&) { return HttpResponse::Text(200, "ok\n"); }});
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override {
    if (server_) server_->Stop();
    loop_.Stop();
  }

  // A WebSocket client whose received messages are counted.
  struct Client {
    ConnectionPtr connection;
    std::shared_ptr<std::atomic<int>> echoes = std::make_shared<std::atomic<int>>(0);
  };
  Result<Client> Dial() {
    static const test::Identity identity = test::LinkCa().IssueClient("cluster-1");
    Client client;
    ConnectionHandlers handlers;
    handlers.on_message = [echoes = client.echoes](const ConnectionPtr&, std::string) { ++*echoes; };
    std::promise<Result<ConnectionPtr>> promise;
    ConnectionOptions options;
    options.ping_interval = milliseconds(200);
    options.idle_timeout = milliseconds(2000);
    options.handshake_timeout = milliseconds(3000);
    link::Dial(loop_.context(),
               DialOptions{"wss://127.0.0.1:" + std::to_string(server_->port()) + "/v1/connect",
                           test::ClientTls(&identity), options},
               std::move(handlers), [&promise](Result<ConnectionPtr> r) { promise.set_value(std::move(r)); });
    auto dialed = promise.get_future().get();
    if (!dialed.ok()) return dialed.error();
    client.connection = *dialed;
    return client;
  }

  // The client's session still echoes.
  static bool StillWorks(Client& client) {
    const int before = client.echoes->load();
    if (!client.connection->Send("ping").ok()) return false;
    return test::WaitFor([&] { return client.echoes->load() > before; });
  }

  EventLoop loop_{2};
  std::unique_ptr<Server> server_;
};

TEST_F(LinkLimitsTest, AConnectionThatSendsNothingIsClosedAfterTheTlsHandshakeTimeout) {
  StartServer({.tls_handshake_timeout = milliseconds(200)});
  RawConnection silent(server_->port());
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.WaitClosedByPeer()) << "a peer that never starts the handshake is not dropped";
  EXPECT_EQ(silent.received(), "");
}

TEST_F(LinkLimitsTest, ASlowlorisRequestHeaderIsClosedAtTheRequestDeadline) {
  StartServer({.request_timeout = milliseconds(300)});
  RawConnection slow(server_->port());
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.StartTls());
  const std::string header = SlowHeader();
  auto sent = Trickle(slow, header);
  ASSERT_TRUE(sent.has_value()) << "the whole header trickled in without the server closing";
  EXPECT_LT(*sent, 100u) << "each byte must not extend the deadline";
  EXPECT_THAT(slow.received(), ::testing::Not(HasSubstr("HTTP/1.1")));
}

TEST_F(LinkLimitsTest, AnIdleKeepAliveConnectionIsClosedAfterTheKeepAliveTimeout) {
  StartServer({.keep_alive_timeout = milliseconds(200)});
  RawConnection c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.StartTls());
  ASSERT_TRUE(c.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c.ReadUntil("ok\n")) << c.received();
  EXPECT_THAT(c.received(), HasSubstr("HTTP/1.1 200"));
  EXPECT_TRUE(c.WaitClosedByPeer()) << "the idle keep-alive connection stays open";
}

TEST_F(LinkLimitsTest, KeepAliveServesFurtherRequestsWithinTheTimeouts) {
  StartServer({.request_timeout = milliseconds(2000), .keep_alive_timeout = milliseconds(2000)});
  RawConnection c(server_->port());
  ASSERT_TRUE(c.StartTls());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(c.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(c.ReadUntil("HTTP/1.1 200", i)) << c.received();
  }
}

TEST_F(LinkLimitsTest, ConnectionsOverTheCapAreRefusedWhileExistingSessionsKeepWorking) {
  std::atomic<int> refused_callbacks{0};
  StartServer({.max_connections = 2, .on_connection_refused = [&] { ++refused_callbacks; }});
  auto first = Dial();
  auto second = Dial();
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(second.ok()) << second.error().message;
  ASSERT_TRUE(test::WaitFor([&] { return server_->connection_count() == 2; }));

  // A third WebSocket and a raw connection are closed at accept, before any TLS.
  auto third = Dial();
  EXPECT_FALSE(third.ok());
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  EXPECT_TRUE(raw.WaitClosedByPeer());
  EXPECT_EQ(raw.received(), "");
  EXPECT_TRUE(test::WaitFor([&] { return server_->refused_connections() == 2 && refused_callbacks == 2; }))
      << server_->refused_connections();

  EXPECT_TRUE(StillWorks(*first));
  EXPECT_TRUE(StillWorks(*second));

  // A slot freed is a slot to take.
  second->connection->Close(CloseCode::kNormal, "done");
  ASSERT_TRUE(test::WaitFor([&] { return server_->connection_count() == 1; }));
  auto fourth = Dial();
  ASSERT_TRUE(fourth.ok()) << fourth.error().message;
  EXPECT_TRUE(StillWorks(*fourth));
}

// --- Admin HTTP server ----------------------------------------------------------------------------------------

class AdminLimitsTest : public ::testing::Test {
 protected:
  void Start(AdminHttpOptions options) {
    server_ = std::make_unique<AdminHttpServer>(loop_.context(), "127.0.0.1", 0, std::move(options));
    server_->Handle("/healthz", [](const HttpRequest&) { return HttpResponse::Text(200, "ok\n"); });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    loop_.Stop();
  }
  EventLoop loop_{1};
  std::unique_ptr<AdminHttpServer> server_;
};

TEST_F(AdminLimitsTest, AConnectionThatSendsNothingIsClosedAfterTheRequestTimeout) {
  Start({.request_timeout = milliseconds(200)});
  RawConnection silent(server_->port());
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.WaitClosedByPeer()) << "a peer that sends nothing is never dropped";
}

TEST_F(AdminLimitsTest, ASlowlorisRequestHeaderIsClosedAtTheRequestDeadline) {
  Start({.request_timeout = milliseconds(300)});
  RawConnection slow(server_->port());
  ASSERT_TRUE(slow.connected());
  const std::string header = SlowHeader();
  auto sent = Trickle(slow, header);
  ASSERT_TRUE(sent.has_value()) << "the whole header trickled in without the server closing";
  EXPECT_LT(*sent, 100u);
  EXPECT_EQ(slow.received(), "");
}

TEST_F(AdminLimitsTest, AnIdleKeepAliveConnectionIsClosedAfterTheKeepAliveTimeout) {
  Start({.keep_alive_timeout = milliseconds(200)});
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c.ReadUntil("ok\n")) << c.received();
  EXPECT_TRUE(c.WaitClosedByPeer()) << "the idle keep-alive connection stays open";
}

TEST_F(AdminLimitsTest, ConnectionsOverTheCapAreRefusedWhileExistingOnesKeepWorking) {
  std::atomic<int> refused_callbacks{0};
  Start({.max_connections = 2, .on_connection_refused = [&] { ++refused_callbacks; }});
  RawConnection a(server_->port()), b(server_->port());
  ASSERT_TRUE(a.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(b.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(a.ReadUntil("ok\n"));
  ASSERT_TRUE(b.ReadUntil("ok\n"));
  RawConnection over(server_->port());
  ASSERT_TRUE(over.connected());
  EXPECT_TRUE(over.WaitClosedByPeer());
  EXPECT_EQ(over.received(), "");
  EXPECT_TRUE(test::WaitFor([&] { return server_->refused_connections() == 1 && refused_callbacks == 1; }));
  // The existing keep-alive connections are still served.
  ASSERT_TRUE(a.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(a.ReadUntil("HTTP/1.1 200", 2)) << a.received();
}

}  // namespace
}  // namespace vmesh::link
