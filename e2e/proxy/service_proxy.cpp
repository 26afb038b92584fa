#include "e2e/proxy/service_proxy.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace vmesh::e2e {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::as_tuple;
using asio::awaitable;
using asio::use_awaitable;

namespace {

const asio::ip::address kLoopback = asio::ip::make_address("127.0.0.1");

std::unique_ptr<ssl::context> ProbeTlsContext() {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  context->set_verify_mode(ssl::verify_none);
  return context;
}

// One probe: TLS to 127.0.0.1:port, GET path; the status, or 0 when anything fails within `timeout`.
awaitable<int> ProbeOnce(ssl::context& tls, uint16_t port, std::string path, std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(timeout);  // one deadline for the whole exchange
  auto [connect_error] = co_await lowest.async_connect(tcp::endpoint(kLoopback, port), as_tuple(use_awaitable));
  if (connect_error) co_return 0;
  auto [handshake_error] = co_await stream.async_handshake(ssl::stream_base::client, as_tuple(use_awaitable));
  if (handshake_error) co_return 0;
  http::request<http::empty_body> request{http::verb::get, path, 11};
  request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  request.set(http::field::connection, "close");
  auto [write_error, written] = co_await http::async_write(stream, request, as_tuple(use_awaitable));
  if (write_error) co_return 0;
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  auto [read_error, read] = co_await http::async_read(stream, buffer, response, as_tuple(use_awaitable));
  if (read_error) co_return 0;
  beast::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return static_cast<int>(response.result_int());
}

// A relayed connection: the client's socket and the backend's.
struct Relay {
  Relay(tcp::socket accepted, std::string backend_name)
      : client(std::move(accepted)), upstream(client.get_executor()), backend(std::move(backend_name)) {}
  tcp::socket client;
  tcp::socket upstream;
  std::string backend;
  bool closed = false;

  void Close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ec;
    client.close(ec);
    upstream.close(ec);
  }
};

void Reset(tcp::socket& socket) {
  boost::system::error_code ec;
  socket.set_option(asio::socket_base::linger(true, 0), ec);
  socket.close(ec);
}

}  // namespace

struct ServiceProxy::Impl {
  explicit Impl(ServiceProxyOptions options) : options(std::move(options)), probe_tls(ProbeTlsContext()) {}

  struct BackendState {
    ServiceBackend spec;
    bool ready = false;                   // guarded by mu
    bool removed = false;                 // guarded by mu
    asio::steady_timer* timer = nullptr;  // io thread only
  };

  ServiceProxyOptions options;
  asio::io_context io;
  std::unique_ptr<ssl::context> probe_tls;
  std::map<std::string, std::unique_ptr<tcp::acceptor>> acceptors;  // by port name; fixed after Start()
  std::map<std::string, uint16_t> ports;                            // by port name; fixed after Start()
  std::thread thread;
  std::atomic<bool> started{false};
  std::once_flag stopped;

  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<BackendState>> backends;  // by name
  std::map<std::string, size_t> next;                             // round robin, by port name
  std::map<std::string, int> open;                                // by backend name
  std::map<std::string, bool> last_ready;                         // by backend name, for changes
  std::vector<Route> routes;
  std::vector<ReadinessChange> changes;

  std::set<std::shared_ptr<Relay>> relays;  // io thread only
  bool stopping = false;                    // io thread only

  // --- readiness ---------------------------------------------------------------------------------------

  void SetReady(const std::shared_ptr<BackendState>& state, bool ready) {
    std::lock_guard lock(mu);
    if (state->removed) return;
    state->ready = ready;
    bool& last = last_ready[state->spec.name];
    if (last != ready) {
      last = ready;
      changes.push_back({state->spec.name, ready, std::chrono::steady_clock::now()});
    }
  }

