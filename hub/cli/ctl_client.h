// vmeshctl's connection to the hub's API endpoint (SPEC §2): the admin credential (admin.vmeshconfig, written by
// `vmesh-hub init`) and one HTTPS request per call, authenticated with the admin client certificate and verifying
// the hub against the hub CA in the credential.
//
// Errors are values whose message is ready for the user: transport failures name the hub URL ("cannot reach the
// hub at https://127.0.0.1:9901: ..."), refusals carry the server's message (one line per problem).
#pragma once

#include <string>

#include "common/base/result.h"
#include "common/link/http.h"
#include "common/link/tls.h"
#include "vmesh/config/v1/config.pb.h"

namespace vmesh::cli {

// Reads and decodes an AdminConfig (YAML or JSON); errors name the file and what is missing.
Result<config::v1::AdminConfig> LoadAdminConfig(const std::string& path);

// The message of an error response: the "message" of a JSON Status body, else the text body; trimmed, never
// empty ("HTTP 404" when the body is).
std::string ServerMessage(const link::HttpResponse& response);

class HubClient {
 public:
  // Fails when the credential's certificates or key do not parse or do not match.
  static Result<HubClient> Create(const config::v1::AdminConfig& config);

  // The hub's API URL without a trailing slash.
  const std::string& url() const { return url_; }

  // One request; any HTTP status is a result. Errors are transport failures naming the hub URL.
  Result<link::HttpResponse> Call(const std::string& method, const std::string& path, const std::string& body = "",
                                  const std::string& content_type = "application/json") const;

  // Like Call, but a status outside 2xx is an error carrying ServerMessage (and "HTTP <status>" for 5xx and
  // unexpected codes). Returns the response body.
  Result<std::string> CallOk(const std::string& method, const std::string& path, const std::string& body = "",
                             const std::string& content_type = "application/json") const;

 private:
  HubClient(std::string url, link::TlsContextPtr tls) : url_(std::move(url)), tls_(std::move(tls)) {}

  std::string url_;
  link::TlsContextPtr tls_;
};

}  // namespace vmesh::cli
