// The link over real TLS on 127.0.0.1: authentication outcomes, framing limits, bad input, dead peers,
// concurrency and shutdown.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "common/link/client.h"
#include "common/link/clock.h"
#include "common/link/event_loop.h"
#include "common/link/link_test_util.h"
#include "common/link/server.h"

namespace vmesh::link {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
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

// Everything one side of the tests observed, thread-safe. Handlers share the state, so a connection that
// outlives a test's Recorder (e.g. after a failed assertion) stays safe.
struct RecorderState {
  mutable std::mutex mu;
  std::vector<std::string> messages;
  std::vector<CloseInfo> closes;
  std::vector<PeerIdentity> peers;
  std::vector<ConnectionPtr> connections;
};

struct Recorder {
  std::shared_ptr<RecorderState> state = std::make_shared<RecorderState>();
  std::mutex& mu = state->mu;
  std::vector<std::string>& messages = state->messages;
  std::vector<CloseInfo>& closes = state->closes;
  std::vector<PeerIdentity>& peers = state->peers;
  std::vector<ConnectionPtr>& connections = state->connections;

  ConnectionHandlers Handlers(bool echo = false) {
    ConnectionHandlers handlers;
    handlers.on_open = [state = state](const ConnectionPtr& connection) {
      std::lock_guard lock(state->mu);
      state->connections.push_back(connection);
    };
    handlers.on_message = [state = state, echo](const ConnectionPtr& connection, std::string message) {
      if (echo) {
        EXPECT_TRUE(connection->Send("echo:" + message).ok());
      }
      std::lock_guard lock(state->mu);
      state->messages.push_back(std::move(message));
    };
    handlers.on_closed = [state = state](const ConnectionPtr&, const CloseInfo& info) {
      std::lock_guard lock(state->mu);
      state->closes.push_back(info);
      // Let the connection go (handlers hold it through on_open's record).
      state->connections.clear();
    };
    return handlers;
  }
  size_t message_count() const {
    std::lock_guard lock(mu);
    return messages.size();
  }
  size_t close_count() const {
    std::lock_guard lock(mu);
    return closes.size();
  }
  CloseInfo close(size_t i = 0) const {
    std::lock_guard lock(mu);
    return closes.at(i);
  }
  ConnectionPtr connection(size_t i = 0) const {
    std::lock_guard lock(mu);
    return i < connections.size() ? connections[i] : nullptr;
  }
};

class LinkTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    if (!options.tls) options.tls = ServerTls();
    options.connection = server_connection_.value_or(FastOptions());
    if (max_message_bytes_) options.connection.max_message_bytes = max_message_bytes_;
    options.identity_check = [this](const PeerIdentity& peer) {
      std::lock_guard lock(revoked_mu_);
      return revoked_serials_.count(peer.serial_hex) == 0;
    };
    if (options.stop_grace == ServerOptions{}.stop_grace) options.stop_grace = milliseconds(2000);
    server_ = std::make_unique<Server>(loop_.context(), std::move(options));
    server_->Handle("/v1/connect", WebSocketRoute{ClientCertPolicy::kRequired, [this](const HttpRequest& request) {
                                                    std::lock_guard lock(server_side_.mu);
                                                    server_side_.peers.push_back(request.peer);
                                                    return UpgradeDecision::Accept(server_side_.Handlers(true));
                                                  }});
    server_->Handle("/v1/bootstrap", HttpRoute{ClientCertPolicy::kOptional, [](const HttpRequest& request) {
                                                 return HttpResponse::Text(
                                                     200,
                                                     request.method + " " + request.body + " " +
                                                         (request.peer.authenticated ? "authenticated" : "anonymous"));
                                               }});
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->port(), 0);
  }

  std::string Url(const std::string& path = "/v1/connect") const {
    return "wss://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

  Result<ConnectionPtr> DialSync(TlsContextPtr tls, ConnectionHandlers handlers,
                                 const std::string& path = "/v1/connect",
                                 std::optional<ConnectionOptions> options = std::nullopt) {
    std::promise<Result<ConnectionPtr>> promise;
    DialOptions dial{Url(path), std::move(tls), options.value_or(FastOptions())};
    Dial(loop_.context(), dial, std::move(handlers),
         [&promise](Result<ConnectionPtr> result) { promise.set_value(std::move(result)); });
    return promise.get_future().get();
  }

  // A client with a certificate for cluster-1 exchanges a message with the server.
  void ExpectServerStillServes() {
    test::Identity client = LinkCa().IssueClient("still-serving");
    Recorder recorder;
    auto connection = DialSync(ClientTls(&client), recorder.Handlers());
    ASSERT_TRUE(connection.ok()) << connection.error().message;
    ASSERT_TRUE((*connection)->Send("ping?").ok());
    ASSERT_TRUE(WaitFor([&] { return recorder.message_count() == 1; }));
    EXPECT_EQ(recorder.messages[0], "echo:ping?");
    (*connection)->Close();
    EXPECT_TRUE(WaitFor([&] { return recorder.close_count() == 1; }));
  }

  EventLoop loop_{2};
  Recorder server_side_;
  std::unique_ptr<Server> server_;
  size_t max_message_bytes_ = 0;
  std::optional<ConnectionOptions> server_connection_;
  std::mutex revoked_mu_;
  std::set<std::string> revoked_serials_;
};

