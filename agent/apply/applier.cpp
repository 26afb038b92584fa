#include "agent/apply/applier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "common/base/json_fields.h"
#include "common/base/kinds.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// app.kubernetes.io/managed-by=vmesh[,networking.vmesh.dev/cluster=<cluster>], as a query parameter.
std::string PruneSelector(const std::string& cluster) {
  std::string selector = std::string(kManagedBy) + "=vmesh";
  if (!cluster.empty()) selector += "," + std::string(kClusterLabel) + "=" + cluster;
  return "labelSelector=" + kube::EscapePathSegment(selector);
}

bool Transient(const Result<kube::ApiResponse>& r) { return !r.ok() || r->status == 429 || r->status >= 500; }

std::string Describe(const Result<kube::ApiResponse>& r) { return r.ok() ? r->Describe() : r.error().message; }

std::string What(const std::string& kind, const std::string& ns, const std::string& name) {
  return kind + " " + (ns.empty() ? name : ns + "/" + name);
}

LiveObject ToLive(const json::object& o, const std::string& default_api_version, const std::string& default_kind) {
  LiveObject live;
  live.api_version = jsonf::Str(&o, "apiVersion");
  if (live.api_version.empty()) live.api_version = default_api_version;
  live.kind = jsonf::Str(&o, "kind");
  if (live.kind.empty()) live.kind = default_kind;
  const json::value* meta = o.if_contains("metadata");
  const json::object* m = meta && meta->is_object() ? &meta->get_object() : nullptr;
  live.ns = jsonf::Str(m, "namespace");
  live.name = jsonf::Str(m, "name");
  const json::value* labels = m ? m->if_contains("labels") : nullptr;
  if (labels && labels->is_object()) {
    for (const auto& [k, v] : labels->get_object()) {
      if (v.is_string()) live.labels[std::string(k)] = std::string(v.get_string());
    }
  }
  return live;
}

std::string Path(const KubeRef& ref) {
  return kube::ResourcePath(ref.api_version, ResourceOfKind(ref.kind), ref.ns, ref.name);
}

}  // namespace

std::string ResourceOfKind(const std::string& kind) {
  if (const KindInfo* known = FindKind(kind)) return std::string(known->plural);
  // Kinds outside vmesh's table: the API server's default plural.
  std::string r;
  for (char c : kind) r += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (r.empty()) return r;
  if (r.back() == 'y' && r.size() > 1 && std::string("aeiou").find(r[r.size() - 2]) == std::string::npos) {
    r.back() = 'i';
    return r + "es";
  }
  if (r.back() == 's' || r.back() == 'x') return r + "es";
  return r + "s";
}

std::string ObjectKeyOf(const link::v1::KubeObject& object) {
  return OutputKey(object.api_version(), object.kind(), object.namespace_(), object.name());
}

KubeApplier::KubeApplier(kube::KubeClient& client, std::string field_manager, ApplierRetry retry, std::string cluster)
    : client_(client), field_manager_(std::move(field_manager)), retry_(retry), cluster_(std::move(cluster)) {}

asio::awaitable<Result<kube::ApiResponse>> KubeApplier::WithRetries(
    std::function<asio::awaitable<Result<kube::ApiResponse>>()> request) {
  auto backoff = retry_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    Result<kube::ApiResponse> r = co_await request();
    if (!Transient(r) || attempt >= retry_.attempts) co_return r;
    spdlog::debug("kubernetes request failed ({}), retrying in {} ms", Describe(r), backoff.count());
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(backoff);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    backoff = std::min(backoff * 2, retry_.max_backoff);
  }
}

asio::awaitable<Result<std::optional<LiveObject>>> KubeApplier::GetLive(const KubeRef& ref) {
  const std::string path = Path(ref);
  auto got = co_await WithRetries([&]() { return client_.Get(path); });
  if (got.ok() && got->status == 404) co_return std::optional<LiveObject>();
  if (!got.ok() || !got->ok() || !got->body.is_object()) {
    co_return MakeError("read " + What(ref.kind, ref.ns, ref.name) + ": " + Describe(got));
  }
  co_return std::optional<LiveObject>(ToLive(got->body.get_object(), ref.api_version, ref.kind));
}

