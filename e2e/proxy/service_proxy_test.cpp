#include "e2e/proxy/service_proxy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <functional>
#include <thread>

#include "common/link/client.h"
#include "common/link/event_loop.h"
#include "common/link/server.h"
#include "common/link/tls.h"
#include "e2e/kubesim/serving_cert.h"

namespace vmesh::e2e {
namespace {

using namespace std::chrono_literals;

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// An HTTPS backend like a hub replica: /readyz answers `ready_status`, /whoami its name.
class Backend {
 public:
  Backend(std::string name, const kubesim::ServingCertificates& certs) : name_(std::move(name)) {
    auto tls = link::TlsContext::Server({certs.cert_chain_pem, certs.key_pem, ""});
    EXPECT_TRUE(tls.ok());
    server_ = std::make_unique<link::Server>(loop_.context(), link::ServerOptions{.tls = *tls});
    server_->Handle("/readyz", link::HttpRoute{link::ClientCertPolicy::kOptional, [this](const link::HttpRequest&) {
                                                 return link::HttpResponse::Text(ready_status.load(), "readyz\n");
                                               }});
    server_->Handle("/whoami", link::HttpRoute{link::ClientCertPolicy::kOptional, [this](const link::HttpRequest&) {
                                                 return link::HttpResponse::Text(200, name_);
                                               }});
    EXPECT_TRUE(server_->Start().ok());
  }
  ~Backend() { Stop(); }
  void Stop() {
    if (server_) server_->Stop();
    server_.reset();
  }
  uint16_t port() const { return server_->port(); }
  ServiceBackend AsBackend() const { return {name_, {{"default", port()}}, port()}; }

  std::atomic<int> ready_status{200};

 private:
  std::string name_;
  link::EventLoop loop_{1};
  std::unique_ptr<link::Server> server_;
};

class ServiceProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = kubesim::GenerateServingCertificates("service-proxy-test");
    ASSERT_TRUE(certs.ok()) << certs.error().message;
    certs_ = *certs;
    auto tls = link::TlsContext::Client({certs_.ca_pem, "", ""});
    ASSERT_TRUE(tls.ok());
    client_tls_ = *tls;
  }

  // GET /whoami through the proxy on a new connection: the backend's name, or "" when the connection failed.
  std::string WhoAmI(const ServiceProxy& proxy) {
    link::FetchRequest request;
    request.method = "GET";
    request.url = "https://127.0.0.1:" + std::to_string(proxy.port()) + "/whoami";
    request.timeout = 5s;
    auto response = link::Fetch(client_tls_, request);
    return response.ok() && response->status == 200 ? response->body : "";
  }

  kubesim::ServingCertificates certs_;
  link::TlsContextPtr client_tls_;
};

TEST_F(ServiceProxyTest, ProbeHttpsReportsTheStatusOrZero) {
  Backend a("a", certs_);
  EXPECT_EQ(ProbeHttps(a.port()), 200);
  a.ready_status = 503;
  EXPECT_EQ(ProbeHttps(a.port()), 503);
  const uint16_t port = a.port();
  a.Stop();
  EXPECT_EQ(ProbeHttps(port, "/readyz", 1s), 0);
}

TEST_F(ServiceProxyTest, RoutesNewConnectionsToReadyBackendsRoundRobin) {
  Backend a("a", certs_);
  Backend b("b", certs_);
  ServiceProxy proxy({.probe_interval = 50ms});
  proxy.SetBackend(a.AsBackend());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetBackend(b.AsBackend());  // also after Start()
  ASSERT_TRUE(WaitUntil([&] { return proxy.ReadyBackends() == std::vector<std::string>{"a", "b"}; }));

  std::map<std::string, int> answers;
  for (int i = 0; i < 6; ++i) ++answers[WhoAmI(proxy)];
  EXPECT_EQ(answers, (std::map<std::string, int>{{"a", 3}, {"b", 3}}));
  auto routes = proxy.Routes();
  ASSERT_EQ(routes.size(), 6u);
  for (size_t i = 1; i < routes.size(); ++i) EXPECT_NE(routes[i].backend, routes[i - 1].backend) << i;
  for (const auto& route : routes) EXPECT_EQ(route.port_name, "default");
}

