#include "hub/server/routes.h"

#include <boost/json.hpp>
#include <cctype>

#include "common/api/duration.h"
#include "common/api/manifest.h"
#include "common/base/error_code.h"
#include "common/base/json_fields.h"
#include "common/base/kinds.h"
#include "common/base/resource_names.h"
#include "common/base/time.h"
#include "hub/api/object_service.h"
#include "hub/init/hub_init.h"

namespace vmesh::hub {
namespace {

namespace json = boost::json;

link::HttpResponse Json(int status, const json::value& v) {
  return link::HttpResponse{status, "application/json", api::PrettyJson(v), {}};
}

// Errors are plain text, one line per problem.
link::HttpResponse Problem(int status, std::string message) {
  if (message.empty() || message.back() != '\n') message += '\n';
  return link::HttpResponse::Text(status, std::move(message));
}

// A failed call answered with its error code's status (common/base/error_code.h); `unclassified` for errors
// without a code.
link::HttpResponse Problem(const Error& error, int unclassified) {
  return Problem(HttpStatusOf(error.code, unclassified), error.message);
}

link::HttpResponse NotReady(const char* what) {
  return Problem(503, std::string("the hub's ") + what + " is not available");
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Result<json::object> ParseObject(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return MakeError("the request body must be a JSON object");
  return v.get_object();
}

// The "name" (and optional "ttl") of a JSON body.
Result<std::pair<std::string, std::string>> NameAndTtl(const std::string& body) {
  auto o = ParseObject(body);
  if (!o.ok()) return o.error();
  if (jsonf::Str(*o, "name").empty()) return MakeError("\"name\" is required");
  return std::make_pair(jsonf::Str(*o, "name"), jsonf::Str(*o, "ttl"));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> PathSegments(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) out.push_back(PercentDecode(path.substr(start, slash - start)));
    start = slash + 1;
  }
  return out;
}

// The value of query parameter `key` in a request target, or "".
std::string QueryParameter(const std::string& target, const std::string& key) {
  size_t q = target.find('?');
  if (q == std::string::npos) return "";
  std::string_view query = std::string_view(target).substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    size_t eq = item.find('=');
    if (PercentDecode(item.substr(0, eq)) == key)
      return eq == std::string_view::npos ? std::string() : PercentDecode(item.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

json::object List(json::array items) {
  return json::object{{"apiVersion", "v1"}, {"kind", "List"}, {"items", std::move(items)}};
}

json::object CertificateJson(const IssuedCertificateRecord& c) {
  return json::object{{"serial", c.serial},
                      {"virtualMesh", c.virtual_mesh},
                      {"mesh", c.mesh},
                      {"cluster", c.cluster},
                      {"notBefore", FormatRfc3339(c.not_before)},
                      {"notAfter", FormatRfc3339(c.not_after)},
                      {"publicKeyFingerprint", c.public_key_fingerprint},
                      {"issuedAt", FormatRfc3339(c.issued_at)}};
}

json::object SessionJson(const SessionInfo& s) {
  json::object rejected;
  for (const auto& [name, message] : s.rejected) rejected[name] = message;
  return json::object{{"cluster", s.cluster},
                      {"connected", s.connected},
                      {"remoteAddress", s.remote_address},
                      {"agentVersion", s.agent_version},
                      {"resourcesDesired", s.resources_desired},
                      {"resourcesHeld", s.resources_held},
                      {"inSync", s.in_sync},
                      {"rejected", std::move(rejected)}};
}

// A preview entry: the Kubernetes object (as JSON), the certificate directive, the restart directive or the gateway
// certificate directive.
json::object ResourceJson(const link::v1::Resource& r) {
  json::object out{{"name", r.name()}};
  switch (r.body_case()) {
    case link::v1::Resource::kKubeObject: {
      boost::system::error_code ec;
      json::value object = json::parse(r.kube_object().json(), ec);
      out["object"] = ec ? json::value(r.kube_object().json()) : std::move(object);
      break;
    }
    case link::v1::Resource::kCertificate:
      out["certificate"] = api::ToJson(r.certificate());
      break;
    case link::v1::Resource::kRestart:
      out["restart"] = api::ToJson(r.restart());
      break;
    case link::v1::Resource::kGatewayCertificate:
      out["gatewayCertificate"] = api::ToJson(r.gateway_certificate());
      break;
    default:
      break;
  }
  return out;
}

const char* OutcomeName(ApplyOutcome outcome) {
  switch (outcome) {
    case ApplyOutcome::kCreated:
      return "created";
    case ApplyOutcome::kConfigured:
      return "configured";
    case ApplyOutcome::kUnchanged:
      return "unchanged";
  }
  return "unknown";
}

// A discovered object (Mesh, Destination, Workload) named `name`, or nullopt.
template <typename T>
std::optional<T> FindNamed(const std::vector<T>& items, const std::string& ns, const std::string& name) {
  for (const auto& item : items) {
    if (item.metadata().name() == name && (item.metadata().namespace_().empty() || item.metadata().namespace_() == ns))
      return item;
  }
  return std::nullopt;
}

template <typename T>
json::array ToJsonArray(const std::vector<T>& items) {
  json::array out;
  for (const auto& item : items) out.push_back(api::ToJson(item));
  return out;
}

// Every spelling InstallApiRoutes registers as an exact /v1/objects/<kind> path (ApiKind accepts any case): of each
// kHubApi kind, the kind and its plural in lower case and capitalised, and its short names.
std::vector<std::string> KindSpellings() {
  std::vector<std::string> spellings;
  for (const KindInfo& k : Kinds()) {
    if ((k.roles & kHubApi) == 0) continue;
    const std::string kind(k.kind);
    const std::string plural(k.plural);
    const std::string lower = Lower(kind);
    size_t common = 0;
    while (common < lower.size() && common < plural.size() && lower[common] == plural[common]) ++common;
    spellings.push_back(lower);
    spellings.push_back(plural);
    spellings.push_back(kind);
    spellings.push_back(kind.substr(0, common) + plural.substr(common));  // "VirtualMeshes"
    std::string_view names = k.short_names;
    while (!names.empty()) {
      const size_t space = names.find(' ');
      spellings.emplace_back(names.substr(0, space));
      if (space == std::string_view::npos) break;
      names.remove_prefix(space + 1);
    }
  }
  return spellings;
}

}  // namespace

Result<std::string> ApiKind(const std::string& spelling) {
  if (const KindInfo* k = LookupKind(spelling, kHubApi)) return std::string(k->kind);
  return MakeError("unknown kind \"" + spelling +
                       "\" (expected virtualmeshes, accesspolicies, secrets, meshes, destinations, workloads, clusters "
                       "or certificates)",
                   ErrorCode::kNotFound);
}

std::optional<link::HttpResponse> HubRoutes::RequireAdmin(const link::HttpRequest& request) const {
  if (request.peer.spiffe_id() != AdminSpiffeId(hub_name)) {
    return Problem(403, "this API needs the hub's admin credential (admin.vmeshconfig); " + request.peer.ToString() +
                            " is not it");
  }
  // The SAN alone is not enough: the serial must be pinned and not revoked (`vmeshctl admin rotate`).
  if (Status s = store.CheckAdminCredential(request.peer.serial_hex); !s.ok()) {
    return Problem(403, "refused: " + s.error().message);
  }
  return std::nullopt;
}

link::HttpResponse HubRoutes::RotateAdmin(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  if (request.method != "POST") return Problem(405, "use POST with {\"csr\": PEM}");
  if (!link_ca) return NotReady("link CA");
  auto body = ParseObject(request.body);
  if (!body.ok()) return Problem(400, body.error().message);
  const std::string csr = jsonf::Str(*body, "csr");
  if (csr.empty()) return Problem(400, "\"csr\" is required: the PEM CSR of the new admin key");
  auto rotated =
      RotateAdminCredential(store, *link_ca, hub_name, request.peer.serial_hex, csr, std::chrono::system_clock::now());
  if (!rotated.ok()) return Problem(rotated.error(), 409);
  return Json(200, json::object{{"certificate", rotated->certificate_pem}, {"serial", rotated->serial}});
}

link::HttpResponse HubRoutes::Bootstrap(const link::HttpRequest& request) const {
  if (request.method != "POST") return Problem(405, "use POST");
  link::v1::BootstrapRequest req;
  if (!req.ParseFromString(request.body)) return Problem(400, "the body is not a BootstrapRequest");
  if (req.cluster_name().empty() || req.token().empty() || req.csr_pem().empty()) {
    return Problem(400, "cluster_name, token and csr_pem are required");
  }
  auto response = registration.Bootstrap(req);
  if (!response.ok()) return Problem(response.error(), 403);
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
  if (!bundle.ok()) return Problem(bundle.error(), 400);
  return link::HttpResponse{201, "application/yaml", api::Encode(*bundle, api::Format::kYaml), {}};
}

link::HttpResponse HubRoutes::ListClusters(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  auto clusters = store.ListClusters();
  if (!clusters.ok()) return Problem(500, clusters.error().message);
  json::array items;
  for (const auto& c : *clusters) items.push_back(api::ToJson(ClusterObject(c, hub_namespace)));
  return Json(200, List(std::move(items)));
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

link::HttpResponse HubRoutes::Healthz(const link::HttpRequest&) const { return link::HttpResponse::Text(200, "ok\n"); }

link::HttpResponse HubRoutes::Readyz(const link::HttpRequest&) const {
  if (!core) return Problem(503, "the hub core is not running yet");
  if (!core->Ready()) return Problem(503, "the hub core is loading its state (first reconcile not done yet)");
  return link::HttpResponse::Text(200, "ready\n");
}

link::HttpResponse HubRoutes::Metrics(const link::HttpRequest&) const {
  if (!metrics) return NotReady("metrics registry");
  return link::HttpResponse{200, "text/plain; version=0.0.4", metrics->Render(), {}};
}

link::HttpResponse HubRoutes::Apply(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  if (request.method != "POST") return Problem(405, "use POST with a manifest");
  if (!objects) return NotReady("object service");
  auto applied = objects->Apply(request.body);
  if (!applied.ok()) return Problem(applied.error(), 400);
  json::array results;
  json::array messages;
  bool changed = false;
  for (const auto& r : *applied) {
    results.push_back(json::object{{"kind", r.kind},
                                   {"namespace", r.ns},
                                   {"name", r.name},
                                   {"outcome", OutcomeName(r.outcome)},
                                   {"generation", r.generation},
                                   {"note", r.import_note}});
    messages.push_back(json::value(r.ToString()));
    if (r.outcome != ApplyOutcome::kUnchanged) changed = true;
  }
  if (changed && core) core->TriggerReconcile();
  return Json(200, json::object{{"results", std::move(results)}, {"messages", std::move(messages)}});
}

link::HttpResponse HubRoutes::DeleteManifest(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  if (request.method != "POST") return Problem(405, "use POST with a manifest");
  if (!objects) return NotReady("object service");
  api::DecodeOptions options;
  options.hub_namespace = hub_namespace;
  options.validate = false;  // deleting needs only kind, namespace and name
  api::DecodeResult decoded = api::DecodeManifests(request.body, options);
  if (!decoded.ok()) return Problem(400, api::JoinErrors(decoded.errors));
  if (decoded.objects.empty()) return Problem(400, "the manifest holds no objects");
  std::vector<std::pair<std::string, const api::v1::ObjectMeta*>> targets;
  for (const auto& d : decoded.objects) {
    if (const auto* vm = std::get_if<api::v1::VirtualMesh>(&d.object)) {
      targets.emplace_back("VirtualMesh", &vm->metadata());
    } else if (const auto* ap = std::get_if<api::v1::AccessPolicy>(&d.object)) {
      targets.emplace_back("AccessPolicy", &ap->metadata());
    } else if (const auto* secret = std::get_if<api::v1::Secret>(&d.object)) {
      targets.emplace_back("Secret", &secret->metadata());
    } else {
      return Problem(400, "document " + std::to_string(d.document) + ": " +
                              api::AsMessage(d.object).GetDescriptor()->name() +
                              " objects are written by the hub from agent reports and cannot be deleted");
    }
  }
  json::array messages;
  std::string problems;
  for (const auto& [kind, meta] : targets) {
    Status s = objects->Delete(kind, meta->namespace_(), meta->name());
    if (s.ok()) {
      messages.push_back(json::value(Lower(kind) + " " + meta->namespace_() + "/" + meta->name() + " deleted"));
    } else {
      problems += s.error().message + "\n";
    }
  }
  if (!messages.empty() && core) core->TriggerReconcile();
  if (!problems.empty()) {
    std::string body;
    for (const auto& m : messages) body += std::string(m.get_string()) + "\n";
    return Problem(404, body + problems);
  }
  return Json(200, json::object{{"messages", std::move(messages)}});
}

link::HttpResponse HubRoutes::Objects(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  // /v1/objects/<kind>[/<namespace>]/<name>, or the name and namespace as query parameters.
  std::vector<std::string> segments = PathSegments(request.path);
  if (segments.size() < 3 || segments.size() > 5 || segments[0] != "v1" || segments[1] != "objects")
    return Problem(404, "no endpoint " + request.path + " (expected /v1/objects/<kind>[/<namespace>]/<name>)");
  auto kind = ApiKind(segments[2]);
  if (!kind.ok()) return Problem(kind.error(), 404);
  std::string ns = QueryParameter(request.target, "namespace");
  std::string name = QueryParameter(request.target, "name");
  if (segments.size() == 4) name = segments[3];
  if (segments.size() == 5) {
    ns = segments[3];
    name = segments[4];
  }
  if (ns.empty()) ns = hub_namespace;

  if (request.method == "DELETE") {
    if (name.empty()) return Problem(400, "DELETE needs /v1/objects/<kind>/<namespace>/<name>");
    if ((FindKind(*kind)->roles & kUserWritable) == 0)
      return Problem(400, Lower(*kind) + " objects are written by the hub and cannot be deleted" +
                              (*kind == "Cluster" ? " (use cluster deregister)" : ""));
    if (!objects) return NotReady("object service");
    Status s = objects->Delete(*kind, ns, name);
    if (!s.ok()) return Problem(s.error(), 500);
    if (core) core->TriggerReconcile();
    return Json(
        200, json::object{{"messages", json::array{json::value(Lower(*kind) + " " + ns + "/" + name + " deleted")}}});
  }
  if (request.method != "GET") return Problem(405, "use GET or DELETE");

  const std::string what = Lower(*kind) + " " + ns + "/" + name;
  auto not_found = [&] { return Problem(404, what + " not found"); };
  auto one_or_list = [&](json::array items, auto&& name_of) -> link::HttpResponse {
    if (name.empty()) return Json(200, List(std::move(items)));
    for (auto& item : items) {
      if (name_of(item) == name) return Json(200, item);
    }
    return not_found();
  };
  auto metadata_name = [&](const json::value& item) -> std::string {
    const json::value* meta = item.as_object().if_contains("metadata");
    if (!meta || !meta->is_object()) return "";
    const json::value* n = meta->as_object().if_contains("name");
    const json::value* s = meta->as_object().if_contains("namespace");
    if (s && s->is_string() && s->get_string() != ns) return "";
    return n && n->is_string() ? std::string(n->get_string()) : std::string();
  };

  if (*kind == "VirtualMesh") {
    if (!objects) return NotReady("object service");
    if (!name.empty()) {
      auto vm = objects->GetVirtualMesh(ns, name);
      if (!vm.ok()) return Problem(500, vm.error().message);
      if (!vm->has_value()) return not_found();
      return Json(200, api::ToJson(**vm));
    }
    auto vms = objects->ListVirtualMeshes();
    if (!vms.ok()) return Problem(500, vms.error().message);
    return Json(200, List(ToJsonArray(*vms)));
  }
  if (*kind == "AccessPolicy") {
    if (!objects) return NotReady("object service");
    auto aps = objects->ListAccessPolicies();
    if (!aps.ok()) return Problem(500, aps.error().message);
    if (!name.empty()) {
      if (auto ap = FindNamed(*aps, ns, name)) return Json(200, api::ToJson(*ap));
      return not_found();
    }
    return Json(200, List(ToJsonArray(*aps)));
  }
  if (*kind == "Secret") {
    // Redacted by the object service: key material never leaves the hub.
    if (!objects) return NotReady("object service");
    if (!name.empty()) {
      auto secret = objects->GetSecret(ns, name);
      if (!secret.ok()) return Problem(500, secret.error().message);
      if (!secret->has_value()) return not_found();
      return Json(200, api::ToJson(**secret));
    }
    auto secrets = objects->ListSecrets();
    if (!secrets.ok()) return Problem(500, secrets.error().message);
    return Json(200, List(ToJsonArray(*secrets)));
  }
  if (*kind == "Cluster") {
    auto clusters = store.ListClusters();
    if (!clusters.ok()) return Problem(500, clusters.error().message);
    json::array items;
    for (const auto& c : *clusters) items.push_back(api::ToJson(ClusterObject(c, hub_namespace)));
    return one_or_list(std::move(items), metadata_name);
  }
  if (*kind == "Certificate") {
    auto certs = store.ListIssuedCertificates();
    if (!certs.ok()) return Problem(500, certs.error().message);
    json::array items;
    for (const auto& c : *certs) items.push_back(CertificateJson(c));
    return one_or_list(std::move(items),
                       [](const json::value& item) { return std::string(item.as_object().at("serial").as_string()); });
  }
  if (!core) return NotReady("core");
  if (*kind == "Mesh") {
    auto meshes = core->Meshes();
    if (name.empty()) return Json(200, List(ToJsonArray(meshes)));
    if (auto m = FindNamed(meshes, ns, name)) return Json(200, api::ToJson(*m));
    return not_found();
  }
  if (*kind == "Destination") {
    auto destinations = core->Destinations();
    if (name.empty()) return Json(200, List(ToJsonArray(destinations)));
    if (auto d = FindNamed(destinations, ns, name)) return Json(200, api::ToJson(*d));
    return not_found();
  }
  auto workloads = core->Workloads();
  if (name.empty()) return Json(200, List(ToJsonArray(workloads)));
  if (auto w = FindNamed(workloads, ns, name)) return Json(200, api::ToJson(*w));
  return not_found();
}

link::HttpResponse HubRoutes::Preview(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  if (request.method != "POST") return Problem(405, "use POST with a manifest");
  if (!core) return NotReady("core");
  api::DecodeOptions options;
  options.hub_namespace = hub_namespace;
  api::DecodeResult decoded = api::DecodeManifests(request.body, options);
  if (!decoded.ok()) return Problem(400, api::JoinErrors(decoded.errors));
  if (decoded.objects.size() != 1 || !std::holds_alternative<api::v1::VirtualMesh>(decoded.objects[0].object)) {
    return Problem(400, "preview needs a manifest with exactly one VirtualMesh (got " +
                            std::to_string(decoded.objects.size()) + " objects)");
  }
  api::v1::VirtualMesh vm = std::get<api::v1::VirtualMesh>(decoded.objects[0].object);
  // The status computation orders VirtualMeshes by creation; a preview is "as if created now".
  if (vm.metadata().generation() == 0) vm.mutable_metadata()->set_generation(1);
  if (vm.metadata().creation_timestamp().empty())
    vm.mutable_metadata()->set_creation_timestamp(FormatRfc3339(std::chrono::system_clock::now()));
  auto desired = core->Preview(vm);
  if (!desired.ok()) return Problem(400, desired.error().message);
  const std::string key = ObjectKey(vm.metadata().namespace_(), vm.metadata().name());
  json::value status = json::object{};
  for (const auto& s : desired->statuses) {
    if (s.key == key) status = api::ToJson(s.status);
  }
  json::object clusters;
  for (const auto& [cluster, resources] : desired->resources) {
    json::array items;
    for (const auto& r : resources) items.push_back(ResourceJson(*r));
    clusters[cluster] = std::move(items);
  }
  return Json(200, json::object{{"status", std::move(status)}, {"clusters", std::move(clusters)}});
}

link::HttpResponse HubRoutes::RestartMesh(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  if (request.method != "POST") return Problem(405, "use POST with {\"mesh\": \"<mesh name>\"}");
  if (!core) return NotReady("core");
  auto body = ParseObject(request.body);
  if (!body.ok()) return Problem(400, body.error().message);
  const std::string mesh = jsonf::Str(*body, "mesh");
  if (mesh.empty()) return Problem(400, "\"mesh\" is required");
  auto id = core->RequestMeshRestart(mesh);
  if (!id.ok()) return Problem(404, id.error().message);
  return Json(200, json::object{{"requestId", *id}});
}

link::HttpResponse HubRoutes::RotateRoot(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  if (request.method != "POST")
    return Problem(405, "use POST with {\"namespace\": ..., \"name\": ..., \"abort\": false}");
  if (!core) return NotReady("core");
  auto body = ParseObject(request.body);
  if (!body.ok()) return Problem(400, body.error().message);
  const std::string name = jsonf::Str(*body, "name");
  std::string ns = jsonf::Str(*body, "namespace");
  if (name.empty()) return Problem(400, "\"name\" (the VirtualMesh) is required");
  if (ns.empty()) ns = hub_namespace;
  bool abort = false;
  if (const json::value* a = body->if_contains("abort"); a != nullptr && a->is_bool()) abort = a->get_bool();
  const std::string key = ObjectKey(ns, name);
  auto done = abort ? core->AbortRootRotation(key) : core->StartRootRotation(key);
  if (!done.ok()) return Problem(HttpStatusOf(done.error().code, 400), done.error().message);
  return Json(200, json::object{{"message", *done}});
}

link::HttpResponse HubRoutes::Sessions(const link::HttpRequest& request) const {
  if (auto refused = RequireAdmin(request)) return *refused;
  if (request.method != "GET") return Problem(405, "use GET");
  if (!core) return NotReady("core");
  json::array items;
  for (const auto& s : core->Sessions()) items.push_back(SessionJson(s));
  return Json(200, json::object{{"items", std::move(items)}});
}

link::HttpResponse HubRoutes::Api(const link::HttpRequest& request) const {
  const std::string& p = request.path;
  if (p == "/healthz") return Healthz(request);
  if (p == "/readyz") return Readyz(request);
  if (p == "/metrics") return Metrics(request);
  if (p == "/v1/clusters") {
    if (request.method == "GET") return ListClusters(request);
    if (request.method == "POST") return RegisterCluster(request);
    if (auto refused = RequireAdmin(request)) return *refused;
    return Problem(405, "use GET or POST");
  }
  if (p == "/v1/clusters/deregister") return DeregisterCluster(request);
  if (p == "/v1/apply") return Apply(request);
  if (p == "/v1/delete") return DeleteManifest(request);
  if (p == "/v1/preview") return Preview(request);
  if (p == "/v1/meshes/restart") return RestartMesh(request);
  if (p == "/v1/virtualmeshes/rotate-root") return RotateRoot(request);
  if (p == "/v1/sessions") return Sessions(request);
  if (p == "/v1/admin/rotate") return RotateAdmin(request);
  if (p.rfind("/v1/objects/", 0) == 0) return Objects(request);
  if (auto refused = RequireAdmin(request)) return *refused;
  return Problem(404, "no endpoint " + p);
}

void InstallApiRoutes(link::Server& server, const HubRoutes& routes) {
  InstallApiRoutes(server, [&routes](const link::HttpRequest& r) { return routes.Api(r); });
}

void InstallApiRoutes(link::Server& server, std::function<link::HttpResponse(const link::HttpRequest&)> handler) {
  for (const char* open : {"/healthz", "/readyz", "/metrics"}) {
    server.Handle(open, link::HttpRoute{link::ClientCertPolicy::kOptional, handler});
  }
  std::vector<std::string> paths = {"/v1/clusters",     "/v1/clusters/deregister",      "/v1/apply",    "/v1/delete",
                                    "/v1/preview",      "/v1/meshes/restart",           "/v1/sessions", "/v1/objects/",
                                    "/v1/admin/rotate", "/v1/virtualmeshes/rotate-root"};
  for (const auto& kind : KindSpellings()) paths.push_back("/v1/objects/" + kind);
  for (const auto& path : paths) server.Handle(path, link::HttpRoute{link::ClientCertPolicy::kRequired, handler});
}

void InstallAgentRoutes(link::Server& server, const HubRoutes& routes) {
  server.Handle("/v1/bootstrap",
                link::HttpRoute{link::ClientCertPolicy::kOptional,
                                [&routes](const link::HttpRequest& r) { return routes.Bootstrap(r); }});
  if (routes.core) server.Handle("/v1/connect", routes.core->ConnectRoute());
}

}  // namespace vmesh::hub