// A TLS client speaking raw bytes (no WebSocket library), for peers that misbehave.
class RawTlsClient {
 public:
  explicit RawTlsClient(const test::Identity* identity) : context_(asio::ssl::context::tls_client) {
    context_.set_verify_mode(asio::ssl::verify_none);
    if (identity) {
      context_.use_certificate_chain(asio::buffer(identity->certificate_pem));
      context_.use_private_key(asio::buffer(identity->key_pem), asio::ssl::context::pem);
    }
    // After the context is complete: an SSL object copies the context's certificate when it is created.
    stream_.emplace(io_, context_);
  }

  void Connect(uint16_t port) {
    stream_->next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream_->handshake(asio::ssl::stream_base::client);
  }

  void Write(const std::string& bytes) { asio::write(*stream_, asio::buffer(bytes)); }

  // Sends a hand-written upgrade request; returns the response head.
  std::string Upgrade(const std::string& path) {
    Write("GET " + path +
          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Protocol: vmesh.v1\r\n\r\n");
    asio::streambuf buffer;
    size_t n = asio::read_until(*stream_, buffer, "\r\n\r\n");
    return std::string(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + n);
  }

  // Reads and discards until the server ends the connection; false if it is still open after `timeout`.
  bool WaitClosed(milliseconds timeout) {
    bool ended = false;
    std::function<void()> read = [&] {
      stream_->async_read_some(asio::buffer(buffer_), [&](boost::system::error_code ec, size_t) {
        if (ec) {
          ended = true;
          return;
        }
        read();
      });
    };
    read();
    io_.restart();
    io_.run_for(timeout);
    return ended;
  }

 private:
  asio::io_context io_;
  asio::ssl::context context_;
  std::optional<asio::ssl::stream<tcp::socket>> stream_;
  char buffer_[4096];
};

TEST_F(LinkTest, ExchangesBinaryMessagesBothWaysOverMutualTls) {
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  Recorder client_side;
  auto dialed = DialSync(ClientTls(&client), client_side.Handlers());
  ASSERT_TRUE(dialed.ok()) << dialed.error().message;
  ConnectionPtr connection = *dialed;

  // The client saw the hub's certificate; the hub saw the cluster's identity.
  EXPECT_TRUE(connection->peer().authenticated);
  EXPECT_EQ(connection->target(), "/v1/connect");
  ASSERT_TRUE(WaitFor([&] { return server_->connection_count() == 1; }));
  {
    std::lock_guard lock(server_side_.mu);
    ASSERT_EQ(server_side_.peers.size(), 1u);
    EXPECT_TRUE(server_side_.peers[0].authenticated);
    EXPECT_EQ(server_side_.peers[0].spiffe_id(), "spiffe://hub/cluster/cluster-1");
    EXPECT_EQ(server_side_.peers[0].serial_hex, client.serial_hex);
    ASSERT_EQ(server_side_.connections.size(), 1u);
    EXPECT_EQ(server_side_.connections[0]->peer().spiffe_id(), "spiffe://hub/cluster/cluster-1");
    EXPECT_EQ(server_side_.connections[0]->target(), "/v1/connect");
  }

  std::string binary("\x00\x01\xff\x7f", 4);
  ASSERT_TRUE(connection->Send("hello").ok());
  ASSERT_TRUE(connection->Send(binary).ok());
  ASSERT_TRUE(WaitFor([&] { return client_side.message_count() == 2; }));
  EXPECT_EQ(client_side.messages[0], "echo:hello");
  EXPECT_EQ(client_side.messages[1], "echo:" + binary);
  {
    std::lock_guard lock(server_side_.mu);
    EXPECT_EQ(server_side_.messages, (std::vector<std::string>{"hello", binary}));
  }

  connection->Close(CloseCode::kNormal, "bye");
  EXPECT_FALSE(connection->is_open());
  EXPECT_FALSE(connection->Send("too late").ok());
  ASSERT_TRUE(WaitFor([&] { return client_side.close_count() == 1 && server_side_.close_count() == 1; }));
  EXPECT_EQ(client_side.close().code, CloseCode::kNormal);
  EXPECT_TRUE(client_side.close().local);
  EXPECT_EQ(server_side_.close().code, CloseCode::kNormal);
  EXPECT_EQ(server_side_.close().reason, "bye");
  EXPECT_FALSE(server_side_.close().local);
  EXPECT_TRUE(WaitFor([&] { return server_->connection_count() == 0; }));
}

TEST_F(LinkTest, ServerClosesWithCodeAndReasonReportedToClient) {
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  Recorder client_side;
  auto dialed = DialSync(ClientTls(&client), client_side.Handlers());
  ASSERT_TRUE(dialed.ok()) << dialed.error().message;
  ASSERT_TRUE(WaitFor([&] { return server_->connection_count() == 1; }));
  server_side_.connection()->Close(CloseCode::kPolicyViolation, "cluster deregistered");
  ASSERT_TRUE(WaitFor([&] { return client_side.close_count() == 1; }));
  EXPECT_EQ(client_side.close().code, CloseCode::kPolicyViolation);
  EXPECT_EQ(client_side.close().reason, "cluster deregistered");
  EXPECT_FALSE(client_side.close().local);
}

TEST_F(LinkTest, ConnectWithoutClientCertificateIsRefusedWith401) {
  StartServer();
  Recorder client_side;
  auto dialed = DialSync(ClientTls(nullptr), client_side.Handlers());
  ASSERT_FALSE(dialed.ok());
  EXPECT_NE(dialed.error().message.find("HTTP 401"), std::string::npos) << dialed.error().message;
  EXPECT_NE(dialed.error().message.find("client certificate"), std::string::npos) << dialed.error().message;
  EXPECT_EQ(server_->connection_count(), 0u);
  EXPECT_EQ(server_side_.close_count(), 0u);
}

TEST_F(LinkTest, BootstrapHttpsRouteServesAnonymousAndAuthenticatedClients) {
  StartServer();
  const std::string url = "https://127.0.0.1:" + std::to_string(server_->port()) + "/v1/bootstrap";
  auto anonymous = Fetch(ClientTls(nullptr), FetchRequest{"POST", url, "token-and-csr"});
  ASSERT_TRUE(anonymous.ok()) << anonymous.error().message;
  EXPECT_EQ(anonymous->status, 200);
  EXPECT_EQ(anonymous->body, "POST token-and-csr anonymous");

  test::Identity client = LinkCa().IssueClient("cluster-1");
  auto authenticated = Fetch(ClientTls(&client), FetchRequest{"POST", url, "renew"});
  ASSERT_TRUE(authenticated.ok()) << authenticated.error().message;
  EXPECT_EQ(authenticated->body, "POST renew authenticated");

  // Unknown paths and plain requests to a WebSocket endpoint get an HTTP status, not a hang.
  const std::string base = "https://127.0.0.1:" + std::to_string(server_->port());
  auto missing = Fetch(ClientTls(nullptr), FetchRequest{"GET", base + "/nope"});
  ASSERT_TRUE(missing.ok()) << missing.error().message;
  EXPECT_EQ(missing->status, 404);
  auto plain = Fetch(ClientTls(&client), FetchRequest{"GET", base + "/v1/connect"});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->status, 426);
}

