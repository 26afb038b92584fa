// ApiHandler: the Kubernetes REST API over an ObjectStore, independent of any transport.
//
// Handle() maps one HTTP request (method, target, a few headers, body) to a response: discovery
// (/version, /api, /apis, /api/v1, /apis/<group>/<version>, with the plain APIGroupList/APIResourceList
// answered to aggregated-discovery Accept headers), the OpenAPI stubs kubectl needs (/openapi/v2 and
// /openapi/v3), and GET/LIST/POST/PUT/PATCH (merge, JSON, strategic merge, server-side apply)/DELETE on
// every registered resource and its /status and /scale subresources, with dryRun=All and field ownership
// (managed_fields.h). Writes of CustomResourceDefinitions change the kinds served at once
// (custom_resources.h); custom resources are pruned, defaulted and validated against their schema, with
// the fieldValidation directive (Strict, Warn, Ignore) as kube-apiserver applies it. GET and LIST answer Accept headers
// asking for a Table with one (see table.h). Errors are Kubernetes Status bodies; with ServerInfo::token set, requests
// without that bearer token get 401. A WATCH (?watch=1) is not answered by Handle(): it returns a WatchRequest, which
// the transport turns into a WatchStream and streams.
//
// Thread-safe as far as the store and registry are; the handler itself holds no mutable state.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"
#include "e2e/kubesim/selector.h"

namespace vmesh::kubesim {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string accept;
  std::string content_type;
  std::string body;
  std::string user_agent;
  std::string authorization;  // the Authorization header
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Sent as `Warning: 299 - "<text>"` headers (kubectl prints them as `Warning: <text>`).
  std::vector<std::string> warnings;
};

struct WatchRequest {
  ResourceTypePtr type;
  std::string ns;  // empty: all namespaces
  LabelSelector labels;
  FieldSelector fields;
  // With initial_events: first the current objects as ADDED events, then the changes after them.
  // Otherwise the changes after resource_version (nullopt: after the store's version at Start()).
  bool initial_events = true;
  std::optional<uint64_t> resource_version;
  // sendInitialEvents=true with bookmarks: a BOOKMARK annotated k8s.io/initial-events-end after the
  // initial events.
  bool initial_events_end_bookmark = false;
  bool allow_bookmarks = false;
  bool as_table = false;  // events carry meta.k8s.io/v1 Tables (what `kubectl get --watch` asks for)
  std::chrono::seconds timeout{1800};
};

struct HandleResult {
  std::optional<HttpResponse> response;  // set unless the request is a watch
  std::optional<WatchRequest> watch;
};

struct ServerInfo {
  std::string git_version = "v1.32.0-kubesim";
  // When set, every request but the health checks needs `Authorization: Bearer <token>` (else 401).
  std::string token;
};

class ApiHandler {
 public:
  ApiHandler(ResourceRegistry& registry, ObjectStore& store, ServerInfo info = {});

  HandleResult Handle(const HttpRequest& request) const;
  // Whether the request carries the bearer token (always true without ServerInfo::token).
  bool Authorized(const HttpRequest& request) const;
  // The 401 answer to a request without it.
  static HttpResponse UnauthorizedResponse();

  ResourceRegistry& registry() const { return registry_; }
  const ServerInfo& info() const { return info_; }
  ObjectStore& store() const { return store_; }

 private:
  ResourceRegistry& registry_;
  ObjectStore& store_;
  ServerInfo info_;
};

// The events of one watch, as newline-terminated JSON lines ({"type":...,"object":...}).
// Not thread-safe: one WatchStream belongs to one connection.
class WatchStream {
 public:
  WatchStream(ObjectStore& store, WatchRequest request);

  // Starts watching and returns the first lines to send: the current objects as ADDED events when the
  // request asks for initial events (and the initial-events-end BOOKMARK), then the changes after them. As
  // kube-apiserver does, a resourceVersion that has left the store's log yields one ERROR line carrying a 410 Expired
  // Status, and done().
  std::vector<std::string> Start();
  // Lines for the changes since the last call. When the watch has fallen so far behind that the log no
  // longer holds its changes, returns one ERROR line (a 410 Status) and done() becomes true.
  std::vector<std::string> Poll();
  // A BOOKMARK line carrying the newest resourceVersion this stream has delivered up to; with
  // initial_events_end, annotated `k8s.io/initial-events-end: "true"` (the end of sendInitialEvents).
  std::string BookmarkLine(bool initial_events_end = false) const;

  bool done() const { return done_; }
  const WatchRequest& request() const { return request_; }

 private:
  std::string Line(const char* type, const boost::json::object& object) const;

  ObjectStore& store_;
  WatchRequest request_;
  uint64_t delivered_through_ = 0;
  bool done_ = false;
};

// The Kubernetes Status body for an error.
std::string StatusBody(const ApiError& error);

}  // namespace vmesh::kubesim
