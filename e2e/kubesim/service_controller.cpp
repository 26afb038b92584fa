#include "e2e/kubesim/service_controller.h"

#include <map>

#include "common/base/json_fields.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;
using jsonf::At;
using jsonf::ObjAt;
using jsonf::StrAt;

bool Selects(const json::object& selector, const json::object& pod) {
  const json::object labels = ObjAt(pod, {"metadata", "labels"});
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->value() != value) return false;
  }
  return true;
}

bool PodReady(const json::object& pod) {
  if (StrAt(pod, {"status", "phase"}) != "Running") return false;
  const json::value* conditions = At(pod, {"status", "conditions"});
  if (!conditions || !conditions->is_array()) return false;
  for (const auto& c : conditions->get_array()) {
    if (c.is_object() && StrAt(c.get_object(), {"type"}) == "Ready") return StrAt(c.get_object(), {"status"}) == "True";
  }
  return false;
}

// The container port named `name` in a pod's spec, if any.
std::optional<int64_t> NamedPort(const json::object& pod, std::string_view name) {
  const json::value* containers = At(pod, {"spec", "containers"});
  if (!containers || !containers->is_array()) return std::nullopt;
  for (const auto& c : containers->get_array()) {
    const json::value* ports = c.is_object() ? At(c.get_object(), {"ports"}) : nullptr;
    if (!ports || !ports->is_array()) continue;
    for (const auto& p : ports->get_array()) {
      if (!p.is_object() || StrAt(p.get_object(), {"name"}) != name) continue;
      if (const json::value* n = At(p.get_object(), {"containerPort"}); n && n->is_number())
        return n->to_number<int64_t>();
    }
  }
  return std::nullopt;
}

}  // namespace

ServiceController::ServiceController(const ResourceRegistry& registry, ObjectStore& store, ClusterNetwork network)
    : services_(*registry.Find("", "v1", "services")),
      endpoints_(*registry.Find("", "v1", "endpoints")),
      endpoint_slices_(*registry.Find("discovery.k8s.io", "v1", "endpointslices")),
      pods_(*registry.Find("", "v1", "pods")),
      store_(store),
      network_(std::move(network)) {}

std::optional<std::chrono::steady_clock::time_point> ServiceController::Reconcile() {
  auto services = store_.List(services_, "", {});
  auto pods = store_.List(pods_, "", {});
  if (!services.ok() || !pods.ok()) return std::nullopt;
  std::map<std::string, std::vector<ObjectPtr>> pods_by_namespace;
  for (const auto& pod : pods->items) pods_by_namespace[StrAt(*pod, {"metadata", "namespace"})].push_back(pod);
  std::set<std::pair<std::string, std::string>> live;
  for (const auto& service : services->items) {
    live.emplace(StrAt(*service, {"metadata", "namespace"}), StrAt(*service, {"metadata", "name"}));
    if (StrAt(*service, {"spec", "type"}) == "LoadBalancer") AssignLoadBalancerIp(*service);
    if (!ObjAt(*service, {"spec", "selector"}).empty()) {
      ReconcileEndpoints(*service, pods_by_namespace[StrAt(*service, {"metadata", "namespace"})]);
    }
  }
  for (auto it = managed_.begin(); it != managed_.end();) {
    if (live.contains(*it)) {
      ++it;
      continue;
    }
    // NotFound: deleted by someone else already.
    (void)store_.Delete(endpoints_, it->first, it->second);
    (void)store_.Delete(endpoint_slices_, it->first, SliceName(it->second));
    it = managed_.erase(it);
  }
  return std::nullopt;
}

