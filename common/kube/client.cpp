#include "common/kube/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

namespace vmesh::kube {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;
  std::string base_path;
};

Result<Endpoint> ParseServer(const std::string& server) {
  Endpoint e;
  std::string rest;
  if (server.rfind("https://", 0) == 0) {
    e.tls = true;
    rest = server.substr(8);
  } else if (server.rfind("http://", 0) == 0) {
    rest = server.substr(7);
  } else {
    return MakeError("server \"" + server + "\" is not an http:// or https:// URL");
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) e.base_path = rest.substr(slash);
  while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) return MakeError("server \"" + server + "\": bad IPv6 address");
    e.host = hostport.substr(1, close - 1);
    e.port = close + 1 < hostport.size() && hostport[close + 1] == ':' ? hostport.substr(close + 2) : "";
  } else {
    size_t colon = hostport.rfind(':');
    e.host = hostport.substr(0, colon);
    e.port = colon == std::string::npos ? "" : hostport.substr(colon + 1);
  }
  if (e.port.empty()) e.port = e.tls ? "443" : "80";
  if (e.host.empty()) return MakeError("server \"" + server + "\" names no host");
  return e;
}

}  // namespace

std::string ApiResponse::Describe() const {
  std::string reason = std::string(http::obsolete_reason(static_cast<http::status>(status)));
  std::string message;
  if (body.is_object()) {
    const auto& o = body.get_object();
    if (auto it = o.find("message"); it != o.end() && it->value().is_string()) message = it->value().get_string();
  }
  if (message.empty()) message = raw.substr(0, 200);
  return std::to_string(status) + " " + reason + (message.empty() ? "" : ": " + message);
}

std::string EscapePathSegment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  // "." and ".." would be dot-segments (RFC 3986 §5.2.4): their dots are escaped too.
  const bool dots = segment == "." || segment == "..";
  std::string out;
  out.reserve(segment.size());
  for (char c : segment) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
                            (byte >= '0' && byte <= '9') || c == '-' || c == '_' || c == '~' || (c == '.' && !dots);
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

std::string ResourcePath(std::string_view api_version, std::string_view resource, std::string_view ns,
                         std::string_view name) {
  std::string path = api_version.find('/') == std::string_view::npos ? "/api/" + std::string(api_version)
                                                                     : "/apis/" + std::string(api_version);
  if (!ns.empty()) path += "/namespaces/" + EscapePathSegment(ns);
  path += "/" + EscapePathSegment(resource);
  if (!name.empty()) path += "/" + EscapePathSegment(name);
  return path;
}

namespace {

// The HTTP client: one connection per request (plain or TLS), Beast coroutines.
class KubeClientImpl final : public KubeClient {
 public:
  KubeClientImpl(ClusterConfig config, Endpoint endpoint, std::chrono::milliseconds request_timeout)
      : config(std::move(config)), endpoint(std::move(endpoint)), request_timeout(request_timeout) {}

  asio::awaitable<Result<ApiResponse>> Request(std::string method, std::string target, std::string body,
                                               std::string content_type) override;
  asio::awaitable<Status> Watch(std::string target, std::function<bool(const WatchEvent&)> on_event) override;

  ClusterConfig config;
  Endpoint endpoint;
  std::chrono::milliseconds request_timeout;
  asio::ssl::context tls{asio::ssl::context::tls_client};

 private:
  http::request<http::string_body> MakeRequest(const std::string& method, const std::string& target, std::string body,
                                               const std::string& content_type) const {
    http::request<http::string_body> req{http::string_to_verb(method), endpoint.base_path + target, 11};
    req.set(http::field::host, endpoint.host);
    req.set(http::field::user_agent, "vmesh");
    req.set(http::field::accept, "application/json");
    if (!config.token.empty()) req.set(http::field::authorization, "Bearer " + config.token);
    if (!body.empty()) {
      req.set(http::field::content_type, content_type);
      req.body() = std::move(body);
    }
    req.prepare_payload();
    return req;
  }

