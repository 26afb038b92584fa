// Fuzz target: what the agent makes of the Kubernetes API server's JSON. The input is what an API server
// sends, one JSON document per line: List responses (e.g. a PodList) and watch-stream events
// ({"type":"ADDED","object":{...}}). Lists go through ApplyList and events through DecodeWatchEvent and
// ApplyWatchEvent (common/kube/objects.h) into one informer cache per kind, as the DiscoveryWatcher's informers
// do; then discovery runs over the caches (agent/discovery: DiscoverMeshes, which also parses Istio's mesh
// config YAML, DiscoverDestinations, DiscoverWorkloads), as after every change.
//
// Oracle besides the sanitizers: nothing throws (the agent must survive any answer of its API server).
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "agent/discovery/istio_discovery.h"
#include "agent/discovery/service_discovery.h"
#include "common/kube/objects.h"

namespace {

using namespace vmesh;
namespace json = boost::json;

std::string KindOf(const json::value& v) {
  if (!v.is_object()) return "";
  const json::value* k = v.get_object().if_contains("kind");
  return k && k->is_string() ? std::string(k->get_string()) : "";
}

// The discovery watcher's own filter for Istio mesh-config ConfigMaps.
bool IsMeshConfig(const json::object& cm) {
  const json::value* meta = cm.if_contains("metadata");
  const json::value* name = meta && meta->is_object() ? meta->get_object().if_contains("name") : nullptr;
  if (name == nullptr || !name->is_string()) return false;
  const std::string_view n = name->get_string();
  return n == "istio" || (n.rfind("istio-", 0) == 0 && n != "istio-ca-root-cert");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, kube::ObjectCache> caches;  // by kind: "Pod", "Service", ...
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    const size_t eol = input.find('\n');
    const std::string_view line = input.substr(0, eol);
    input = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);
    if (line.empty()) continue;
    boost::system::error_code ec;
    json::value doc = json::parse(line, ec);
    if (ec) continue;
    if (doc.is_object() && doc.get_object().contains("items")) {
      std::string kind = KindOf(doc);  // "PodList"; kubectl's "List" names each item's kind instead
      if (kind.size() > 4 && kind.ends_with("List")) kind.resize(kind.size() - 4);
      kube::ObjectCache list;
      kube::ApplyList(doc, list);
      for (auto& [key, object] : list.objects) {
        const std::string item_kind = KindOf(object);
        caches[item_kind.empty() ? kind : item_kind].objects[key] = object;
      }
      continue;
    }
    auto event = kube::DecodeWatchEvent(line);
    if (!event.ok()) continue;
    (void)kube::ApplyWatchEvent(*event, caches[KindOf(event->object)]);
  }

  agent::ClusterSnapshot s;
  s.cluster = "cluster-1";
  auto fill = [&](const char* kind, std::vector<json::object>& out, bool mesh_config_only = false) {
    for (const auto& [key, v] : caches[kind].objects) {
      if (v.is_object() && (!mesh_config_only || IsMeshConfig(v.get_object()))) out.push_back(v.get_object());
    }
  };
  fill("Namespace", s.namespaces);
  fill("Node", s.nodes);
  fill("Deployment", s.deployments);
  fill("ConfigMap", s.config_maps, true);
  fill("Service", s.services);
  fill("Endpoints", s.endpoints);
  fill("Pod", s.pods);
  const auto meshes = agent::DiscoverMeshes(s);
  (void)agent::DiscoverDestinations(s, meshes);
  (void)agent::DiscoverWorkloads(s, meshes);
  (void)agent::NodeAddresses(s.nodes);
  return 0;
}
