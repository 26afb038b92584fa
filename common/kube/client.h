// The Kubernetes REST client (SPEC §10, issue "kubesim and the Kubernetes client"): requests and watches
// over HTTP/1.1 (Boost.Beast) with TLS (OpenSSL: the cluster CA, client certificates) and bearer tokens,
// as C++20 coroutines, behind the KubeClient seam.
//
// Every call returns the HTTP outcome: transport failures (cannot connect, TLS, timeouts) are errors; an API
// answer — 200 or 409 or 410 alike — is an ApiResponse whose body is the JSON the server sent (a Kubernetes
// Status for errors), so callers decide what to retry. Each request uses its own connection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/kube/config.h"
#include "common/kube/objects.h"

namespace vmesh::kube {

struct ApiResponse {
  int status = 0;
  boost::json::value body;  // null when the body is not JSON
  std::string raw;

  bool ok() const { return status >= 200 && status < 300; }
  // "409 Conflict: <Status.message>" for errors (what goes into NACKs and logs).
  std::string Describe() const;
};

// One URL path segment, percent-encoded (RFC 3986 §2.1, §3.3): every byte but the unreserved characters
// (letters, digits, '-', '.', '_', '~') becomes %XX, and the dots of a "." or ".." segment too.
std::string EscapePathSegment(std::string_view segment);

// /api/v1/namespaces/<ns>/<resource>/<name> for the core group ("v1"), /apis/<group>/<version>/... otherwise;
// an empty namespace addresses cluster-scoped resources (or all namespaces for lists). Namespace, resource and
// name are escaped: a name with '/', '?' or '%' addresses that name, never another path or a query.
std::string ResourcePath(std::string_view api_version, std::string_view resource, std::string_view ns = "",
                         std::string_view name = "");

// The Kubernetes API as the agent uses it: REST requests and watches. A seam: MakeKubeClient() talks HTTP to
// an API server; common/kube/fake_client.h answers in process (tests).
//
// Request() and Watch() are the implementation's; the verbs below are Request() with the method, body and
// content type Kubernetes expects, and List() pages through Get(). Implementations may be used from several
// coroutines at once on one executor.
class KubeClient {
 public:
  virtual ~KubeClient() = default;

  virtual boost::asio::awaitable<Result<ApiResponse>> Request(std::string method, std::string target,
                                                              std::string body = "",
                                                              std::string content_type = "application/json") = 0;

  // Streams `target` (which must ask for ?watch=1...) and calls `on_event` per event until it returns false,
  // the server ends the stream (OK), or the connection fails (error). A non-2xx answer is returned as an error
  // carrying the Status.
  virtual boost::asio::awaitable<Status> Watch(std::string target, std::function<bool(const WatchEvent&)> on_event) = 0;

  boost::asio::awaitable<Result<ApiResponse>> Get(std::string target);
  // Lists a collection page by page (limit/continue) and returns one List with every item and the
  // resourceVersion of the first page. `query` is extra query parameters ("labelSelector=app%3Dx").
  boost::asio::awaitable<Result<ApiResponse>> List(std::string collection, std::string query = "", int page_size = 500);
  boost::asio::awaitable<Result<ApiResponse>> Create(std::string collection, const boost::json::value& object);
  boost::asio::awaitable<Result<ApiResponse>> Update(std::string target, const boost::json::value& object);
  boost::asio::awaitable<Result<ApiResponse>> MergePatch(std::string target, const boost::json::value& patch);
  // Server-side apply (application/apply-patch+yaml; JSON is YAML).
  boost::asio::awaitable<Result<ApiResponse>> Apply(std::string target, const boost::json::value& object,
                                                    std::string field_manager, bool force);
  boost::asio::awaitable<Result<ApiResponse>> Delete(std::string target);
};

using KubeClientPtr = std::unique_ptr<KubeClient>;

// The HTTP/1.1 client of the API server `config` names; each request uses its own connection and must finish
// within `request_timeout` (a watch only has to start within it). Fails for a server URL or TLS material it
// cannot use.
Result<KubeClientPtr> MakeKubeClient(const ClusterConfig& config,
                                     std::chrono::milliseconds request_timeout = std::chrono::seconds(30));

}  // namespace vmesh::kube