  // Connects a plain or TLS stream and runs `fn(stream)`.
  template <typename Fn>
  asio::awaitable<Status> WithStream(std::chrono::milliseconds timeout, Fn fn) {
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(endpoint.host, endpoint.port, kTuple);
    if (rec) co_return MakeError("cannot resolve " + endpoint.host + ": " + rec.message());
    if (!endpoint.tls) {
      beast::tcp_stream stream(ex);
      stream.expires_after(timeout);
      auto [cec, ep] = co_await stream.async_connect(results, kTuple);
      if (cec) co_return MakeError("cannot connect to " + config.server + ": " + cec.message());
      co_return co_await fn(stream);
    }
    beast::ssl_stream<beast::tcp_stream> stream(ex, tls);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), endpoint.host.c_str())) {
      co_return MakeError("cannot set TLS server name " + endpoint.host);
    }
    if (!config.insecure_skip_tls_verify) {
      stream.set_verify_mode(asio::ssl::verify_peer);
      stream.set_verify_callback(
          asio::ssl::host_name_verification(config.tls_server_name.empty() ? endpoint.host : config.tls_server_name));
    }
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto [cec, ep] = co_await beast::get_lowest_layer(stream).async_connect(results, kTuple);
    if (cec) co_return MakeError("cannot connect to " + config.server + ": " + cec.message());
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kTuple);
    if (hec) co_return MakeError("TLS handshake with " + config.server + " failed: " + hec.message());
    co_return co_await fn(stream);
  }
};

}  // namespace

Result<KubeClientPtr> MakeKubeClient(const ClusterConfig& config, std::chrono::milliseconds request_timeout) {
  auto endpoint = ParseServer(config.server);
  if (!endpoint.ok()) return endpoint.error();
  auto impl = std::make_unique<KubeClientImpl>(config, *endpoint, request_timeout);
  boost::system::error_code ec;
  impl->tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  if (!config.ca_pem.empty()) {
    impl->tls.add_certificate_authority(asio::buffer(config.ca_pem), ec);
    if (ec) return MakeError("cluster CA: " + ec.message());
  } else {
    impl->tls.set_default_verify_paths(ec);
  }
  if (!config.client_certificate_pem.empty()) {
    impl->tls.use_certificate_chain(asio::buffer(config.client_certificate_pem), ec);
    if (ec) return MakeError("client certificate: " + ec.message());
    impl->tls.use_private_key(asio::buffer(config.client_key_pem), asio::ssl::context::pem, ec);
    if (ec) return MakeError("client key: " + ec.message());
  }
  return KubeClientPtr(std::move(impl));
}

