#include "agent/runtime/state_objects.h"

#include <boost/json.hpp>

#include "common/base/base64.h"

namespace vmesh::agent {
namespace {

namespace json = boost::json;

const char* KindName(StateKind kind) { return kind == StateKind::kSecret ? "Secret" : "ConfigMap"; }
const char* Resource(StateKind kind) { return kind == StateKind::kSecret ? "secrets" : "configmaps"; }

}  // namespace

boost::asio::awaitable<Status> EnsureNamespace(kube::KubeClient& client, std::string ns) {
  auto got = co_await client.Get(kube::ResourcePath("v1", "namespaces", "", ns));
  if (!got.ok()) co_return got.error().Wrap("namespace " + ns);
  if (got->ok()) co_return OkStatus();
  if (got->status != 404) co_return MakeError("namespace " + ns + ": " + got->Describe());
  json::value object = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
  auto created = co_await client.Create(kube::ResourcePath("v1", "namespaces"), object);
  if (!created.ok()) co_return created.error().Wrap("creating namespace " + ns);
  if (!created->ok() && created->status != 409) {
    co_return MakeError("creating namespace " + ns + ": " + created->Describe());
  }
  co_return OkStatus();
}

boost::asio::awaitable<Result<std::optional<StateData>>> ReadStateObject(kube::KubeClient& client, StateKind kind,
                                                                         std::string ns, std::string name) {
  const std::string what = std::string(KindName(kind)) + " " + ns + "/" + name;
  auto got = co_await client.Get(kube::ResourcePath("v1", Resource(kind), ns, name));
  if (!got.ok()) co_return got.error().Wrap(what);
  if (got->status == 404) co_return std::optional<StateData>();
  if (!got->ok()) co_return MakeError(what + ": " + got->Describe());
  StateData data;
  const json::object* object = got->body.if_object();
  const json::value* field = object ? object->if_contains("data") : nullptr;
  if (field && field->is_object()) {
    for (const auto& [key, value] : field->get_object()) {
      if (!value.is_string()) co_return MakeError(what + ": data." + std::string(key) + " is not a string");
      std::string text(value.get_string());
      if (kind == StateKind::kSecret) {
        auto decoded = Base64Decode(text);
        if (!decoded) co_return MakeError(what + ": data." + std::string(key) + " is not base64");
        text = std::move(*decoded);
      }
      data[std::string(key)] = std::move(text);
    }
  }
  co_return std::optional<StateData>(std::move(data));
}

boost::asio::awaitable<Status> WriteStateObject(kube::KubeClient& client, StateKind kind, std::string ns,
                                                std::string name, StateData data) {
  const std::string what = std::string(KindName(kind)) + " " + ns + "/" + name;
  if (Status s = co_await EnsureNamespace(client, ns); !s.ok()) co_return s;
  json::object encoded;
  for (const auto& [key, value] : data) {
    encoded[key] = kind == StateKind::kSecret ? Base64Encode(value) : value;
  }
  json::object object = {
      {"apiVersion", "v1"},
      {"kind", KindName(kind)},
      {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app.kubernetes.io/managed-by", "vmesh-agent"}}}}},
      {"data", std::move(encoded)}};
  if (kind == StateKind::kSecret) object["type"] = "Opaque";
  auto applied = co_await client.Apply(kube::ResourcePath("v1", Resource(kind), ns, name), object, "vmesh-agent",
                                       /*force=*/true);
  if (!applied.ok()) co_return applied.error().Wrap("writing " + what);
  if (!applied->ok()) co_return MakeError("writing " + what + ": " + applied->Describe());
  co_return OkStatus();
}

}  // namespace vmesh::agent