TEST_F(LinkTest, RoutesEndingInSlashServeThePathsUnderThem) {
  StartServer();
  auto echo_path = [](std::string tag) {
    return HttpRoute{ClientCertPolicy::kOptional,
                     [tag](const HttpRequest& request) { return HttpResponse::Text(200, tag + " " + request.path); }};
  };
  server_->Handle("/v1/objects/", echo_path("objects"));
  server_->Handle("/v1/objects/meshes/", echo_path("meshes"));
  server_->Handle("/v1/objects/exact", echo_path("exact"));
  const std::string base = "https://127.0.0.1:" + std::to_string(server_->port());
  auto get = [&](const std::string& path) {
    auto r = Fetch(ClientTls(nullptr), FetchRequest{"GET", base + path});
    return r.ok() ? std::to_string(r->status) + " " + r->body : r.error().message;
  };
  EXPECT_EQ(get("/v1/objects/virtualmeshes/vm1?x=1"), "200 objects /v1/objects/virtualmeshes/vm1");
  EXPECT_EQ(get("/v1/objects/meshes/m1"), "200 meshes /v1/objects/meshes/m1") << "the longest prefix wins";
  EXPECT_EQ(get("/v1/objects/exact"), "200 exact /v1/objects/exact") << "an exact route wins";
  EXPECT_EQ(get("/v1/objectsx").substr(0, 3), "404") << "a prefix is a whole path segment";
}