asio::awaitable<Status> KubeApplier::Apply(const link::v1::KubeObject& object) {
  const std::string what = What(object.kind(), object.namespace_(), object.name());
  if (Status s = CheckOutputKind(object.api_version(), object.kind()); !s.ok())
    co_return s.error().Wrap("apply " + what);
  boost::system::error_code ec;
  json::value body = json::parse(object.json(), ec);
  if (ec || !body.is_object()) co_return MakeError("apply " + what + ": the object is not a JSON object");
  // The object must be the one the resource names: the hub's checks are by name.
  LiveObject inner = ToLive(body.get_object(), "", "");
  if (inner.api_version != object.api_version() || inner.kind != object.kind() || inner.ns != object.namespace_() ||
      inner.name != object.name()) {
    co_return MakeError("apply " + what + ": the object's apiVersion/kind/metadata (" + inner.api_version + " " +
                        What(inner.kind, inner.ns, inner.name) + ") do not match the resource");
  }
  const KubeRef ref{object.api_version(), object.kind(), object.namespace_(), object.name()};
  auto existing = co_await GetLive(ref);
  if (!existing.ok()) co_return existing.error();
  const LiveObject* live = existing->has_value() ? &**existing : nullptr;
  if (Status s = CheckTakeover(live); !s.ok()) co_return s;
  if (!cluster_.empty()) {
    json::value& meta = body.get_object()["metadata"];
    json::value& labels = meta.get_object()["labels"];
    if (!labels.is_object()) labels = json::object();
    labels.get_object()[kClusterLabel] = cluster_;
  }

  const std::string path = Path(ref);
  auto applied = co_await WithRetries([&]() { return client_.Apply(path, body, field_manager_, true); });
  if (!applied.ok() || !applied->ok()) co_return MakeError("apply " + what + ": " + Describe(applied));
  co_return OkStatus();
}

asio::awaitable<Status> KubeApplier::Delete(const KubeRef& ref) {
  const std::string path = Path(ref);
  auto deleted = co_await WithRetries([&]() { return client_.Delete(path); });
  if (deleted.ok() && (deleted->ok() || deleted->status == 404)) co_return OkStatus();
  co_return MakeError("delete " + What(ref.kind, ref.ns, ref.name) + ": " + Describe(deleted));
}

asio::awaitable<Status> KubeApplier::Remove(const KubeRef& ref) {
  if (Status s = CheckOutputKind(ref.api_version, ref.kind); !s.ok()) {
    // Never applied either: there is nothing of vmesh's to remove.
    spdlog::warn("not removing {}: {}", What(ref.kind, ref.ns, ref.name), s.error().message);
    co_return OkStatus();
  }
  auto existing = co_await GetLive(ref);
  if (!existing.ok()) co_return existing.error();
  if (!existing->has_value()) co_return OkStatus();
  if (!IsManagedByVmesh(**existing)) {
    spdlog::warn("{} is no longer wanted but was not created by vmesh: left untouched",
                 What(ref.kind, ref.ns, ref.name));
    co_return OkStatus();
  }
  co_return co_await Delete(ref);
}

asio::awaitable<Result<int>> KubeApplier::Prune(std::set<std::string> desired_keys) {
  std::vector<LiveObject> live;
  for (const KindInfo& k : Kinds()) {  // the kinds vmesh writes as outputs, in the version every Istio serves
    if ((k.roles & kIstioOutput) == 0) continue;
    const std::string collection = kube::ResourcePath(k.ApiVersion(), std::string(k.plural));
    const std::string selector = PruneSelector(cluster_);
    auto listed = co_await WithRetries([&]() { return client_.List(collection, selector); });
    if (listed.ok() && listed->status == 404) continue;  // the cluster does not serve this kind
    if (!listed.ok() || !listed->ok() || !listed->body.is_object()) {
      co_return MakeError("list " + std::string(k.plural) + ": " + Describe(listed));
    }
    const json::value* items = listed->body.get_object().if_contains("items");
    if (items == nullptr || !items->is_array()) continue;
    for (const auto& item : items->get_array()) {
      if (item.is_object()) live.push_back(ToLive(item.get_object(), k.ApiVersion(), std::string(k.kind)));
    }
  }
  int deleted = 0;
  std::string errors;
  for (const LiveObject& o : PruneCandidates(desired_keys, live, cluster_)) {
    const KubeRef ref{o.api_version, o.kind, o.ns, o.name};
    Status s = co_await Delete(ref);
    if (s.ok()) {
      ++deleted;
      spdlog::info("pruned {} (no longer desired)", What(o.kind, o.ns, o.name));
    } else {
      errors += (errors.empty() ? "" : "; ") + s.error().message;
    }
  }
  if (!errors.empty()) co_return MakeError("prune: " + errors);
  co_return deleted;
}

}  // namespace vmesh::agent