TEST_F(ServiceProxyTest, AnUnreadyBackendGetsNoNewConnectionsButKeepsItsOpenOnes) {
  Backend a("a", certs_);
  Backend b("b", certs_);
  b.ready_status = 503;
  ServiceProxy proxy({.probe_interval = 50ms});
  proxy.SetBackend(a.AsBackend());
  proxy.SetBackend(b.AsBackend());
  ASSERT_TRUE(proxy.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return proxy.Ready("a"); }));
  EXPECT_FALSE(proxy.Ready("b"));
  EXPECT_EQ(WhoAmI(proxy), "a");
  EXPECT_EQ(WhoAmI(proxy), "a");

  // A connection established to a (a plain TCP one: the backend waits for its TLS handshake).
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket held(io);
  held.connect({boost::asio::ip::make_address("127.0.0.1"), proxy.port()});
  ASSERT_TRUE(WaitUntil([&] { return proxy.OpenConnections("a") == 1; }));

  // The leader changes: a is not ready any more, b is.
  a.ready_status = 503;
  b.ready_status = 200;
  ASSERT_TRUE(WaitUntil([&] { return proxy.ReadyBackends() == std::vector<std::string>{"b"}; }));
  EXPECT_EQ(WhoAmI(proxy), "b");
  EXPECT_EQ(WhoAmI(proxy), "b");
  EXPECT_EQ(proxy.OpenConnections("a"), 1) << "the proxy must leave established connections alone";
  EXPECT_EQ(proxy.Routes().back().backend, "b");

  auto changes = proxy.ReadinessChanges();
  ASSERT_GE(changes.size(), 3u);
  EXPECT_EQ(changes[0].backend, "a");
  EXPECT_TRUE(changes[0].ready);
  bool a_went_unready = false;
  for (const auto& change : changes) a_went_unready |= change.backend == "a" && !change.ready;
  EXPECT_TRUE(a_went_unready);
}

TEST_F(ServiceProxyTest, ABackendThatStopsAnsweringIsUnreadyAndWithoutBackendsConnectionsAreReset) {
  Backend a("a", certs_);
  Backend b("b", certs_);
  ServiceProxy proxy({.probe_interval = 50ms, .probe_timeout = 300ms});
  proxy.SetBackend(a.AsBackend());
  proxy.SetBackend(b.AsBackend());
  ASSERT_TRUE(proxy.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return proxy.ReadyBackends().size() == 2; }));

  a.Stop();
  ASSERT_TRUE(WaitUntil([&] { return proxy.ReadyBackends() == std::vector<std::string>{"b"}; }));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(WhoAmI(proxy), "b");

  b.ready_status = 500;
  ASSERT_TRUE(WaitUntil([&] { return proxy.ReadyBackends().empty(); }));
  EXPECT_EQ(WhoAmI(proxy), "");
  EXPECT_EQ(proxy.Routes().back().backend, "") << "a connection without a ready backend is reset";

  // A replica restarted on new ports replaces the old entry.
  Backend a2("a", certs_);
  proxy.SetBackend(a2.AsBackend());
  ASSERT_TRUE(WaitUntil([&] { return proxy.Ready("a"); }));
  EXPECT_EQ(WhoAmI(proxy), "a");
}

TEST_F(ServiceProxyTest, NamedPortsShareTheBackendsReadiness) {
  Backend a("a", certs_);
  Backend a_other("a-other-port", certs_);
  ServiceProxy proxy({.port_names = {"agent", "api"}, .probe_interval = 50ms});
  // One replica with two listeners; readiness comes from the api port.
  proxy.SetBackend({"a", {{"agent", a_other.port()}, {"api", a.port()}}, a.port()});
  ASSERT_TRUE(proxy.Start().ok());
  EXPECT_NE(proxy.port("agent"), proxy.port("api"));
  EXPECT_EQ(proxy.port("nope"), 0);
  ASSERT_TRUE(WaitUntil([&] { return proxy.Ready("a"); }));
  link::FetchRequest request;
  request.method = "GET";
  request.url = "https://127.0.0.1:" + std::to_string(proxy.port("agent")) + "/whoami";
  auto response = link::Fetch(client_tls_, request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->body, "a-other-port");
  EXPECT_EQ(proxy.Routes().back().port_name, "agent");
  EXPECT_EQ(proxy.Routes().back().backend, "a");
}

}  // namespace
}  // namespace vmesh::e2e
