#include "e2e/proxy/tcp_proxy.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace vmesh::e2e {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// One proxied connection: two sockets and two relay directions.
struct Pair : std::enable_shared_from_this<Pair> {
  Pair(asio::io_context& io, tcp::socket client) : client(std::move(client)), upstream(io) {}
  tcp::socket client;
  tcp::socket upstream;
  std::array<char, 16384> up_buf{};
  std::array<char, 16384> down_buf{};
  bool closed = false;

  void Close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ec;
    // A reset, not a graceful FIN: that is what a dropped connection looks like to the peers.
    client.set_option(asio::socket_base::linger(true, 0), ec);
    upstream.set_option(asio::socket_base::linger(true, 0), ec);
    client.close(ec);
    upstream.close(ec);
  }
};

}  // namespace

struct TcpProxy::Impl : std::enable_shared_from_this<Impl> {
  Impl(std::string host, uint16_t port) : target_host(std::move(host)), target_port(port), acceptor(io) {}

  std::string target_host;
  uint16_t target_port;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::thread thread;
  std::atomic<ProxyMode> mode{ProxyMode::kForward};
  std::set<std::shared_ptr<Pair>> pairs;  // io thread only
  std::atomic<int> accepted{0};
  std::atomic<int> open{0};
  std::once_flag stopped;
  uint16_t port = 0;

  void Accept() {
    acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;  // stopped
      ++self->accepted;
      if (self->mode.load() == ProxyMode::kRefuse) {
        boost::system::error_code ignored;
        socket.set_option(asio::socket_base::linger(true, 0), ignored);
        socket.close(ignored);
      } else {
        self->Connect(std::make_shared<Pair>(self->io, std::move(socket)));
      }
      self->Accept();
    });
  }

  void Connect(std::shared_ptr<Pair> pair) {
    pairs.insert(pair);
    ++open;
    boost::system::error_code ec;
    auto address = asio::ip::make_address(target_host, ec);
    if (ec) {
      Finish(pair);
      return;
    }
    pair->upstream.async_connect(tcp::endpoint(address, target_port),
                                 [self = shared_from_this(), pair](boost::system::error_code ec) {
                                   if (ec) {
                                     self->Finish(pair);
                                     return;
                                   }
                                   self->Relay(pair, pair->client, pair->upstream, pair->up_buf);
                                   self->Relay(pair, pair->upstream, pair->client, pair->down_buf);
                                 });
  }

  void Relay(std::shared_ptr<Pair> pair, tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buf) {
    from.async_read_some(asio::buffer(buf), [self = shared_from_this(), pair, &from, &to, &buf](
                                                boost::system::error_code ec, std::size_t n) {
      if (ec || pair->closed) {
        self->Finish(pair);
        return;
      }
      if (self->mode.load() == ProxyMode::kBlackhole) {
        // Swallow the bytes, keep reading so the sender never sees back-pressure or a close.
        self->Relay(pair, from, to, buf);
        return;
      }
      asio::async_write(to, asio::buffer(buf.data(), n),
                        [self, pair, &from, &to, &buf](boost::system::error_code ec, std::size_t) {
                          if (ec) {
                            self->Finish(pair);
                            return;
                          }
                          self->Relay(pair, from, to, buf);
                        });
    });
  }

  void Finish(const std::shared_ptr<Pair>& pair) {
    pair->Close();
    if (pairs.erase(pair)) --open;
  }

  void DropAll() {
    auto all = pairs;
    for (const auto& pair : all) Finish(pair);
  }
};

TcpProxy::TcpProxy(std::string target_host, uint16_t target_port)
    : impl_(std::make_shared<Impl>(std::move(target_host), target_port)) {}

TcpProxy::~TcpProxy() { Stop(); }

Status TcpProxy::Start() {
  boost::system::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return MakeError("tcp proxy: cannot listen on 127.0.0.1: " + ec.message());
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->Accept();
  impl_->thread = std::thread([impl = impl_] { impl->io.run(); });
  return OkStatus();
}

void TcpProxy::Stop() {
  std::call_once(impl_->stopped, [this] {
    if (!impl_->thread.joinable()) return;
    asio::post(impl_->io, [impl = impl_] {
      boost::system::error_code ec;
      impl->acceptor.close(ec);
      impl->DropAll();
      impl->io.stop();
    });
    impl_->thread.join();
  });
}

uint16_t TcpProxy::port() const { return impl_->port; }

void TcpProxy::SetMode(ProxyMode mode) { impl_->mode = mode; }

void TcpProxy::DropAll() {
  std::promise<void> done;
  auto future = done.get_future();
  asio::post(impl_->io, [impl = impl_, &done] {
    impl->DropAll();
    done.set_value();
  });
  future.wait();
}

int TcpProxy::accepted() const { return impl_->accepted; }
int TcpProxy::open() const { return impl_->open; }

}  // namespace vmesh::e2e