  awaitable<void> ProbeLoop(std::shared_ptr<BackendState> state) {
    asio::steady_timer timer(io);
    state->timer = &timer;
    while (!stopping) {
      {
        std::lock_guard lock(mu);
        if (state->removed) break;
      }
      const int status =
          co_await ProbeOnce(*probe_tls, state->spec.probe_port, options.probe_path, options.probe_timeout);
      if (stopping) break;
      SetReady(state, status == 200);
      timer.expires_after(options.probe_interval);
      co_await timer.async_wait(as_tuple(use_awaitable));
    }
    state->timer = nullptr;
  }

  // --- relaying ----------------------------------------------------------------------------------------

  // The next ready backend with this port, round robin (nullptr when none); records the route.
  std::shared_ptr<BackendState> Pick(const std::string& port_name) {
    std::lock_guard lock(mu);
    std::vector<std::shared_ptr<BackendState>> ready;
    for (const auto& [name, state] : backends) {
      if (state->ready && state->spec.ports.count(port_name)) ready.push_back(state);
    }
    std::shared_ptr<BackendState> chosen;
    if (!ready.empty()) chosen = ready[next[port_name]++ % ready.size()];
    routes.push_back({port_name, chosen ? chosen->spec.name : "", std::chrono::steady_clock::now()});
    if (chosen) ++open[chosen->spec.name];
    return chosen;
  }

  void Finish(const std::shared_ptr<Relay>& relay) {
    relay->Close();
    if (relays.erase(relay)) {
      std::lock_guard lock(mu);
      --open[relay->backend];
    }
  }

  awaitable<void> Pipe(std::shared_ptr<Relay> relay, tcp::socket& from, tcp::socket& to) {
    std::array<char, 16384> buffer;
    while (true) {
      auto [read_error, n] = co_await from.async_read_some(asio::buffer(buffer), as_tuple(use_awaitable));
      if (read_error) break;
      auto [write_error, written] =
          co_await asio::async_write(to, asio::buffer(buffer.data(), n), as_tuple(use_awaitable));
      if (write_error) break;
    }
    Finish(relay);
  }

  awaitable<void> Connect(std::shared_ptr<Relay> relay, uint16_t port) {
    relays.insert(relay);
    if (stopping) {
      Finish(relay);
      co_return;
    }
    auto [ec] = co_await relay->upstream.async_connect(tcp::endpoint(kLoopback, port), as_tuple(use_awaitable));
    if (ec || relay->closed) {
      // The backend went away between its last probe and now: the client sees a reset, as with a dead pod.
      Reset(relay->client);
      Finish(relay);
      co_return;
    }
    asio::co_spawn(io, Pipe(relay, relay->client, relay->upstream), asio::detached);
    asio::co_spawn(io, Pipe(relay, relay->upstream, relay->client), asio::detached);
  }

  awaitable<void> AcceptLoop(std::string port_name, tcp::acceptor& acceptor) {
    while (true) {
      auto [ec, socket] = co_await acceptor.async_accept(as_tuple(use_awaitable));
      if (ec || stopping) co_return;
      auto backend = Pick(port_name);
      if (!backend) {
        Reset(socket);
        continue;
      }
      auto relay = std::make_shared<Relay>(std::move(socket), backend->spec.name);
      asio::co_spawn(io, Connect(relay, backend->spec.ports.at(port_name)), asio::detached);
    }
  }

  void StopOnIo() {
    stopping = true;
    boost::system::error_code ec;
    for (auto& [name, acceptor] : acceptors) acceptor->close(ec);
    auto all = relays;
    for (const auto& relay : all) Finish(relay);
    std::lock_guard lock(mu);
    for (const auto& [name, state] : backends) {
      if (state->timer) state->timer->cancel();
    }
  }
};

