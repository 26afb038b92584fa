// Plain HTTPS requests and responses as the link's server routes and client see them (no Beast types).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/link/tls.h"

namespace vmesh::link {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup; "" when absent.
std::string FindHeader(const HttpHeaders& headers, std::string_view name);

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // target without the query
  HttpHeaders headers;
  std::string body;
  // Who sent it (server side).
  PeerIdentity peer;
  std::string remote_address;

  std::string header(std::string_view name) const { return FindHeader(headers, name); }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  HttpHeaders headers;

  static HttpResponse Text(int status, std::string body) {
    return HttpResponse{status, "text/plain", std::move(body), {}};
  }
  std::string header(std::string_view name) const { return FindHeader(headers, name); }
};

// "wss://host:port/path?query" (also ws, https, http; the port defaults to 443 for wss/https, 80 otherwise).
// IPv6 hosts in brackets: "wss://[::1]:8443/v1/connect".
struct Url {
  std::string scheme;
  std::string host;
  uint16_t port = 0;
  std::string target = "/";  // path and query

  static Result<Url> Parse(std::string_view text);
  std::string ToString() const;
};

}  // namespace vmesh::link
