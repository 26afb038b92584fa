#include "agent/discovery/discovery_watcher.h"

#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <map>

#include "agent/discovery/istio_discovery.h"
#include "agent/discovery/service_discovery.h"
#include "common/base/resource_names.h"
#include "common/kube/informer.h"
#include "common/pki/openssl_util.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using google::protobuf::util::MessageDifferencer;

enum Kind { kNamespaces, kNodes, kDeployments, kConfigMaps, kServices, kEndpoints, kPods, kCrds, kKindCount };

struct KindInfo {
  const char* api_version;
  const char* resource;
};
constexpr KindInfo kKinds[kKindCount] = {{"v1", "namespaces"},
                                         {"v1", "nodes"},
                                         {"apps/v1", "deployments"},
                                         {"v1", "configmaps"},
                                         {"v1", "services"},
                                         {"v1", "endpoints"},
                                         {"v1", "pods"},
                                         {"apiextensions.k8s.io/v1", "customresourcedefinitions"}};

// Informers whose list may never succeed without holding up discovery: Nodes only add NodePort addresses, CRDs only
// refine the hub's output validation (it has built-in Istio schemas); listing either may be forbidden or not served.
bool Optional(int k) { return k == kNodes || k == kCrds; }

// The CRDs of the kinds vmesh writes (hub/translate), whose schemas the hub validates this cluster's outputs with.
bool IsOutputCrd(std::string_view name) {
  return name == "serviceentries.networking.istio.io" || name == "destinationrules.networking.istio.io" ||
         name == "gateways.networking.istio.io" || name == "virtualservices.networking.istio.io" ||
         name == "authorizationpolicies.security.istio.io";
}

// A copy without "description" keys (most of a CRD's bytes; validation does not read them).
json::value WithoutDescriptions(const json::value& v) {
  if (const json::object* o = v.if_object()) {
    json::object out;
    for (const auto& [k, child] : *o) {
      if (k != "description") out.emplace(k, WithoutDescriptions(child));
    }
    return out;
  }
  if (const json::array* a = v.if_array()) {
    json::array out;
    for (const auto& child : *a) out.push_back(WithoutDescriptions(child));
    return out;
  }
  return v;
}

const json::value* Field(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* at = &v;
  for (std::string_view key : path) {
    const json::object* o = at->if_object();
    at = o != nullptr ? o->if_contains(key) : nullptr;
    if (at == nullptr) return nullptr;
  }
  return at;
}

// The cluster's output CRDs trimmed to what schema validation needs, ordered by name, with their digest.
link::v1::IstioSchemas TrimmedIstioSchemas(const std::map<std::string, json::value>& crds) {
  std::map<std::string, json::value> by_name;
  for (const auto& [key, crd] : crds) {
    const json::value* name = Field(crd, {"metadata", "name"});
    if (name == nullptr || !name->is_string() || !IsOutputCrd(name->get_string())) continue;
    json::object spec;
    for (std::string_view key : {"group", "names", "scope"}) {
      if (const json::value* v = Field(crd, {"spec", key})) spec.emplace(key, *v);
    }
    json::array versions;
    if (const json::value* vs = Field(crd, {"spec", "versions"}); vs != nullptr && vs->is_array()) {
      for (const auto& v : vs->get_array()) {
        json::object trimmed;
        for (std::string_view key : {"name", "served", "schema"}) {
          if (const json::value* f = Field(v, {key})) trimmed.emplace(key, WithoutDescriptions(*f));
        }
        versions.push_back(std::move(trimmed));
      }
    }
    spec.emplace("versions", std::move(versions));
    by_name[std::string(name->get_string())] = json::object{{"apiVersion", "apiextensions.k8s.io/v1"},
                                                            {"kind", "CustomResourceDefinition"},
                                                            {"metadata", json::object{{"name", name->get_string()}}},
                                                            {"spec", std::move(spec)}};
  }
  link::v1::IstioSchemas out;
  if (by_name.empty()) return out;
  json::array list;
  for (auto& [name, crd] : by_name) list.push_back(std::move(crd));
  out.set_crds_json(json::serialize(list));
  auto digest = pki::Sha256Hex(out.crds_json());
  out.set_digest(digest.ok() ? *digest : "");
  return out;
}

// Only Istio's mesh config ConfigMaps ("istio", "istio-<rev>") matter; the root-certificate copies istiod puts
// into every namespace change often and are ignored.
bool IsMeshConfig(const json::value& cm) {
  const json::value* name = cm.is_object() ? cm.get_object().if_contains("metadata") : nullptr;
  name = name && name->is_object() ? name->get_object().if_contains("name") : nullptr;
  if (name == nullptr || !name->is_string()) return false;
  const std::string_view n = name->get_string();
  return n == "istio" || (n.rfind("istio-", 0) == 0 && n != kIstioRootCertConfigMapName);
}

