#include "e2e/kubesim/api_handler.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <map>

#include "e2e/kubesim/custom_resources.h"
#include "e2e/kubesim/defaulting.h"
#include "e2e/kubesim/json_patch.h"
#include "e2e/kubesim/managed_fields.h"
#include "e2e/kubesim/protobuf_decoder.h"
#include "e2e/kubesim/query_params.h"
#include "e2e/kubesim/table.h"
#include "e2e/kubesim/yaml_json.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

const std::vector<std::string> kResourceVerbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
const std::vector<std::string> kStatusVerbs = {"get", "patch", "update"};

HttpResponse JsonResponse(int status, const json::value& body) {
  return HttpResponse{status, "application/json", json::serialize(body)};
}

HttpResponse ErrorResponse(const ApiError& error) {
  return HttpResponse{error.code, "application/json", StatusBody(error)};
}

json::object StatusObject(const ApiError& error) {
  json::object status{{"kind", "Status"},    {"apiVersion", "v1"},       {"metadata", json::object()},
                      {"status", "Failure"}, {"message", error.message}, {"reason", error.reason},
                      {"code", error.code}};
  if (!error.details_kind.empty() || !error.causes.empty()) {
    json::object details{{"name", error.details_name}, {"group", error.details_group}, {"kind", error.details_kind}};
    json::array causes;
    for (const auto& c : error.causes) {
      causes.push_back(json::object{{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
    }
    if (!causes.empty()) details["causes"] = std::move(causes);
    status["details"] = std::move(details);
  }
  return status;
}

struct ParsedTarget {
  std::vector<std::string> segments;
  QueryParams query;
};

ParsedTarget ParseTarget(std::string_view target) {
  ParsedTarget parsed;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view seg = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!seg.empty()) parsed.segments.push_back(PercentDecode(seg));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  parsed.query = ParseQuery(target);
  return parsed;
}

std::string QueryValue(const QueryParams& query, const std::string& key) {
  auto it = query.find(key);
  return it == query.end() ? std::string() : it->second;
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// The object as served through `type`: apiVersion and kind of the version asked for.
json::object Served(const ResourceType& type, const json::object& stored) {
  json::object out = stored;
  out["apiVersion"] = type.GroupVersion();
  out["kind"] = type.kind;
  return out;
}

json::object ResourceEntry(const ResourceType& t) {
  json::array verbs, short_names, categories;
  for (const auto& v : kResourceVerbs) verbs.push_back(json::string(v));
  for (const auto& s : t.short_names) short_names.push_back(json::string(s));
  for (const auto& c : t.categories) categories.push_back(json::string(c));
  json::object entry{{"name", t.resource}, {"singularName", t.singular}, {"namespaced", t.namespaced}, {"kind", t.kind},
                     {"verbs", verbs},     {"storageVersionHash", ""}};
  if (!short_names.empty()) entry["shortNames"] = short_names;
  if (!categories.empty()) entry["categories"] = categories;
  return entry;
}

struct ResourcePath {
  ResourceTypePtr type;
  std::string ns;
  std::string name;
  std::string subresource;
};

class RequestContext {
 public:
  RequestContext(const ApiHandler& handler, const HttpRequest& request)
      : handler_(handler), request_(request), target_(ParseTarget(request.target)) {}

  HandleResult Handle() {
    HandleResult result = Dispatch();
    if (result.response) {
      for (auto& w : warnings_) result.response->warnings.push_back(std::move(w));
    }
    return result;
  }

 private:
  HandleResult Dispatch() {
    const auto& seg = target_.segments;
    if (seg.size() == 1 && (seg[0] == "healthz" || seg[0] == "readyz" || seg[0] == "livez")) {
      return Respond(HttpResponse{200, "text/plain", "ok"});
    }
    if (!handler_.Authorized(request_)) return Respond(ApiHandler::UnauthorizedResponse());
    if (seg.empty()) return Respond(RootPaths());
    if (seg[0] == "version" && seg.size() == 1) return Respond(Version());
    if (seg[0] == "openapi") return Respond(OpenApi());
    if (seg[0] == "api") {
      if (seg.size() == 1) return Respond(CoreVersions());
      if (seg.size() == 2) return Respond(ResourceList("", seg[1]));
      return Resource("", seg[1], 2);
    }
    if (seg[0] == "apis") {
      if (seg.size() == 1) return Respond(GroupList());
      if (seg.size() == 2) return Respond(Group(seg[1]));
      if (seg.size() == 3) return Respond(ResourceList(seg[1], seg[2]));
      return Resource(seg[1], seg[2], 3);
    }
    return Respond(NotFound());
  }

  static HandleResult Respond(HttpResponse response) { return HandleResult{std::move(response), std::nullopt}; }

  HttpResponse NotFound() const {
    return ErrorResponse(ApiError{404, "NotFound", "the server could not find the requested resource"});
  }

  HttpResponse RootPaths() const {
    json::array paths = {"/api", "/api/v1", "/apis", "/openapi/v2", "/openapi/v3", "/version"};
    for (const auto& group : handler_.registry().Groups()) {
      if (group.empty()) continue;
      paths.push_back(json::string("/apis/" + group));
      for (const auto& version : handler_.registry().Versions(group)) {
        paths.push_back(json::string("/apis/" + group + "/" + version));
      }
    }
    return JsonResponse(200, json::object{{"paths", paths}});
  }

  HttpResponse Version() const {
    return JsonResponse(200, json::object{{"major", "1"},
                                          {"minor", "32"},
                                          {"gitVersion", handler_.info().git_version},
                                          {"gitCommit", "0000000000000000000000000000000000000000"},
                                          {"gitTreeState", "clean"},
                                          {"buildDate", "2026-01-01T00:00:00Z"},
                                          {"goVersion", "go1.23.0"},
                                          {"compiler", "gc"},
                                          {"platform", "linux/amd64"}});
  }

  // kubectl 1.32 needs both documents to answer 200 (SPEC §11). An empty v3 index makes it skip
  // server-side field validation; an empty protobuf v2 document is a valid, empty schema.
  HttpResponse OpenApi() const {
    const auto& seg = target_.segments;
    if (seg.size() == 2 && seg[1] == "v2") return HttpResponse{200, "application/octet-stream", ""};
    if (seg.size() == 2 && seg[1] == "v3") return JsonResponse(200, json::object{{"paths", json::object()}});
    return NotFound();
  }

  HttpResponse CoreVersions() const {
    return JsonResponse(200, json::object{{"kind", "APIVersions"},
                                          {"versions", json::array{"v1"}},
                                          {"serverAddressByClientCIDRs", json::array()}});
  }

  json::object GroupEntry(const std::string& group) const {
    json::array versions;
    for (const auto& v : handler_.registry().Versions(group)) {
      versions.push_back(json::object{{"groupVersion", group + "/" + v}, {"version", v}});
    }
    json::object entry{{"name", group}, {"versions", versions}};
    if (!versions.empty()) entry["preferredVersion"] = versions[0];
    return entry;
  }

  HttpResponse GroupList() const {
    json::array groups;
    for (const auto& group : handler_.registry().Groups()) {
      if (!group.empty()) groups.push_back(GroupEntry(group));
    }
    return JsonResponse(200, json::object{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}});
  }

  HttpResponse Group(const std::string& group) const {
    if (handler_.registry().Versions(group).empty()) return NotFound();
    json::object body = GroupEntry(group);
    body["kind"] = "APIGroup";
    body["apiVersion"] = "v1";
    return JsonResponse(200, body);
  }

  HttpResponse ResourceList(const std::string& group, const std::string& version) const {
    json::array resources;
    for (const auto& type : handler_.registry().types()) {
      const ResourceType& t = *type;
      if (t.group != group || t.version != version) continue;
      resources.push_back(ResourceEntry(t));
      if (t.has_scale) {
        json::array verbs;
        for (const auto& v : kStatusVerbs) verbs.push_back(json::string(v));
        resources.push_back(json::object{{"name", t.resource + "/scale"},
                                         {"singularName", ""},
                                         {"namespaced", t.namespaced},
                                         {"group", "autoscaling"},
                                         {"version", "v1"},
                                         {"kind", "Scale"},
                                         {"verbs", verbs}});
      }
      if (t.has_status) {
        json::array verbs;
        for (const auto& v : kStatusVerbs) verbs.push_back(json::string(v));
        resources.push_back(json::object{{"name", t.resource + "/status"},
                                         {"singularName", ""},
                                         {"namespaced", t.namespaced},
                                         {"kind", t.kind},
                                         {"verbs", verbs}});
      }
    }
    if (resources.empty()) return NotFound();
    return JsonResponse(200, json::object{{"kind", "APIResourceList"},
                                          {"apiVersion", "v1"},
                                          {"groupVersion", group.empty() ? version : group + "/" + version},
                                          {"resources", resources}});
  }

  // Resolves segments[from...] after /api/v1 or /apis/<group>/<version>:
  //   <resource>[/<name>[/<sub>]] or namespaces/<ns>/<resource>[/<name>[/<sub>]].
  std::optional<ResourcePath> ResolvePath(const std::string& group, const std::string& version, size_t from) const {
    const auto& seg = target_.segments;
    std::vector<std::string> rest(seg.begin() + static_cast<ptrdiff_t>(from), seg.end());
    ResourcePath path;
    if (rest.size() >= 3 && rest[0] == "namespaces") {
      ResourceTypePtr t = handler_.registry().Find(group, version, rest[2]);
      if (t != nullptr && t->namespaced) {
        path.type = t;
        path.ns = rest[1];
        rest.erase(rest.begin(), rest.begin() + 3);
        if (rest.size() > 2) return std::nullopt;
        if (!rest.empty()) path.name = rest[0];
        if (rest.size() == 2) path.subresource = rest[1];
        return path;
      }
    }
    path.type = handler_.registry().Find(group, version, rest[0]);
    if (path.type == nullptr || rest.size() > 3) return std::nullopt;
    if (rest.size() >= 2) {
      if (path.type->namespaced) return std::nullopt;  // a namespaced object needs its namespace
      path.name = rest[1];
    }
    if (rest.size() == 3) path.subresource = rest[2];
    return path;
  }

  HandleResult Resource(const std::string& group, const std::string& version, size_t from) {
    auto path = ResolvePath(group, version, from);
    if (!path) return Respond(NotFound());
    HandleResult result = ResourceRequest(*path);
    // A written CustomResourceDefinition is served (or no longer served) before the client hears back.
    if (IsCustomResourceDefinitionType(*path->type) && request_.method != "GET" && result.response &&
        result.response->status < 300) {
      std::string name = path->name;
      if (name.empty()) {
        json::error_code ec;
        json::value body = json::parse(result.response->body, ec);
        if (const json::value* md = !ec && body.is_object() ? body.get_object().if_contains("metadata") : nullptr;
            md && md->is_object()) {
          if (const json::value* n = md->get_object().if_contains("name"); n && n->is_string()) name = n->get_string();
        }
      }
      if (!name.empty()) SyncCustomResourceDefinition(handler_.registry(), handler_.store(), name);
    }
    return result;
  }

  HandleResult ResourceRequest(const ResourcePath& path) {
    const bool status = path.subresource == "status" && path.type->has_status;
    const bool scale = path.subresource == "scale" && path.type->has_scale;
    if (!path.subresource.empty() && !status && !scale) return Respond(NotFound());
    if (scale && !path.name.empty()) {
      if (request_.method == "GET") return Respond(GetScale(path));
      if (request_.method == "PUT" || request_.method == "PATCH") return Respond(UpdateScale(path));
      return Respond(MethodNotAllowed());
    }
    const std::string& method = request_.method;
    if (path.name.empty()) {
      if (method == "GET") {
        if (IsWatchQuery(target_.query)) return Watch(path);
        return Respond(List(path));
      }
      if (method == "POST") return Respond(Create(path));
      return Respond(MethodNotAllowed());
    }
    if (method == "GET") return Respond(Get(path));
    if (method == "PUT") return Respond(Update(path));
    if (method == "PATCH") return Respond(Patch(path));
    if (method == "DELETE" && path.subresource.empty()) return Respond(Delete(path));
    return Respond(MethodNotAllowed());
  }

  HttpResponse MethodNotAllowed() const {
    return ErrorResponse(
        ApiError{405, "MethodNotAllowed", "the server does not allow this method on the requested resource"});
  }

  // The write's options (query_params.h): dryRun=All means computed, not stored.
  ApiResult<Commit> CommitMode(WriteVerb verb) const {
    auto params = ParseWriteParams(target_.query, verb);
    if (!params.ok()) return params.error();
    return params->dry_run ? Commit::kDryRun : Commit::kYes;
  }

  // ListOptions from the query (query_params.h) and the resourceVersion as a number ("" and "0": none).
  struct ParsedList {
    ListParams params;
    std::optional<uint64_t> resource_version;
  };
  ApiResult<ParsedList> ParseList() const {
    auto params = ParseListParams(target_.query);
    if (!params.ok()) return params.error();
    ParsedList parsed{std::move(*params), std::nullopt};
    const std::string& rv = parsed.params.resource_version;
    if (!rv.empty() && rv != "0") {
      auto n = ParseUint(rv);
      if (!n) {
        return BadRequestError("resourceVersion: Invalid value: \"" + rv + "\": strconv.ParseUint: parsing \"" + rv +
                               "\": invalid syntax");
      }
      parsed.resource_version = *n;
    }
    return parsed;
  }

  // LIST: resourceVersion unset, "0" or with NotOlderThan serves the current state (never older than
  // any version this store handed out); with Exact, the state at that version.
  HttpResponse List(const ResourcePath& path) const {
    auto parsed = ParseList();
    if (!parsed.ok()) return ErrorResponse(parsed.error());
    const ListParams& params = parsed->params;
    ListOptions options;
    options.labels = params.labels;
    options.fields = params.fields;
    options.limit = params.limit > 0 ? static_cast<size_t>(params.limit) : 0;
    options.continue_token = params.continue_token;
    if (params.resource_version_match == "Exact") options.exact_resource_version = parsed->resource_version;
    auto list = handler_.store().List(*path.type, path.ns, options);
    if (!list.ok()) return ErrorResponse(list.error());
    if (WantsTable(request_.accept)) {
      json::object table = RenderTable(*path.type, list->items, std::chrono::system_clock::now());
      json::object& metadata = table["metadata"].get_object();
      metadata["resourceVersion"] = std::to_string(list->resource_version);
      if (!list->continue_token.empty()) {
        metadata["continue"] = list->continue_token;
        metadata["remainingItemCount"] = *list->remaining_item_count;
      }
      return JsonResponse(200, table);
    }
    json::array items;
    for (const auto& item : list->items) items.push_back(Served(*path.type, *item));
    json::object metadata{{"resourceVersion", std::to_string(list->resource_version)}};
    if (!list->continue_token.empty()) {
      metadata["continue"] = list->continue_token;
      metadata["remainingItemCount"] = *list->remaining_item_count;
    }
    return JsonResponse(200, json::object{{"kind", path.type->kind + "List"},
                                          {"apiVersion", path.type->GroupVersion()},
                                          {"metadata", metadata},
                                          {"items", items}});
  }

  // WATCH. Without sendInitialEvents: resourceVersion unset or "0" starts with the current objects as
  // ADDED events, another one starts after that version. With sendInitialEvents (resourceVersionMatch
  // NotOlderThan, validated by ParseListParams): true sends the current objects (at least as new as the
  // version) then, with allowWatchBookmarks, a BOOKMARK annotated k8s.io/initial-events-end; false starts
  // after the version given, or now.
  HandleResult Watch(const ResourcePath& path) const {
    auto parsed = ParseList();
    if (!parsed.ok()) return Respond(ErrorResponse(parsed.error()));
    const ListParams& params = parsed->params;
    WatchRequest watch;
    watch.type = path.type;
    watch.ns = path.ns;
    watch.labels = params.labels;
    watch.fields = params.fields;
    watch.allow_bookmarks = params.allow_watch_bookmarks;
    if (params.send_initial_events) {
      watch.initial_events = *params.send_initial_events;
      watch.initial_events_end_bookmark = *params.send_initial_events && params.allow_watch_bookmarks;
      if (!watch.initial_events) watch.resource_version = parsed->resource_version;
    } else {
      watch.resource_version = parsed->resource_version;
      watch.initial_events = !parsed->resource_version;
    }
    watch.as_table = WantsTable(request_.accept);
    // kube-apiserver picks a random timeout when none is given; kubesim keeps 30 minutes. A negative
    // timeoutSeconds counts as none.
    if (params.timeout_seconds && *params.timeout_seconds > 0) {
      watch.timeout = std::chrono::seconds(*params.timeout_seconds);
    }
    return HandleResult{std::nullopt, std::move(watch)};
  }

  HttpResponse Get(const ResourcePath& path) const {
    auto object = handler_.store().Get(*path.type, path.ns, path.name);
    if (!object.ok()) return ErrorResponse(object.error());
    if (WantsTable(request_.accept)) {
      return JsonResponse(200, RenderTable(*path.type, {*object}, std::chrono::system_clock::now()));
    }
    return JsonResponse(200, Served(*path.type, **object));
  }

  // Parses a JSON request body, or a protobuf one of the kinds kubectl's typed clients create (they send
  // protobuf and do not fall back to JSON).
  ApiResult<json::value> ParseBody() const {
    std::string content_type = request_.content_type.substr(0, request_.content_type.find(';'));
    if (content_type == "application/vnd.kubernetes.protobuf") {
      auto decoded = DecodeKubernetesProtobuf(request_.body);
      if (!decoded.ok()) return ApiError{415, "UnsupportedMediaType", decoded.error().message};
      return json::value(std::move(*decoded));
    }
    if (!content_type.empty() && content_type != "application/json" && !content_type.ends_with("+json")) {
      return ApiError{415, "UnsupportedMediaType",
                      "the body of the request was in an unknown format - accepted media types include: "
                      "application/json, application/vnd.kubernetes.protobuf"};
    }
    json::error_code ec;
    json::value body = json::parse(request_.body, ec);
    if (ec) return BadRequestError("the request body is not valid JSON: " + ec.message());
    return body;
  }

  // Checks apiVersion/kind/namespace of a body sent for `path`, and fills in apiVersion and kind.
  ApiResult<json::object> CheckBody(const ResourcePath& path, json::value body) const {
    if (!body.is_object()) return BadRequestError("the request body must be a JSON object");
    json::object& object = body.get_object();
    const ResourceType& type = *path.type;
    if (auto it = object.find("apiVersion"); it != object.end() && it->value() != type.GroupVersion().c_str()) {
      return BadRequestError("the API version in the data (" + json::serialize(it->value()) +
                             ") does not match the expected API version (" + type.GroupVersion() + ")");
    }
    if (auto it = object.find("kind"); it != object.end() && it->value() != type.kind.c_str()) {
      return BadRequestError("the kind in the data (" + json::serialize(it->value()) +
                             ") does not match the expected kind (" + type.kind + ")");
    }
    object["apiVersion"] = type.GroupVersion();
    object["kind"] = type.kind;
    ApplyDefaults(type, object);
    if (auto md = object.find("metadata"); md != object.end() && md->value().is_object() && type.namespaced) {
      auto ns = md->value().get_object().find("namespace");
      if (ns != md->value().get_object().end() && ns->value().is_string() && !ns->value().get_string().empty() &&
          ns->value().get_string() != path.ns) {
        return BadRequestError(
            "the namespace of the provided object does not match the namespace sent on the "
            "request");
      }
    }
    return std::move(object);
  }

  // What kube-apiserver checks of an object's contents before it stores `next` (`current`: the stored object,
  // null on create): a CustomResourceDefinition must be valid; a custom resource is pruned and defaulted
  // (unknown fields fail a Strict write or become warnings) and then validated as it will be stored — for
  // /status the stored object with the new status, otherwise the new object with the stored status.
  std::optional<ApiError> CheckContents(const ResourcePath& path, const json::object* current,
                                        json::object& next) const {
    const ResourceType& type = *path.type;
    if (IsCustomResourceDefinitionType(type) && path.subresource.empty()) {
      if (auto types = CustomResourceTypes(next); !types.ok()) return types.error();
    }
    if (type.schema == nullptr) return std::nullopt;
    if (auto error = PruneCustomResource(type, next, ParseFieldValidation(QueryValue(target_.query, "fieldValidation")),
                                         warnings_)) {
      return error;
    }
    if (current == nullptr) return ValidateCustomResource(type, next);
    const bool status_write = path.subresource == "status";
    json::object effective = status_write ? *current : next;
    if (status_write || type.has_status) {
      const json::object& source = status_write ? next : *current;
      if (const json::value* status = source.if_contains("status")) {
        effective["status"] = *status;
      } else {
        effective.erase("status");
      }
    }
    return ValidateCustomResource(type, effective);
  }

  // A custom resource created while its CRD was being deleted: the deletion removes the kind from the
  // registry, then deletes the objects it finds; one created after that removal is taken back here, so none
  // outlives its CRD. Returns the NotFound error then.
  std::optional<ApiError> UnlessStillServed(const ResourcePath& path, const json::object& created,
                                            Commit commit) const {
    const ResourceType& type = *path.type;
    if (type.crd_name.empty() || handler_.registry().Find(type.group, type.version, type.resource) != nullptr) {
      return std::nullopt;
    }
    const json::value* name = created.at("metadata").get_object().if_contains("name");
    if (commit == Commit::kYes && name != nullptr && name->is_string()) {
      (void)handler_.store().Delete(type, path.ns, std::string(name->get_string()));
    }
    return ApiError{404, "NotFound", "the server could not find the requested resource"};
  }

  HttpResponse Create(const ResourcePath& path) const {
    auto commit = CommitMode(WriteVerb::kCreate);
    if (!commit.ok()) return ErrorResponse(commit.error());
    auto body = ParseBody();
    if (!body.ok()) return ErrorResponse(body.error());
    auto object = CheckBody(path, std::move(*body));
    if (!object.ok()) return ErrorResponse(object.error());
    if (auto md = object->find("metadata"); md != object->end() && md->value().is_object()) {
      md->value().get_object().erase("resourceVersion");
    }
    // As in Kubernetes, kinds with a status subresource start without status; controllers write it.
    if (path.type->has_status && !(path.type->group.empty() && path.type->resource == "namespaces")) {
      object->erase("status");
    }
    if (auto error = CheckContents(path, nullptr, *object)) return ErrorResponse(*error);
    RecordUpdate(*path.type, nullptr, *object, FieldManager());
    auto created = handler_.store().Create(*path.type, path.ns, std::move(*object), *commit);
    if (!created.ok()) return ErrorResponse(created.error());
    if (auto gone = UnlessStillServed(path, **created, *commit)) return ErrorResponse(*gone);
    return JsonResponse(201, Served(*path.type, **created));
  }

  // Records field ownership for an update from `current` to `next`. A request that sets managedFields
  // itself (kubectl's client-side to server-side apply migration does) gets them as written; one that
  // leaves them out keeps the stored ones.
  void RecordWrite(const ResourcePath& path, const json::object& current, json::object& next) const {
    auto managed = [](const json::object& o) -> const json::value* {
      const json::value* md = o.if_contains("metadata");
      return md && md->is_object() ? md->get_object().if_contains("managedFields") : nullptr;
    };
    const json::value* wanted = managed(next);
    const json::value* stored = managed(current);
    if (wanted && !(stored && *wanted == *stored)) return;
    if (stored) {
      next["metadata"].get_object()["managedFields"] = *stored;
    }
    RecordUpdate(*path.type, &current, next, FieldManager());
  }

  // The manager that field ownership is recorded for: the fieldManager parameter, else the client's
  // name from its User-Agent, as Kubernetes does.
  std::string FieldManager() const {
    std::string manager = QueryValue(target_.query, "fieldManager");
    if (manager.empty()) manager = request_.user_agent.substr(0, request_.user_agent.find('/'));
    return manager.empty() ? "unknown" : manager;
  }

  UpdateScope Scope(const ResourcePath& path) const {
    return path.subresource == "status" ? UpdateScope::kStatus : UpdateScope::kMain;
  }

  HttpResponse Update(const ResourcePath& path) const {
    auto commit = CommitMode(WriteVerb::kUpdate);
    if (!commit.ok()) return ErrorResponse(commit.error());
    auto body = ParseBody();
    if (!body.ok()) return ErrorResponse(body.error());
    auto object = CheckBody(path, std::move(*body));
    if (!object.ok()) return ErrorResponse(object.error());
    auto updated = handler_.store().Mutate(
        *path.type, path.ns, path.name,
        [&](const json::object& current) -> ApiResult<json::object> {
          json::object next = *object;
          if (auto error = CheckContents(path, &current, next)) return *error;
          RecordWrite(path, current, next);
          return next;
        },
        Scope(path), *commit);
    if (!updated.ok()) return ErrorResponse(updated.error());
    return JsonResponse(200, Served(*path.type, **updated));
  }

  HttpResponse Patch(const ResourcePath& path) const {
    std::string content_type = request_.content_type.substr(0, request_.content_type.find(';'));
    if (content_type == "application/apply-patch+yaml") return Apply(path);
    auto commit = CommitMode(WriteVerb::kPatch);
    if (!commit.ok()) return ErrorResponse(commit.error());
    const bool merge = content_type == "application/merge-patch+json";
    const bool strategic = content_type == "application/strategic-merge-patch+json";
    const bool json_patch = content_type == "application/json-patch+json";
    if (!merge && !strategic && !json_patch) {
      return ErrorResponse(ApiError{415, "UnsupportedMediaType",
                                    "the body of the request was in an unknown format - accepted media types "
                                    "include: application/json-patch+json, application/merge-patch+json, "
                                    "application/strategic-merge-patch+json, application/apply-patch+yaml"});
    }
    auto patch = ParseBody();
    if (!patch.ok()) return ErrorResponse(patch.error());
    if (!json_patch && !patch->is_object()) return ErrorResponse(BadRequestError("the patch must be a JSON object"));
    const bool use_strategic = strategic && path.type->builtin;  // custom resources: strategic means merge
    auto patched = handler_.store().Mutate(
        *path.type, path.ns, path.name,
        [&](const json::object& current) -> ApiResult<json::object> {
          json::value result;
          if (json_patch) {
            auto patched = ApplyJsonPatch(current, *patch);
            if (!patched.ok()) return ApiError{422, "Invalid", patched.error().message};
            result = std::move(*patched);
          } else if (use_strategic) {
            auto merged = ApplyStrategicMergePatch(current, *patch);
            if (!merged.ok()) return BadRequestError(merged.error().message);
            result = std::move(*merged);
          } else {
            result = ApplyMergePatch(current, *patch);
          }
          auto checked = CheckBody(path, std::move(result));
          if (!checked.ok()) return checked;
          if (auto error = CheckContents(path, &current, *checked)) return *error;
          RecordWrite(path, current, *checked);
          return checked;
        },
        Scope(path), *commit);
    if (!patched.ok()) return ErrorResponse(patched.error());
    return JsonResponse(200, Served(*path.type, **patched));
  }

  // Server-side apply: creates the object or merges the configuration in, with field ownership.
  HttpResponse Apply(const ResourcePath& path) const {
    auto params = ParseWriteParams(target_.query, WriteVerb::kApply);
    if (!params.ok()) return ErrorResponse(params.error());
    const Commit commit = params->dry_run ? Commit::kDryRun : Commit::kYes;
    const std::string& manager = params->field_manager;
    const bool force = params->force.value_or(false);
    auto documents = ParseYamlDocuments(request_.body);
    if (!documents.ok()) return ErrorResponse(BadRequestError(documents.error().message));
    if (documents->size() != 1 || !(*documents)[0].is_object()) {
      return ErrorResponse(BadRequestError("an apply patch must be exactly one object"));
    }
    json::object intent = std::move((*documents)[0].get_object());
    for (const char* required : {"apiVersion", "kind"}) {
      if (!intent.contains(required)) {
        return ErrorResponse(BadRequestError(std::string(required) + " must be set in an apply patch"));
      }
    }
    // Checked like any body, but applied as sent: defaults are the server's, not the applier's.
    if (auto checked = CheckBody(path, intent); !checked.ok()) return ErrorResponse(checked.error());
    if (auto md = intent.find("metadata"); md != intent.end() && md->value().is_object()) {
      json::object& metadata = md->value().get_object();
      if (auto name = metadata.find("name"); name != metadata.end() && name->value() != path.name.c_str()) {
        return ErrorResponse(BadRequestError("the name of the object (" + json::serialize(name->value()) +
                                             ") does not match the name on the URL (" + path.name + ")"));
      }
      metadata.erase("resourceVersion");
      metadata.erase("managedFields");
    }

    for (int attempt = 0; attempt < 2; ++attempt) {
      auto existing = handler_.store().Get(*path.type, path.ns, path.name);
      if (existing.ok()) {
        auto applied = handler_.store().Mutate(
            *path.type, path.ns, path.name,
            [&](const json::object& current) -> ApiResult<json::object> {
              auto result = ServerSideApply(*path.type, &current, intent, manager, force);
              if (!result.ok()) return result.error();
              auto checked = CheckBody(path, std::move(*result));
              if (!checked.ok()) return checked;
              if (auto error = CheckContents(path, &current, *checked)) return *error;
              return checked;
            },
            Scope(path), commit);
        if (!applied.ok()) return ErrorResponse(applied.error());
        return JsonResponse(200, Served(*path.type, **applied));
      }
      if (path.subresource == "status") return ErrorResponse(existing.error());  // status of nothing
      auto result = ServerSideApply(*path.type, nullptr, intent, manager, force);
      if (!result.ok()) return ErrorResponse(result.error());
      auto object = CheckBody(path, std::move(*result));
      if (!object.ok()) return ErrorResponse(object.error());
      (*object)["metadata"].get_object()["name"] = path.name;
      if (path.type->has_status) object->erase("status");
      if (auto error = CheckContents(path, nullptr, *object)) return ErrorResponse(*error);
      auto created = handler_.store().Create(*path.type, path.ns, std::move(*object), commit);
      if (created.ok()) {
        if (auto gone = UnlessStillServed(path, **created, commit)) return ErrorResponse(*gone);
        return JsonResponse(201, Served(*path.type, **created));
      }
      if (created.error().reason != "AlreadyExists") return ErrorResponse(created.error());
    }
    return ErrorResponse(ConflictError(path.type->QualifiedResource(), path.name));
  }

  // The autoscaling/v1 Scale view of an object with spec.replicas.
  static json::object ScaleOf(const json::object& object) {
    const json::object& metadata = object.at("metadata").get_object();
    json::object scale_metadata;
    for (const char* key : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
      if (auto it = metadata.find(key); it != metadata.end()) scale_metadata[key] = it->value();
    }
    int64_t replicas = 0, observed = 0;
    std::string selector;
    if (auto spec = object.find("spec"); spec != object.end() && spec->value().is_object()) {
      const json::object& s = spec->value().get_object();
      if (auto r = s.find("replicas"); r != s.end() && r->value().is_int64()) replicas = r->value().get_int64();
      if (auto sel = s.find("selector"); sel != s.end() && sel->value().is_object()) {
        if (auto ml = sel->value().get_object().find("matchLabels");
            ml != sel->value().get_object().end() && ml->value().is_object()) {
          for (const auto& [k, v] : ml->value().get_object()) {
            if (!selector.empty()) selector += ",";
            selector += std::string(k) + "=" + (v.is_string() ? std::string(v.get_string()) : json::serialize(v));
          }
        }
      }
    }
    if (auto st = object.find("status"); st != object.end() && st->value().is_object()) {
      if (auto r = st->value().get_object().find("replicas");
          r != st->value().get_object().end() && r->value().is_int64()) {
        observed = r->value().get_int64();
      }
    }
    return json::object{{"kind", "Scale"},
                        {"apiVersion", "autoscaling/v1"},
                        {"metadata", scale_metadata},
                        {"spec", json::object{{"replicas", replicas}}},
                        {"status", json::object{{"replicas", observed}, {"selector", selector}}}};
  }

  HttpResponse GetScale(const ResourcePath& path) const {
    auto object = handler_.store().Get(*path.type, path.ns, path.name);
    if (!object.ok()) return ErrorResponse(object.error());
    return JsonResponse(200, ScaleOf(**object));
  }

  // PUT or PATCH of /scale: only spec.replicas of the target changes.
  HttpResponse UpdateScale(const ResourcePath& path) const {
    auto commit = CommitMode(request_.method == "PUT" ? WriteVerb::kUpdate : WriteVerb::kPatch);
    if (!commit.ok()) return ErrorResponse(commit.error());
    std::string content_type = request_.content_type.substr(0, request_.content_type.find(';'));
    const bool put = request_.method == "PUT";
    if (!put && content_type != "application/merge-patch+json" &&
        content_type != "application/strategic-merge-patch+json") {
      return ErrorResponse(ApiError{415, "UnsupportedMediaType",
                                    "the body of the request was in an unknown format - accepted media types "
                                    "include: application/merge-patch+json, application/strategic-merge-patch+json"});
    }
    json::error_code ec;
    json::value body = json::parse(request_.body, ec);
    if (ec || !body.is_object()) return ErrorResponse(BadRequestError("the Scale body must be a JSON object"));
    auto updated = handler_.store().Mutate(
        *path.type, path.ns, path.name,
        [&](const json::object& current) -> ApiResult<json::object> {
          json::object current_scale = ScaleOf(current);
          json::value scale = put ? body : ApplyMergePatch(current_scale, body);
          const json::value* rv = nullptr;
          if (auto md = scale.get_object().find("metadata");
              md != scale.get_object().end() && md->value().is_object()) {
            auto it = md->value().get_object().find("resourceVersion");
            if (it != md->value().get_object().end() && it->value().is_string() && !it->value().get_string().empty()) {
              rv = &it->value();
            }
          }
          if (rv && *rv != current_scale["metadata"].get_object()["resourceVersion"]) {
            return ConflictError(path.type->QualifiedResource(), path.name);
          }
          const json::value* replicas = nullptr;
          if (auto spec = scale.get_object().find("spec");
              spec != scale.get_object().end() && spec->value().is_object()) {
            if (auto r = spec->value().get_object().find("replicas"); r != spec->value().get_object().end()) {
              replicas = &r->value();
            }
          }
          if (!replicas || !replicas->is_int64() || replicas->get_int64() < 0) {
            return InvalidError("Scale.autoscaling \"" + path.name +
                                "\" is invalid: spec.replicas: Invalid value: must be a non-negative integer");
          }
          json::object next = current;
          if (!next["spec"].is_object()) next["spec"] = json::object();
          next["spec"].get_object()["replicas"] = replicas->get_int64();
          next["metadata"].get_object().erase("resourceVersion");
          if (auto error = CheckContents(path, &current, next)) return *error;  // a custom resource's maximum
          RecordUpdate(*path.type, &current, next, FieldManager());
          return next;
        },
        UpdateScope::kMain, *commit);
    if (!updated.ok()) return ErrorResponse(updated.error());
    return JsonResponse(200, ScaleOf(**updated));
  }

  HttpResponse Delete(const ResourcePath& path) const {
    auto commit = CommitMode(WriteVerb::kDelete);
    if (!commit.ok()) return ErrorResponse(commit.error());
    DeletePreconditions preconditions;
    if (!request_.body.empty()) {
      // JSON (kubectl) or protobuf (typed clients such as helm's release storage).
      auto parsed = ParseBody();
      if (!parsed.ok()) return ErrorResponse(parsed.error());
      const json::value& options = *parsed;
      if (options.is_object()) {
        // kubectl sends dryRun in the DeleteOptions body rather than the query.
        if (const json::value* dry_run = options.get_object().if_contains("dryRun"); dry_run && dry_run->is_array()) {
          for (const auto& v : dry_run->get_array()) {
            if (v != "All") {
              return ErrorResponse(
                  InvalidError("DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: "
                               "[]string{" +
                               json::serialize(v) + "}: supported values: \"All\""));
            }
            *commit = Commit::kDryRun;
          }
        }
        if (auto pre = options.get_object().find("preconditions");
            pre != options.get_object().end() && pre->value().is_object()) {
          const json::object& p = pre->value().get_object();
          if (auto uid = p.find("uid"); uid != p.end() && uid->value().is_string()) {
            preconditions.uid = std::string(uid->value().get_string());
          }
          if (auto rv = p.find("resourceVersion"); rv != p.end() && rv->value().is_string()) {
            preconditions.resource_version = std::string(rv->value().get_string());
          }
        }
      }
    }
    auto deleted = handler_.store().Delete(*path.type, path.ns, path.name, preconditions, *commit);
    if (!deleted.ok()) return ErrorResponse(deleted.error());
    const json::object& metadata = (*deleted)->at("metadata").get_object();
    json::object details{{"name", path.name}, {"group", path.type->group}, {"kind", path.type->resource}};
    if (auto uid = metadata.find("uid"); uid != metadata.end()) details["uid"] = uid->value();
    return JsonResponse(200, json::object{{"kind", "Status"},
                                          {"apiVersion", "v1"},
                                          {"metadata", json::object()},
                                          {"status", "Success"},
                                          {"details", details}});
  }

  const ApiHandler& handler_;
  const HttpRequest& request_;
  ParsedTarget target_;
  mutable std::vector<std::string> warnings_;  // Warning headers of the response
};

}  // namespace

bool ApiHandler::Authorized(const HttpRequest& request) const {
  return info_.token.empty() || request.authorization == "Bearer " + info_.token;
}

HttpResponse ApiHandler::UnauthorizedResponse() { return ErrorResponse(ApiError{401, "Unauthorized", "Unauthorized"}); }

std::string StatusBody(const ApiError& error) { return json::serialize(StatusObject(error)); }

ApiHandler::ApiHandler(ResourceRegistry& registry, ObjectStore& store, ServerInfo info)
    : registry_(registry), store_(store), info_(std::move(info)) {}

HandleResult ApiHandler::Handle(const HttpRequest& request) const { return RequestContext(*this, request).Handle(); }

WatchStream::WatchStream(ObjectStore& store, WatchRequest request) : store_(store), request_(std::move(request)) {}

std::string WatchStream::Line(const char* type, const json::object& object) const {
  if (request_.as_table) {
    auto shared = std::make_shared<const json::object>(object);
    json::object table = RenderTable(*request_.type, {shared}, std::chrono::system_clock::now());
    if (const json::value* md = object.if_contains("metadata"); md && md->is_object()) {
      if (const json::value* rv = md->get_object().if_contains("resourceVersion")) {
        table["metadata"].get_object()["resourceVersion"] = *rv;
      }
    }
    return json::serialize(json::object{{"type", type}, {"object", std::move(table)}}) + "\n";
  }
  return json::serialize(json::object{{"type", type}, {"object", Served(*request_.type, object)}}) + "\n";
}

std::vector<std::string> WatchStream::Start() {
  std::vector<std::string> lines;
  if (!request_.initial_events) {
    delivered_through_ = request_.resource_version ? *request_.resource_version : store_.resource_version();
  } else {
    ListOptions options;
    options.labels = request_.labels;
    options.fields = request_.fields;
    // A list fails only on a bad continue token, and this one has none.
    auto list = store_.List(*request_.type, request_.ns, options);
    if (list.ok()) {
      for (const auto& item : list->items) lines.push_back(Line("ADDED", *item));
      delivered_through_ = list->resource_version;
    }
    if (request_.initial_events_end_bookmark) lines.push_back(BookmarkLine(true));
  }
  for (auto& line : Poll()) lines.push_back(std::move(line));
  return lines;
}

std::vector<std::string> WatchStream::Poll() {
  std::vector<std::string> lines;
  if (done_) return lines;
  auto batch = store_.EventsSince(*request_.type, request_.ns, delivered_through_);
  if (!batch.ok()) {
    done_ = true;
    lines.push_back(json::serialize(json::object{{"type", "ERROR"}, {"object", StatusObject(batch.error())}}) + "\n");
    return lines;
  }
  auto matches = [this](const ObjectPtr& object) {
    return object && request_.labels.MatchesObject(*object) && request_.fields.MatchesObject(*object);
  };
  for (const auto& event : batch->events) {
    const bool now_matches = matches(event.object);
    if (event.type != EventType::kModified) {
      if (now_matches) lines.push_back(Line(EventTypeName(event.type), *event.object));
      continue;
    }
    // As kube-apiserver does for filtered watches: an object that starts matching is ADDED, one that
    // stops matching is DELETED (with its new state).
    const bool matched = matches(event.previous);
    if (matched && now_matches) {
      lines.push_back(Line("MODIFIED", *event.object));
    } else if (now_matches) {
      lines.push_back(Line("ADDED", *event.object));
    } else if (matched) {
      lines.push_back(Line("DELETED", *event.object));
    }
  }
  delivered_through_ = batch->through;
  return lines;
}

std::string WatchStream::BookmarkLine(bool initial_events_end) const {
  json::object metadata{{"resourceVersion", std::to_string(delivered_through_)}};
  if (initial_events_end) metadata["annotations"] = json::object{{"k8s.io/initial-events-end", "true"}};
  json::object object{
      {"apiVersion", request_.type->GroupVersion()}, {"kind", request_.type->kind}, {"metadata", std::move(metadata)}};
  return json::serialize(json::object{{"type", "BOOKMARK"}, {"object", object}}) + "\n";
}

}  // namespace vmesh::kubesim