void ServiceController::ReconcileEndpoints(const json::object& service, const std::vector<ObjectPtr>& pods) {
  const std::string ns = StrAt(service, {"metadata", "namespace"});
  const std::string name = StrAt(service, {"metadata", "name"});
  const json::object selector = ObjAt(service, {"spec", "selector"});
  json::array ready;
  json::array not_ready;
  json::array slice_endpoints;
  std::vector<const json::object*> selected;
  for (const auto& pod : pods) {
    if (StrAt(*pod, {"metadata", "namespace"}) != ns || !Selects(selector, *pod)) continue;
    const std::string ip = StrAt(*pod, {"status", "podIP"});
    if (ip.empty()) continue;
    selected.push_back(pod.get());
    json::object address{{"ip", ip},
                         {"targetRef", json::object{{"kind", "Pod"},
                                                    {"namespace", ns},
                                                    {"name", StrAt(*pod, {"metadata", "name"})},
                                                    {"uid", StrAt(*pod, {"metadata", "uid"})}}}};
    if (std::string node = StrAt(*pod, {"spec", "nodeName"}); !node.empty()) address["nodeName"] = node;
    const bool is_ready = PodReady(*pod);
    json::object slice_endpoint{
        {"addresses", json::array{json::value(ip)}},
        {"conditions", json::object{{"ready", is_ready}, {"serving", is_ready}, {"terminating", false}}},
        {"targetRef", address["targetRef"]}};
    if (address.contains("nodeName")) slice_endpoint["nodeName"] = address["nodeName"];
    slice_endpoints.push_back(std::move(slice_endpoint));
    (is_ready ? ready : not_ready).push_back(std::move(address));
  }
  json::array ports;
  if (const json::value* service_ports = At(service, {"spec", "ports"}); service_ports && service_ports->is_array()) {
    for (const auto& sp : service_ports->get_array()) {
      if (!sp.is_object()) continue;
      const json::object& p = sp.get_object();
      const json::value* port = At(p, {"port"});
      if (!port || !port->is_number()) continue;
      int64_t target = port->to_number<int64_t>();
      if (const json::value* t = At(p, {"targetPort"}); t && t->is_number()) {
        target = t->to_number<int64_t>();
      } else if (t && t->is_string()) {
        for (const json::object* pod : selected) {
          if (auto named = NamedPort(*pod, t->get_string())) {
            target = *named;
            break;
          }
        }
      }
      json::object out{{"port", target}, {"protocol", p.contains("protocol") ? p.at("protocol") : json::value("TCP")}};
      if (std::string port_name = StrAt(p, {"name"}); !port_name.empty()) out["name"] = port_name;
      ports.push_back(std::move(out));
    }
  }
  json::array slice_ports;
  for (const auto& port : ports) {
    json::object p = port.get_object();
    if (!p.contains("name")) p["name"] = "";
    slice_ports.push_back(std::move(p));
  }
  WriteEndpointSlice(service, std::move(slice_endpoints), std::move(slice_ports));

  json::array subsets;
  if (!ready.empty() || !not_ready.empty()) {
    json::object subset;
    if (!ready.empty()) subset["addresses"] = std::move(ready);
    if (!not_ready.empty()) subset["notReadyAddresses"] = std::move(not_ready);
    subset["ports"] = std::move(ports);
    subsets.push_back(std::move(subset));
  }

  managed_.emplace(ns, name);
  auto existing = store_.Get(endpoints_, ns, name);
  if (!existing.ok()) {
    json::object labels = ObjAt(service, {"metadata", "labels"});
    json::object endpoints{{"apiVersion", "v1"},
                           {"kind", "Endpoints"},
                           {"metadata", json::object{{"name", name}, {"namespace", ns}, {"labels", labels}}}};
    if (!subsets.empty()) endpoints["subsets"] = std::move(subsets);
    (void)store_.Create(endpoints_, ns, std::move(endpoints));  // AlreadyExists: the next pass updates it
    return;
  }
  const json::value* current = At(**existing, {"subsets"});
  if ((current ? *current : json::value(json::array())) == json::value(subsets)) return;
  (void)store_.Mutate(endpoints_, ns, name, [&](const json::object& object) -> ApiResult<json::object> {
    json::object next = object;
    if (subsets.empty()) {
      next.erase("subsets");
    } else {
      next["subsets"] = subsets;
    }
    return next;
  });
}

std::string ServiceController::SliceName(const std::string& service) { return service + "-kubesim"; }

void ServiceController::WriteEndpointSlice(const json::object& service, json::array endpoints, json::array ports) {
  const std::string ns = StrAt(service, {"metadata", "namespace"});
  const std::string service_name = StrAt(service, {"metadata", "name"});
  const std::string name = SliceName(service_name);
  json::object labels = ObjAt(service, {"metadata", "labels"});
  labels["kubernetes.io/service-name"] = service_name;
  labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io";
  json::array owners{json::object{{"apiVersion", "v1"},
                                  {"kind", "Service"},
                                  {"name", service_name},
                                  {"uid", StrAt(service, {"metadata", "uid"})},
                                  {"controller", true},
                                  {"blockOwnerDeletion", true}}};
  auto existing = store_.Get(endpoint_slices_, ns, name);
  if (!existing.ok()) {
    json::object slice{
        {"apiVersion", "discovery.k8s.io/v1"},
        {"kind", "EndpointSlice"},
        {"metadata",
         json::object{
             {"name", name}, {"namespace", ns}, {"labels", std::move(labels)}, {"ownerReferences", std::move(owners)}}},
        {"addressType", "IPv4"},
        {"endpoints", std::move(endpoints)},
        {"ports", std::move(ports)}};
    (void)store_.Create(endpoint_slices_, ns, std::move(slice));  // AlreadyExists: the next pass updates it
    return;
  }
  const json::value* current_endpoints = At(**existing, {"endpoints"});
  const json::value* current_ports = At(**existing, {"ports"});
  if (current_endpoints && *current_endpoints == json::value(endpoints) && current_ports &&
      *current_ports == json::value(ports) && ObjAt(**existing, {"metadata", "labels"}) == labels) {
    return;
  }
  (void)store_.Mutate(endpoint_slices_, ns, name, [&](const json::object& object) -> ApiResult<json::object> {
    json::object next = object;
    next["endpoints"] = endpoints;
    next["ports"] = ports;
    jsonf::Ensure(next, "metadata")["labels"] = labels;
    return next;
  });
}

void ServiceController::AssignLoadBalancerIp(const json::object& service) {
  const json::value* ingress = At(service, {"status", "loadBalancer", "ingress"});
  if (ingress && ingress->is_array() && !ingress->get_array().empty()) return;
  const std::string ip = network_.LoadBalancerIp(next_load_balancer_++);
  (void)store_.Mutate(
      services_, StrAt(service, {"metadata", "namespace"}), StrAt(service, {"metadata", "name"}),
      [&](const json::object& object) -> ApiResult<json::object> {
        json::object next = object;
        json::object& status = jsonf::Ensure(next, "status");
        jsonf::Ensure(status, "loadBalancer")["ingress"] = json::array{json::object{{"ip", ip}}};
        return next;
      },
      UpdateScope::kStatus);
}

}  // namespace vmesh::kubesim