TEST_F(LinkTest, UpgradeWithoutSubprotocolIsRefused) {
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  FetchRequest request{"GET", "https://127.0.0.1:" + std::to_string(server_->port()) + "/v1/connect"};
  request.headers = {{"Upgrade", "websocket"},
                     {"Connection", "Upgrade"},
                     {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                     {"Sec-WebSocket-Version", "13"}};
  auto response = Fetch(ClientTls(&client), request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 400);
  EXPECT_NE(response->body.find("vmesh.v1"), std::string::npos) << response->body;
  EXPECT_EQ(server_->connection_count(), 0u);
}

TEST_F(LinkTest, ClientCertificateFromAnotherCaIsRefused) {
  StartServer();
  test::TestCa other("other");
  test::Identity impostor = other.IssueClient("cluster-1");
  Recorder client_side;
  auto dialed = DialSync(ClientTls(&impostor), client_side.Handlers());
  ASSERT_FALSE(dialed.ok());
  EXPECT_EQ(server_->connection_count(), 0u);
  {
    std::lock_guard lock(server_side_.mu);
    EXPECT_TRUE(server_side_.peers.empty()) << "the upgrade handler must not run";
  }
  ExpectServerStillServes();
}

TEST_F(LinkTest, IdentityCheckRefusesRevokedSerialWith403) {
  StartServer();
  test::Identity revoked = LinkCa().IssueClient("cluster-gone");
  {
    std::lock_guard lock(revoked_mu_);
    revoked_serials_.insert(revoked.serial_hex);
  }
  Recorder client_side;
  auto dialed = DialSync(ClientTls(&revoked), client_side.Handlers());
  ASSERT_FALSE(dialed.ok());
  EXPECT_NE(dialed.error().message.find("HTTP 403"), std::string::npos) << dialed.error().message;
  EXPECT_EQ(server_->connection_count(), 0u);
  ExpectServerStillServes();
}

TEST_F(LinkTest, Tls11ClientIsRefused) {
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  TlsContextPtr old = ClientTls(&client);
  // Let the client offer TLS 1.1 (and nothing newer), so that the refusal is the server's.
  SSL_CTX_set_security_level(old->native_handle(), 0);
  ASSERT_EQ(SSL_CTX_set_cipher_list(old->native_handle(), "DEFAULT@SECLEVEL=0"), 1);
  ASSERT_EQ(SSL_CTX_set_min_proto_version(old->native_handle(), TLS1_1_VERSION), 1);
  ASSERT_EQ(SSL_CTX_set_max_proto_version(old->native_handle(), TLS1_1_VERSION), 1);
  Recorder client_side;
  auto dialed = DialSync(old, client_side.Handlers());
  ASSERT_FALSE(dialed.ok());
  EXPECT_NE(dialed.error().message.find("TLS handshake"), std::string::npos) << dialed.error().message;
  EXPECT_NE(dialed.error().message.find("protocol version"), std::string::npos) << dialed.error().message;
  ExpectServerStillServes();
}

TEST_F(LinkTest, ClientVerifiesTheServerCertificateAgainstTheDialedHost) {
  // A hub certificate from the right CA, but for another name than the one dialed (127.0.0.1).
  ServerTlsConfig config;
  test::Identity elsewhere = LinkCa().IssueServer({"hub.elsewhere.example"}, {});
  config.certificate_chain_pem = elsewhere.certificate_pem;
  config.private_key_pem = elsewhere.key_pem;
  config.client_ca_pem = LinkCa().ca_pem();
  ServerOptions options;
  options.tls = *TlsContext::Server(config);
  StartServer(options);
  test::Identity client = LinkCa().IssueClient("cluster-1");
  Recorder client_side;
  auto dialed = DialSync(ClientTls(&client), client_side.Handlers());
  ASSERT_FALSE(dialed.ok());
  EXPECT_NE(dialed.error().message.find("certificate verify failed"), std::string::npos) << dialed.error().message;
  EXPECT_EQ(server_->connection_count(), 0u);
}

TEST_F(LinkTest, MessageOverTheLimitClosesWith1009AndServerKeepsServing) {
  max_message_bytes_ = 1024;
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  Recorder client_side;
  ConnectionOptions big = FastOptions();
  big.max_message_bytes = 1 << 20;  // the client itself would allow it
  auto dialed = DialSync(ClientTls(&client), client_side.Handlers(), "/v1/connect", big);
  ASSERT_TRUE(dialed.ok()) << dialed.error().message;
  ASSERT_TRUE((*dialed)->Send(std::string(1019, 'a')).ok());  // echoed as 1024 bytes: exactly the limit
  ASSERT_TRUE(WaitFor([&] { return client_side.message_count() == 1; }));
  ASSERT_TRUE((*dialed)->Send(std::string(1025, 'b')).ok());
  ASSERT_TRUE(WaitFor([&] { return client_side.close_count() == 1 && server_side_.close_count() == 1; }));
  EXPECT_EQ(client_side.close().code, CloseCode::kMessageTooBig);
  EXPECT_FALSE(client_side.close().local);
  EXPECT_EQ(server_side_.close().code, CloseCode::kMessageTooBig) << server_side_.close().reason;
  EXPECT_TRUE(server_side_.close().local);
  ExpectServerStillServes();
}

TEST_F(LinkTest, SendRefusesMessagesOverTheLimit) {
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  Recorder client_side;
  ConnectionOptions small = FastOptions();
  small.max_message_bytes = 100;
  auto dialed = DialSync(ClientTls(&client), client_side.Handlers(), "/v1/connect", small);
  ASSERT_TRUE(dialed.ok()) << dialed.error().message;
  Status status = (*dialed)->Send(std::string(101, 'x'));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("exceeds the limit"), std::string::npos);
  EXPECT_TRUE((*dialed)->is_open());
}

