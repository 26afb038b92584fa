#include "hub/server/routes.h"

#include <boost/json.hpp>

#include "common/api/duration.h"
#include "common/api/manifest.h"
#include "hub/api/object_service.h"

namespace vmesh::hub {
namespace {

namespace json = boost::json;

link::HttpResponse Json(int status, const json::value& v) {
  return link::HttpResponse{status, "application/json", api::PrettyJson(v), {}};
}

link::HttpResponse Problem(int status, const std::string& message) {
  return Json(status, json::object{{"kind", "Status"}, {"status", "Failure"}, {"code", status}, {"message", message}});
}

// The "name" (and optional "ttl") of a JSON body.
Result<std::pair<std::string, std::string>> NameAndTtl(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return MakeError("the request body must be a JSON object");
  const json::object& o = v.get_object();
  auto str = [&](const char* key) -> std::string {
    const json::value* f = o.if_contains(key);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  if (str("name").empty()) return MakeError("\"name\" is required");
  return std::make_pair(str("name"), str("ttl"));
}

}  // namespace

std::optional<link::HttpResponse> HubRoutes::RequireAdmin(const link::HttpRequest& request) const {
  if (request.peer.spiffe_id() == "spiffe://" + hub_name + "/admin") return std::nullopt;
  return Problem(
      403, "this API needs the hub's admin credential (admin.vmeshconfig); " + request.peer.ToString() + " is not it");
}

link::HttpResponse HubRoutes::Bootstrap(const link::HttpRequest& request) const {
  if (request.method != "POST") return Problem(405, "use POST");
  link::v1::BootstrapRequest req;
  if (!req.ParseFromString(request.body)) return Problem(400, "the body is not a BootstrapRequest");
  if (req.cluster_name().empty() || req.token().empty() || req.csr_pem().empty()) {
    return Problem(400, "cluster_name, token and csr_pem are required");
  }
  auto response = registration.Bootstrap(req);
  if (!response.ok()) {
    const std::string& m = response.error().message;
    const bool bad_request = m.find("identity CSR") != std::string::npos;
    return Problem(bad_request ? 400 : 403, m);
  }
  return link::HttpResponse{200, "application/x-protobuf", response->SerializeAsString(), {}};
}

link::HttpResponse HubRoutes::RegisterCluster(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  auto args = NameAndTtl(request.body);
  if (!args.ok()) return Problem(400, args.error().message);
  std::chrono::seconds ttl = std::chrono::hours(1);
  if (!args->second.empty()) {
    auto parsed = api::ParseDuration(args->second);
    if (!parsed.ok()) return Problem(400, "ttl: " + parsed.error().message);
    ttl = std::chrono::duration_cast<std::chrono::seconds>(*parsed);
  }
  auto bundle = registration.Register(args->first, ttl);
  if (!bundle.ok()) return Problem(409, bundle.error().message);
  return link::HttpResponse{201, "application/yaml", api::Encode(*bundle, api::Format::kYaml), {}};
}

link::HttpResponse HubRoutes::ListClusters(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  auto clusters = store.ListClusters();
  if (!clusters.ok()) return Problem(500, clusters.error().message);
  json::array items;
  for (const auto& c : *clusters) items.push_back(api::ToJson(ClusterObject(c, hub_namespace)));
  return Json(200, json::object{{"apiVersion", "v1"}, {"kind", "List"}, {"items", std::move(items)}});
}

link::HttpResponse HubRoutes::DeregisterCluster(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  auto args = NameAndTtl(request.body);
  if (!args.ok()) return Problem(400, args.error().message);
  Status s = registration.Deregister(args->first);
  if (!s.ok()) return Problem(404, s.error().message);
  if (on_deregistered) on_deregistered(args->first);
  return Json(200, json::object{{"deregistered", args->first}});
}

}  // namespace vmesh::hub