// Replaces `current` with `next` and records the differences in `report`.
template <typename T, typename KeyFn, typename AddFn>
void Diff(std::map<std::string, T>& current, const std::vector<T>& next, KeyFn key, AddFn add,
          google::protobuf::RepeatedPtrField<std::string>* removed) {
  std::map<std::string, T> fresh;
  for (const auto& item : next) fresh.emplace(key(item), item);
  for (const auto& [k, old] : current) {
    if (!fresh.count(k)) *removed->Add() = k;
  }
  for (const auto& [k, item] : fresh) {
    auto it = current.find(k);
    if (it == current.end() || !MessageDifferencer::Equals(it->second, item)) *add() = item;
  }
  current = std::move(fresh);
}

}  // namespace

class DiscoveryWatcher::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, kube::KubeClient& client, DiscoveryWatcherOptions options)
      : io_(io), client_(client), options_(std::move(options)), debounce_(io), waiting_(io) {}

  void Start() {
    if (started_) return;
    started_ = true;
    for (int k = 0; k < kKindCount; ++k) {
      kube::InformerOptions o{.collection = kube::ResourcePath(kKinds[k].api_version, kKinds[k].resource)};
      std::weak_ptr<Impl> weak = weak_from_this();
      kube::InformerHandlers h{.on_list =
                                   [weak, k](const auto&) {
                                     if (auto self = weak.lock()) self->OnList(static_cast<Kind>(k));
                                   },
                               .on_event =
                                   [weak, k](const kube::WatchEvent& e) {
                                     if (auto self = weak.lock()) self->OnEvent(static_cast<Kind>(k), e);
                                   }};
      informers_[k] = std::make_unique<kube::Informer>(client_, std::move(o), std::move(h));
      auto self = shared_from_this();
      asio::co_spawn(io_, informers_[k]->Run([self] { return !self->stopped_; }),
                     asio::bind_cancellation_slot(cancel_[k].slot(), [self, k](std::exception_ptr e) {
                       if (e && !self->stopped_) {
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           spdlog::error("discovery: the {} informer ended: {}", kKinds[k].resource, ex.what());
                         } catch (...) {
                           spdlog::error("discovery: the {} informer ended", kKinds[k].resource);
                         }
                       }
                     }));
    }
    WarnWhileUnsynced();
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    debounce_.cancel();
    waiting_.cancel();
    if (!started_) return;
    for (auto& c : cancel_) c.emit(asio::cancellation_type::terminal);
  }

  void OnChange(std::function<void(link::v1::DiscoveryReport)> listener) { listeners_.push_back(std::move(listener)); }

  link::v1::DiscoveryReport FullReport() const {
    link::v1::DiscoveryReport r;
    r.set_full_state(true);
    for (const auto& [k, m] : meshes_) *r.add_meshes() = m;
    for (const auto& [k, d] : destinations_) *r.add_destinations() = d;
    for (const auto& [k, w] : workloads_) *r.add_workloads() = w;
    if (!schemas_.digest().empty()) *r.mutable_istio_schemas() = schemas_;
    return r;
  }

  bool synced() const { return synced_; }

  std::optional<api::v1::Mesh> FindMesh(const std::string& name) const {
    auto it = meshes_.find(name);
    if (it == meshes_.end()) return std::nullopt;
    return it->second;
  }

  std::vector<api::v1::Mesh> Meshes() const {
    std::vector<api::v1::Mesh> out;
    for (const auto& [k, m] : meshes_) out.push_back(m);
    return out;
  }

 private:
  void OnList(Kind k) {
    listed_[k] = true;
    Schedule();
  }

  void OnEvent(Kind k, const kube::WatchEvent& e) {
    if (k == kConfigMaps && !IsMeshConfig(e.object)) return;
    if (k == kCrds) {
      const json::value* name = Field(e.object, {"metadata", "name"});
      if (name == nullptr || !name->is_string() || !IsOutputCrd(name->get_string())) return;
    }
    Schedule();
  }

  // Lists that never succeed (RBAC, a missing API) keep the agent unready: say which, every so often.
  void WarnWhileUnsynced() {
    waiting_.expires_after(std::chrono::seconds(15));
    waiting_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped_ || self->synced_) return;
      std::string missing;
      for (int k = 0; k < kKindCount; ++k) {
        if (!self->listed_[k] && !Optional(k))
          missing += (missing.empty() ? "" : ", ") + std::string(kKinds[k].resource);
      }
      spdlog::warn("discovery: cluster {} not synced yet; still waiting to list {}", self->options_.cluster,
                   missing.empty() ? "nothing (discovery pending)" : missing);
      self->WarnWhileUnsynced();
    });
  }

  void Schedule() {
    if (stopped_ || pending_) return;
    for (int k = 0; k < kKindCount; ++k) {
      if (!listed_[k] && !Optional(k)) return;
    }
    pending_ = true;
    debounce_.expires_after(options_.debounce);
    debounce_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      self->pending_ = false;
      if (!ec && !self->stopped_) self->Recompute();
    });
  }

  ClusterSnapshot Snapshot() const {
    ClusterSnapshot s;
    s.cluster = options_.cluster;
    s.hub_namespace = options_.hub_namespace;
    auto fill = [&](Kind k, std::vector<json::object>& out, bool (*keep)(const json::value&)) {
      for (const auto& [key, v] : informers_[k]->cache()) {
        if (v.is_object() && (keep == nullptr || keep(v))) out.push_back(v.get_object());
      }
    };
    fill(kNamespaces, s.namespaces, nullptr);
    fill(kNodes, s.nodes, nullptr);
    fill(kDeployments, s.deployments, nullptr);
    fill(kConfigMaps, s.config_maps, IsMeshConfig);
    fill(kServices, s.services, nullptr);
    fill(kEndpoints, s.endpoints, nullptr);
    fill(kPods, s.pods, nullptr);
    return s;
  }

  void Recompute() {
    const ClusterSnapshot s = Snapshot();
    const auto meshes = DiscoverMeshes(s);
    const auto destinations = DiscoverDestinations(s, meshes);
    const auto workloads = DiscoverWorkloads(s, meshes);

    link::v1::DiscoveryReport delta;
    Diff(
        meshes_, meshes, [](const api::v1::Mesh& m) { return m.metadata().name(); }, [&] { return delta.add_meshes(); },
        delta.mutable_removed_meshes());
    Diff(
        destinations_, destinations, [](const api::v1::Destination& d) { return DestinationKey(d); },
        [&] { return delta.add_destinations(); }, delta.mutable_removed_destinations());
    Diff(
        workloads_, workloads, [](const api::v1::Workload& w) { return WorkloadKey(w); },
        [&] { return delta.add_workloads(); }, delta.mutable_removed_workloads());
    if (listed_[kCrds]) {
      link::v1::IstioSchemas schemas = TrimmedIstioSchemas(informers_[kCrds]->cache());
      if (schemas.digest() != schemas_.digest()) {
        if (synced_) {
          spdlog::info("discovery: cluster {}: Istio CRDs {} (digest {})", options_.cluster,
                       schemas.digest().empty() ? "gone" : "read", schemas.digest().substr(0, 12));
        }
        schemas_ = schemas;
        *delta.mutable_istio_schemas() = std::move(schemas);
      }
    }

    if (!synced_) {
      synced_ = true;
      spdlog::info("discovery: cluster {} synced: {} meshes, {} destinations, {} workloads", options_.cluster,
                   meshes_.size(), destinations_.size(), workloads_.size());
      return;
    }
    const bool empty = delta.meshes().empty() && delta.destinations().empty() && delta.workloads().empty() &&
                       delta.removed_meshes().empty() && delta.removed_destinations().empty() &&
                       delta.removed_workloads().empty() && !delta.has_istio_schemas();
    if (empty) return;
    spdlog::debug("discovery: cluster {}: {} meshes, {} destinations, {} workloads changed; {}/{}/{} removed",
                  options_.cluster, delta.meshes_size(), delta.destinations_size(), delta.workloads_size(),
                  delta.removed_meshes_size(), delta.removed_destinations_size(), delta.removed_workloads_size());
    for (const auto& listener : listeners_) listener(delta);
  }

  asio::io_context& io_;
  kube::KubeClient& client_;
  DiscoveryWatcherOptions options_;
  asio::steady_timer debounce_;
  asio::steady_timer waiting_;
  std::unique_ptr<kube::Informer> informers_[kKindCount];
  asio::cancellation_signal cancel_[kKindCount];
  bool listed_[kKindCount] = {};
  bool started_ = false;
  bool stopped_ = false;
  bool pending_ = false;
  bool synced_ = false;
  std::vector<std::function<void(link::v1::DiscoveryReport)>> listeners_;
  std::map<std::string, api::v1::Mesh> meshes_;
  std::map<std::string, api::v1::Destination> destinations_;
  std::map<std::string, api::v1::Workload> workloads_;
  link::v1::IstioSchemas schemas_;  // empty until the CRDs were listed (and while none of vmesh's kinds exists)
};

DiscoveryWatcher::DiscoveryWatcher(asio::io_context& io, kube::KubeClient& client, DiscoveryWatcherOptions options)
    : impl_(std::make_shared<Impl>(io, client, std::move(options))) {}

DiscoveryWatcher::~DiscoveryWatcher() { impl_->Stop(); }

void DiscoveryWatcher::Start() { impl_->Start(); }
void DiscoveryWatcher::Stop() { impl_->Stop(); }
void DiscoveryWatcher::OnChange(std::function<void(link::v1::DiscoveryReport)> listener) {
  impl_->OnChange(std::move(listener));
}
link::v1::DiscoveryReport DiscoveryWatcher::FullReport() const { return impl_->FullReport(); }
bool DiscoveryWatcher::synced() const { return impl_->synced(); }
std::optional<api::v1::Mesh> DiscoveryWatcher::FindMesh(const std::string& mesh_name) const {
  return impl_->FindMesh(mesh_name);
}
std::vector<api::v1::Mesh> DiscoveryWatcher::Meshes() const { return impl_->Meshes(); }

}  // namespace vmesh::agent