TEST_F(LinkTest, GarbageBytesDropThatConnectionOnly) {
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  {
    // Not HTTP at all.
    RawTlsClient raw(&client);
    raw.Connect(server_->port());
    raw.Write(std::string("\x16\x03\x01 garbage \xff\xfe\r\n\r\n", 18));
    EXPECT_TRUE(raw.WaitClosed(milliseconds(3000)));
  }
  {
    // A valid upgrade, then bytes that are no WebSocket frame (unmasked, reserved bits set).
    RawTlsClient raw(&client);
    raw.Connect(server_->port());
    std::string head = raw.Upgrade("/v1/connect");
    ASSERT_NE(head.find("101"), std::string::npos) << head;
    EXPECT_NE(head.find("vmesh.v1"), std::string::npos) << head;
    raw.Write(std::string("\xf2\x05garbage-garbage", 17));
    EXPECT_TRUE(raw.WaitClosed(milliseconds(3000)));
    ASSERT_TRUE(WaitFor([&] { return server_side_.close_count() == 1; }));
    // Beast fails the connection with 1002 and then waits for the peer's TLS close_notify, which this peer never
    // sends: the connection goes at the latest when the idle watchdog fires. Never a clean close.
    EXPECT_NE(server_side_.close().code, CloseCode::kNormal) << server_side_.close().ToString();
  }
  ExpectServerStillServes();
}

