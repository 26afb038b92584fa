// The plain-HTTP admin server (common/link/admin_http.h) the agent serves /healthz, /readyz and /metrics on.
#include "common/link/admin_http.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include "common/link/event_loop.h"

namespace vmesh::link {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

TEST(ParseListenAddressTest, HostAndPort) {
  EXPECT_EQ(*ParseListenAddress("127.0.0.1:9902"), std::make_pair(std::string("127.0.0.1"), uint16_t{9902}));
  EXPECT_EQ(*ParseListenAddress("[::1]:0"), std::make_pair(std::string("::1"), uint16_t{0}));
  EXPECT_EQ(ParseListenAddress(":9902")->first, "0.0.0.0");
  EXPECT_FALSE(ParseListenAddress("9902x").ok());
  EXPECT_FALSE(ParseListenAddress("host:70000").ok());
  EXPECT_FALSE(ParseListenAddress("host").ok());
}

TEST(AdminHttpServerTest, RoutesExactPathsKeepsConnectionsAliveAnd404sTheRest) {
  EventLoop loop(1);
  AdminHttpServer server(loop.context(), "127.0.0.1", 0);
  int calls = 0;
  server.Handle("/healthz", [&](const HttpRequest& r) {
    ++calls;
    return HttpResponse::Text(200, "ok " + r.method + "\n");
  });
  server.Handle("/readyz", [](const HttpRequest&) { return HttpResponse::Text(503, "not ready\n"); });
  ASSERT_TRUE(server.Start().ok());
  ASSERT_NE(server.port(), 0);

  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  auto exchange = [&](const std::string& path) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(socket, asio::buffer(request));
    std::string buffer;
    asio::read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n");
    const auto length_at = buffer.find("Content-Length: ");
    EXPECT_NE(length_at, std::string::npos);
    const std::size_t length = std::stoul(buffer.substr(length_at + 16));
    const std::size_t header_end = buffer.find("\r\n\r\n") + 4;
    if (buffer.size() < header_end + length) {
      asio::read(socket, asio::dynamic_buffer(buffer), asio::transfer_exactly(header_end + length - buffer.size()));
    }
    return buffer;
  };
  // Three requests on one connection.
  EXPECT_THAT(exchange("/healthz"), ::testing::AllOf(HasSubstr("HTTP/1.1 200"), HasSubstr("ok GET")));
  EXPECT_THAT(exchange("/readyz"), ::testing::AllOf(HasSubstr("HTTP/1.1 503"), HasSubstr("not ready")));
  EXPECT_THAT(exchange("/nope?x=1"), HasSubstr("HTTP/1.1 404"));
  EXPECT_EQ(calls, 1);

  server.Stop();
  loop.Stop();
}

TEST(AdminHttpServerTest, AddressInUseIsAnErrorNamingIt) {
  EventLoop loop(1);
  AdminHttpServer first(loop.context(), "127.0.0.1", 0);
  ASSERT_TRUE(first.Start().ok());
  AdminHttpServer second(loop.context(), "127.0.0.1", first.port());
  Status s = second.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("127.0.0.1:" + std::to_string(first.port())));
  first.Stop();
  second.Stop();
  loop.Stop();
}

}  // namespace
}  // namespace vmesh::link
