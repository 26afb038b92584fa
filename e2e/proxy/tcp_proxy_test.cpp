#include "e2e/proxy/tcp_proxy.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <thread>

namespace vmesh::e2e {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A blocking echo server on 127.0.0.1:0 serving one connection at a time on its own thread.
class EchoServer {
 public:
  EchoServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] {
      while (true) {
        boost::system::error_code ec;
        tcp::socket socket(io_);
        acceptor_.accept(socket, ec);
        if (ec) return;
        std::array<char, 4096> buf;
        while (true) {
          std::size_t n = socket.read_some(asio::buffer(buf), ec);
          if (ec) break;
          asio::write(socket, asio::buffer(buf.data(), n), ec);
          if (ec) break;
        }
      }
    });
  }
  ~EchoServer() {
    boost::system::error_code ec;
    acceptor_.cancel(ec);
    acceptor_.close(ec);
    // accept() may not return on close on every platform: connect once to unblock it.
    {
      tcp::socket s(io_);
      s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    }
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = acceptor_.local_endpoint().port();
  std::thread thread_;
};

// Reads with a deadline: the bytes read, or empty after `timeout` / on error.
std::string ReadSome(tcp::socket& socket, std::chrono::milliseconds timeout, boost::system::error_code& ec) {
  socket.non_blocking(true);
  std::array<char, 4096> buf;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::size_t n = socket.read_some(asio::buffer(buf), ec);
    if (!ec) return std::string(buf.data(), n);
    if (ec != asio::error::would_block) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ec = asio::error::timed_out;
  return "";
}

TEST(TcpProxyTest, ForwardsBlackholesDropsAndRefuses) {
  EchoServer echo;
  TcpProxy proxy("127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.Start().ok());

  asio::io_context io;
  tcp::socket client(io);
  client.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), proxy.port()));
  asio::write(client, asio::buffer(std::string("hello")));
  boost::system::error_code ec;
  EXPECT_EQ(ReadSome(client, std::chrono::seconds(5), ec), "hello");

  // Black-holed: the write succeeds, nothing comes back, the connection stays open.
  proxy.SetMode(ProxyMode::kBlackhole);
  asio::write(client, asio::buffer(std::string("lost")));
  EXPECT_EQ(ReadSome(client, std::chrono::milliseconds(300), ec), "");
  EXPECT_EQ(ec, asio::error::timed_out);
  EXPECT_EQ(proxy.open(), 1);

  // Back to forwarding: the connection works again (the swallowed bytes are gone).
  proxy.SetMode(ProxyMode::kForward);
  asio::write(client, asio::buffer(std::string("again")));
  EXPECT_EQ(ReadSome(client, std::chrono::seconds(5), ec), "again");

  // Dropped: the client sees the connection end.
  proxy.DropAll();
  ReadSome(client, std::chrono::seconds(5), ec);
  EXPECT_TRUE(ec == asio::error::connection_reset || ec == asio::error::eof) << ec.message();
  EXPECT_EQ(proxy.open(), 0);

  // Refused: a new connection is accepted by the kernel and closed at once.
  proxy.SetMode(ProxyMode::kRefuse);
  tcp::socket second(io);
  second.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), proxy.port()));
  ReadSome(second, std::chrono::seconds(5), ec);
  EXPECT_TRUE(ec == asio::error::connection_reset || ec == asio::error::eof) << ec.message();
  EXPECT_EQ(proxy.accepted(), 2);
}

}  // namespace
}  // namespace vmesh::e2e