TEST_F(LinkTest, SilentPeerIsDeclaredDeadAtTheIdleTimeout) {
  auto clock = std::make_shared<ManualClock>();
  ConnectionOptions options = FastOptions();
  options.clock = clock;
  server_connection_ = options;
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  RawTlsClient raw(&client);
  raw.Connect(server_->port());
  std::string head = raw.Upgrade("/v1/connect");
  ASSERT_NE(head.find("101"), std::string::npos) << head;
  ASSERT_TRUE(WaitFor([&] { return clock->armed_timers() == 2; })) << "the pinger and the watchdog";
  // The raw client never reads again: no pongs, no messages. Pings go out; the watchdog is not due yet.
  clock->Advance(milliseconds(599));
  EXPECT_EQ(server_side_.close_count(), 0u);
  clock->Advance(milliseconds(1));  // idle_timeout 600 ms
  ASSERT_TRUE(WaitFor([&] { return server_side_.close_count() == 1; }));
  EXPECT_EQ(server_side_.close().code, CloseCode::kAbnormal);
  EXPECT_EQ(server_side_.close().reason, "peer silent for 600 ms");
  EXPECT_TRUE(WaitFor([&] { return server_->connection_count() == 0; }));
}

TEST_F(LinkTest, ClientDeclaresAStalledServerDead) {
  StartServer();
  // Blocks the connection's strand until the test ends: no reads, no pongs, no writes.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> stalled{false};
  struct Release {
    std::promise<void>& promise;
    ~Release() { promise.set_value(); }
  } release_at_end{release};
  server_->Handle("/v1/stall", WebSocketRoute{ClientCertPolicy::kRequired, [&](const HttpRequest&) {
                                                ConnectionHandlers handlers;
                                                handlers.on_message = [&, released](const ConnectionPtr&, std::string) {
                                                  stalled = true;
                                                  released.wait();
                                                };
                                                return UpgradeDecision::Accept(std::move(handlers));
                                              }});
  auto clock = std::make_shared<ManualClock>();
  ConnectionOptions options = FastOptions();
  options.clock = clock;
  test::Identity client = LinkCa().IssueClient("cluster-1");
  Recorder client_side;
  auto dialed = DialSync(ClientTls(&client), client_side.Handlers(), "/v1/stall", options);
  ASSERT_TRUE(dialed.ok()) << dialed.error().message;
  ASSERT_TRUE((*dialed)->Send("stall").ok());
  ASSERT_TRUE(WaitFor([&] { return stalled.load() && clock->armed_timers() == 2; }));
  // The client pings and hears nothing back for the idle timeout.
  clock->Advance(milliseconds(600));
  ASSERT_TRUE(WaitFor([&] { return client_side.close_count() == 1; }));
  EXPECT_EQ(client_side.close().code, CloseCode::kAbnormal);
  EXPECT_NE(client_side.close().reason.find("silent"), std::string::npos) << client_side.close().reason;
}