asio::awaitable<Result<ApiResponse>> KubeClientImpl::Request(std::string method, std::string target, std::string body,
                                                             std::string content_type) {
  auto req = MakeRequest(method, target, std::move(body), content_type);
  ApiResponse out;
  Status s = co_await WithStream(request_timeout, [&](auto& stream) -> asio::awaitable<Status> {
    auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
    if (wec) co_return MakeError(method + " " + target + ": " + wec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (rec) co_return MakeError(method + " " + target + ": " + rec.message());
    out.status = static_cast<int>(parser.get().result_int());
    out.raw = std::move(parser.get().body());
    co_return OkStatus();
  });
  if (!s.ok()) co_return s.error();
  boost::system::error_code jec;
  out.body = json::parse(out.raw, jec);
  if (jec) out.body = nullptr;
  co_return out;
}

asio::awaitable<Result<ApiResponse>> KubeClient::Get(std::string target) { return Request("GET", std::move(target)); }

asio::awaitable<Result<ApiResponse>> KubeClient::List(std::string collection, std::string query, int page_size) {
  json::array items;
  ApiResponse first;
  std::string cont;
  int pages = 0;
  do {
    std::string target = collection + "?limit=" + std::to_string(page_size);
    if (!query.empty()) target += "&" + query;
    if (!cont.empty()) target += "&continue=" + cont;
    auto page = co_await Get(target);
    if (!page.ok()) co_return page.error();
    if (!page->ok() || !page->body.is_object()) co_return *page;  // the caller sees the API's answer
    if (pages++ == 0) first = *page;
    if (auto* its = page->body.get_object().if_contains("items"); its && its->is_array()) {
      for (auto& item : its->get_array()) items.push_back(std::move(item));
    }
    cont.clear();
    if (auto* meta = page->body.get_object().if_contains("metadata"); meta && meta->is_object()) {
      if (auto* c = meta->get_object().if_contains("continue"); c && c->is_string()) cont = c->get_string();
    }
  } while (!cont.empty());
  first.body.get_object()["items"] = std::move(items);
  if (auto* meta = first.body.get_object().if_contains("metadata"); meta && meta->is_object()) {
    meta->get_object().erase("continue");
  }
  first.raw.clear();
  co_return first;
}

asio::awaitable<Result<ApiResponse>> KubeClient::Create(std::string collection, const json::value& object) {
  return Request("POST", std::move(collection), json::serialize(object));
}

asio::awaitable<Result<ApiResponse>> KubeClient::Update(std::string target, const json::value& object) {
  return Request("PUT", std::move(target), json::serialize(object));
}

asio::awaitable<Result<ApiResponse>> KubeClient::MergePatch(std::string target, const json::value& patch) {
  return Request("PATCH", std::move(target), json::serialize(patch), "application/merge-patch+json");
}

asio::awaitable<Result<ApiResponse>> KubeClient::Apply(std::string target, const json::value& object,
                                                       std::string field_manager, bool force) {
  target += (target.find('?') == std::string::npos ? "?" : "&") + std::string("fieldManager=") + field_manager;
  if (force) target += "&force=true";
  return Request("PATCH", std::move(target), json::serialize(object), "application/apply-patch+yaml");
}

asio::awaitable<Result<ApiResponse>> KubeClient::Delete(std::string target) {
  return Request("DELETE", std::move(target));
}

asio::awaitable<Status> KubeClientImpl::Watch(std::string target, std::function<bool(const WatchEvent&)> on_event) {
  auto req = MakeRequest("GET", target, "", "");
  co_return co_await WithStream(request_timeout, [&](auto& stream) -> asio::awaitable<Status> {
    auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
    if (wec) co_return MakeError("watch " + target + ": " + wec.message());
    // A watch lasts as long as the server keeps it open: no deadline once the headers arrived.
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (hec) co_return MakeError("watch " + target + ": " + hec.message());
    beast::get_lowest_layer(stream).expires_never();
    const int status = static_cast<int>(parser.get().result_int());
    std::string pending;
    while (true) {
      if (!parser.is_done()) {
        auto [rec, rn] = co_await http::async_read_some(stream, buffer, parser, kTuple);
        if (rec == http::error::end_of_stream || rec == asio::error::eof) break;
        if (rec) co_return MakeError("watch " + target + ": " + rec.message());
      }
      std::string& body = parser.get().body();
      pending += body;
      body.clear();
      if (status < 200 || status >= 300) {
        if (!parser.is_done()) continue;
        ApiResponse r{status, nullptr, pending};
        boost::system::error_code jec;
        r.body = json::parse(pending, jec);
        co_return MakeError("watch " + target + ": " + r.Describe());
      }
      size_t eol;
      while ((eol = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, eol);
        pending.erase(0, eol + 1);
        if (line.empty()) continue;
        auto event = DecodeWatchEvent(line);
        if (!event.ok()) co_return event.error().Wrap("watch " + target);
        if (!on_event(*event)) co_return OkStatus();
      }
      if (parser.is_done()) break;
    }
    co_return OkStatus();
  });
}

}  // namespace vmesh::kube
