#include "hub/cli/ctl_client.h"

#include <boost/json.hpp>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/link/client.h"

namespace vmesh::cli {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t start = s.find_first_not_of(" \n\r");
  return start == std::string::npos ? "" : s.substr(start);
}

}  // namespace

Result<config::v1::AdminConfig> LoadAdminConfig(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.error().Wrap("reading the admin credential " + path);
  config::v1::AdminConfig config;
  auto errors = api::DecodeInto(*text, &config);
  if (!errors.empty()) return MakeError("admin credential " + path + ": " + api::JoinErrors(errors));
  std::string missing;
  if (config.hub_url().empty()) missing += " hubUrl";
  if (config.hub_ca().empty()) missing += " hubCa";
  if (config.client_certificate().empty()) missing += " clientCertificate";
  if (config.client_key().empty()) missing += " clientKey";
  if (!missing.empty()) return MakeError("admin credential " + path + " lacks" + missing);
  return config;
}

std::string ServerMessage(const link::HttpResponse& response) {
  std::string message = Trim(response.body);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(response.body, ec);
  if (!ec && v.is_object()) {
    const boost::json::value* m = v.get_object().if_contains("message");
    if (m != nullptr && m->is_string()) message = Trim(std::string(m->get_string()));
  }
  if (message.empty()) message = "HTTP " + std::to_string(response.status);
  return message;
}

Result<HubClient> HubClient::Create(const config::v1::AdminConfig& config) {
  auto tls = link::TlsContext::Client({config.hub_ca(), config.client_certificate(), config.client_key()});
  if (!tls.ok()) return tls.error().Wrap("admin credential");
  std::string url = config.hub_url();
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto parsed = link::Url::Parse(url);
  if (!parsed.ok()) return parsed.error().Wrap("admin credential hubUrl");
  if (parsed->scheme != "https") return MakeError("admin credential hubUrl " + url + " must use https://");
  return HubClient(std::move(url), *tls);
}

Result<link::HttpResponse> HubClient::Call(const std::string& method, const std::string& path, const std::string& body,
                                           const std::string& content_type) const {
  link::FetchRequest request{.method = method, .url = url_ + path, .body = body, .content_type = content_type};
  request.timeout = std::chrono::seconds(30);
  auto response = link::Fetch(tls_, request);
  if (!response.ok()) return response.error().Wrap("cannot reach the hub at " + url_);
  return response;
}

Result<std::string> HubClient::CallOk(const std::string& method, const std::string& path, const std::string& body,
                                      const std::string& content_type) const {
  auto response = Call(method, path, body, content_type);
  if (!response.ok()) return response.error();
  if (response->status >= 200 && response->status < 300) return std::move(response->body);
  std::string message = ServerMessage(*response);
  switch (response->status) {
    case 400:
    case 403:
    case 404:
    case 409:
      return MakeError(message);
    case 401:
      return MakeError("the hub wants a client certificate (HTTP 401): " + message);
    default:
      return MakeError("HTTP " + std::to_string(response->status) + ": " + message);
  }
}

}  // namespace vmesh::cli