ServiceProxy::ServiceProxy(ServiceProxyOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

ServiceProxy::~ServiceProxy() { Stop(); }

Status ServiceProxy::Start() {
  for (const auto& name : impl_->options.port_names) {
    auto acceptor = std::make_unique<tcp::acceptor>(impl_->io);
    boost::system::error_code ec;
    tcp::endpoint endpoint(kLoopback, 0);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return MakeError("service proxy: cannot listen on 127.0.0.1 for port " + name + ": " + ec.message());
    impl_->ports[name] = acceptor->local_endpoint().port();
    impl_->acceptors[name] = std::move(acceptor);
  }
  Impl* impl = impl_.get();
  for (auto& [name, acceptor] : impl->acceptors) {
    asio::co_spawn(impl->io, impl->AcceptLoop(name, *acceptor), asio::detached);
  }
  {
    std::lock_guard lock(impl->mu);
    for (const auto& [name, state] : impl->backends) {
      asio::co_spawn(impl->io, impl->ProbeLoop(state), asio::detached);
    }
  }
  impl->started = true;
  impl->thread = std::thread([impl] { impl->io.run(); });
  return OkStatus();
}

void ServiceProxy::Stop() {
  std::call_once(impl_->stopped, [this] {
    if (!impl_->thread.joinable()) return;
    std::promise<void> done;
    auto future = done.get_future();
    asio::post(impl_->io, [impl = impl_.get(), &done] {
      impl->StopOnIo();
      done.set_value();
    });
    future.wait();
    impl_->io.stop();
    impl_->thread.join();
  });
}

uint16_t ServiceProxy::port(const std::string& port_name) const {
  auto it = impl_->ports.find(port_name);
  return it == impl_->ports.end() ? 0 : it->second;
}

void ServiceProxy::SetBackend(ServiceBackend backend) {
  auto state = std::make_shared<Impl::BackendState>();
  state->spec = std::move(backend);
  {
    std::lock_guard lock(impl_->mu);
    auto& slot = impl_->backends[state->spec.name];
    if (slot) slot->removed = true;
    slot = state;
    bool& last = impl_->last_ready[state->spec.name];
    if (last) {
      last = false;
      impl_->changes.push_back({state->spec.name, false, std::chrono::steady_clock::now()});
    }
  }
  if (impl_->started) {
    asio::post(impl_->io, [impl = impl_.get(), state] {
      if (!impl->stopping) asio::co_spawn(impl->io, impl->ProbeLoop(state), asio::detached);
    });
  }
}

void ServiceProxy::RemoveBackend(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->backends.find(name);
  if (it == impl_->backends.end()) return;
  it->second->removed = true;
  it->second->ready = false;
  impl_->backends.erase(it);
  if (impl_->last_ready[name]) {
    impl_->last_ready[name] = false;
    impl_->changes.push_back({name, false, std::chrono::steady_clock::now()});
  }
}

bool ServiceProxy::Ready(const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->backends.find(name);
  return it != impl_->backends.end() && it->second->ready;
}

std::vector<std::string> ServiceProxy::ReadyBackends() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> names;
  for (const auto& [name, state] : impl_->backends) {
    if (state->ready) names.push_back(name);
  }
  return names;
}

std::vector<ServiceProxy::Route> ServiceProxy::Routes() const {
  std::lock_guard lock(impl_->mu);
  return impl_->routes;
}

std::vector<ServiceProxy::ReadinessChange> ServiceProxy::ReadinessChanges() const {
  std::lock_guard lock(impl_->mu);
  return impl_->changes;
}

int ServiceProxy::OpenConnections(const std::string& backend) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->open.find(backend);
  return it == impl_->open.end() ? 0 : it->second;
}

int ProbeHttps(uint16_t port, const std::string& path, std::chrono::milliseconds timeout) {
  asio::io_context io;
  auto tls = ProbeTlsContext();
  int status = 0;
  asio::co_spawn(io, ProbeOnce(*tls, port, path, timeout), [&status](std::exception_ptr error, int result) {
    if (!error) status = result;
  });
  io.run();
  return status;
}

}  // namespace vmesh::e2e