TEST_F(LinkTest, PingsKeepAnIdleButLivePeerConnected) {
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  Recorder client_side;
  auto dialed = DialSync(ClientTls(&client), client_side.Handlers());
  ASSERT_TRUE(dialed.ok()) << dialed.error().message;
  // No messages for three idle timeouts: pings and pongs alone keep both sides alive.
  std::this_thread::sleep_for(milliseconds(1800));
  EXPECT_EQ(client_side.close_count(), 0u);
  EXPECT_EQ(server_side_.close_count(), 0u);
  EXPECT_TRUE((*dialed)->is_open());
}

TEST_F(LinkTest, ConcurrentSendersArriveCompleteAndInOrder) {
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  Recorder client_side;
  auto dialed = DialSync(ClientTls(&client), client_side.Handlers());
  ASSERT_TRUE(dialed.ok()) << dialed.error().message;
  ConnectionPtr connection = *dialed;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Varying sizes so that frames of different lengths interleave.
        std::string message = std::to_string(t) + ":" + std::to_string(i) + ":" + std::string((i * 37) % 3000, 'p');
        ASSERT_TRUE(connection->Send(std::move(message)).ok());
      }
    });
  }
  for (auto& sender : senders) sender.join();
  ASSERT_TRUE(WaitFor([&] { return server_side_.message_count() == kThreads * kPerThread; }, milliseconds(10000)))
      << server_side_.message_count();
  std::map<int, int> next;
  std::lock_guard lock(server_side_.mu);
  for (const std::string& message : server_side_.messages) {
    const size_t first = message.find(':');
    const size_t second = message.find(':', first + 1);
    const int t = std::stoi(message.substr(0, first));
    const int i = std::stoi(message.substr(first + 1, second - first - 1));
    ASSERT_EQ(i, next[t]) << "sender " << t << " out of order";
    ASSERT_EQ(message.size() - second - 1, static_cast<size_t>((i * 37) % 3000)) << "truncated message";
    ++next[t];
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], kPerThread);
}

TEST_F(LinkTest, SendQueueIsBoundedWhenThePeerDoesNotRead) {
  // The server writes to a raw client that never reads: once socket buffers are full, the queue fills up and
  // Send() reports it instead of growing without bound. The raw client answers no pings: the idle timeout must
  // not end the connection before the queue is full (a busy machine takes a while to queue 200 MiB).
  ConnectionOptions patient = FastOptions();
  patient.idle_timeout = milliseconds(60000);
  server_connection_ = patient;
  ServerOptions options;
  StartServer(options);
  test::Identity client = LinkCa().IssueClient("cluster-1");
  RawTlsClient raw(&client);
  raw.Connect(server_->port());
  ASSERT_NE(raw.Upgrade("/v1/connect").find("101"), std::string::npos);
  ASSERT_TRUE(WaitFor([&] { return server_side_.connection() != nullptr; }));
  ConnectionPtr connection = server_side_.connection();
  const std::string chunk(1 << 20, 'q');
  std::optional<Error> refused;
  for (int i = 0; i < 200 && !refused; ++i) {
    if (Status status = connection->Send(chunk); !status.ok()) refused = status.error();
  }
  ASSERT_TRUE(refused.has_value()) << "200 MiB queued for a peer that does not read";
  EXPECT_NE(refused->message.find("full"), std::string::npos) << refused->message;
  EXPECT_LE(connection->queued_bytes(), FastOptions().max_queued_bytes);
}

