#include "common/link/http.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace vmesh::link {

std::string FindHeader(const HttpHeaders& headers, std::string_view name) {
  auto equal = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (const auto& [key, value] : headers) {
    if (equal(key, name)) return value;
  }
  return "";
}

Result<Url> Url::Parse(std::string_view text) {
  Url url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return MakeError("URL \"" + std::string(text) + "\" has no scheme");
  url.scheme = std::string(text.substr(0, scheme_end));
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (url.scheme != "wss" && url.scheme != "https" && url.scheme != "ws" && url.scheme != "http") {
    return MakeError("URL \"" + std::string(text) + "\": unsupported scheme " + url.scheme);
  }
  std::string_view rest = text.substr(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  if (path_start != std::string_view::npos) {
    url.target = std::string(rest.substr(path_start));
    if (url.target.front() == '?') url.target = "/" + url.target;
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return MakeError("URL \"" + std::string(text) + "\": unterminated [");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return MakeError("URL \"" + std::string(text) + "\": junk after ]");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return MakeError("URL \"" + std::string(text) + "\" has no host");
  if (port_text.empty()) {
    url.port = (url.scheme == "wss" || url.scheme == "https") ? 443 : 80;
  } else {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return MakeError("URL \"" + std::string(text) + "\": bad port \"" + std::string(port_text) + "\"");
    }
    url.port = static_cast<uint16_t>(value);
  }
  return url;
}

std::string Url::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + target;
}

}  // namespace vmesh::link