TEST_F(LinkTest, StopClosesConnectionsWithGoingAway) {
  StartServer();
  test::Identity client = LinkCa().IssueClient("cluster-1");
  Recorder client_side;
  auto dialed = DialSync(ClientTls(&client), client_side.Handlers());
  ASSERT_TRUE(dialed.ok()) << dialed.error().message;
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1500));
  ASSERT_TRUE(WaitFor([&] { return client_side.close_count() == 1; }));
  EXPECT_EQ(client_side.close().code, CloseCode::kGoingAway);
  EXPECT_EQ(server_->connection_count(), 0u);
  // Nothing listens any more.
  auto again = DialSync(ClientTls(&client), Recorder().Handlers());
  EXPECT_FALSE(again.ok());
}

TEST_F(LinkTest, StopDropsPeersThatDoNotCloseWithinTheGracePeriod) {
  ConnectionOptions patient = FastOptions();
  patient.idle_timeout = std::chrono::seconds(30);
  patient.ping_interval = std::chrono::seconds(10);
  patient.close_grace = std::chrono::seconds(20);
  server_connection_ = patient;
  ServerOptions options;
  options.stop_grace = milliseconds(300);
  StartServer(options);
  test::Identity client = LinkCa().IssueClient("cluster-1");
  RawTlsClient raw(&client);  // upgrades, then never answers the close frame
  raw.Connect(server_->port());
  ASSERT_NE(raw.Upgrade("/v1/connect").find("101"), std::string::npos);
  ASSERT_TRUE(WaitFor([&] { return server_->connection_count() == 1; }));
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, milliseconds(250));
  EXPECT_LT(elapsed, milliseconds(1500));
  EXPECT_EQ(server_->connection_count(), 0u);
  ASSERT_TRUE(WaitFor([&] { return server_side_.close_count() == 1; }));
  EXPECT_EQ(server_side_.close().code, CloseCode::kAbnormal);
  EXPECT_TRUE(raw.WaitClosed(milliseconds(1000)));
}

TEST(UrlTest, ParsesLinkUrls) {
  auto url = Url::Parse("wss://hub.example:8443/v1/connect?x=1");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->scheme, "wss");
  EXPECT_EQ(url->host, "hub.example");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->target, "/v1/connect?x=1");
  auto v6 = Url::Parse("https://[::1]/v1/bootstrap");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 443);
  EXPECT_EQ(v6->ToString(), "https://[::1]:443/v1/bootstrap");
  EXPECT_FALSE(Url::Parse("hub:8443").ok());
  EXPECT_FALSE(Url::Parse("ftp://hub/").ok());
  EXPECT_FALSE(Url::Parse("wss://hub:99999/").ok());
  EXPECT_FALSE(Url::Parse("wss://:8443/").ok());
}

TEST(TlsContextTest, RejectsMismatchedOrMissingMaterial) {
  ServerTlsConfig server;
  server.certificate_chain_pem = test::ServerIdentity().certificate_pem;
  server.private_key_pem = LinkCa().IssueClient("x").key_pem;  // another key
  auto mismatched = TlsContext::Server(server);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.error().message.find("mismatch"), std::string::npos) << mismatched.error().message;

  EXPECT_FALSE(TlsContext::Client(ClientTlsConfig{}).ok());
  ClientTlsConfig half;
  half.ca_bundle_pem = LinkCa().ca_pem();
  half.certificate_chain_pem = test::ServerIdentity().certificate_pem;
  EXPECT_FALSE(TlsContext::Client(half).ok());
}

}  // namespace
}  // namespace vmesh::link
