#include "hub/translate/federation.h"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <set>

#include "common/api/duration.h"
#include "common/base/resource_names.h"
#include "common/base/version.h"

namespace vmesh::hub {
namespace {

namespace json = boost::json;

constexpr char kGlobalSuffix[] = "global";
constexpr char kTlsModeLabel[] = "security.istio.io/tlsMode";

std::string MeshKeyOf(const api::v1::ObjectRef& ref, const std::string& default_namespace) {
  return vmesh::MeshKey(ref.name(), ref.namespace_().empty() ? default_namespace : ref.namespace_());
}

// The container port a Service port reaches on one endpoint.
std::uint32_t TargetPort(const api::v1::ServicePort& p, const api::v1::Endpoint& e) {
  const std::string& t = p.target_port();
  if (t.empty()) return p.port();
  if (std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return static_cast<std::uint32_t>(std::stoul(t));
  }
  auto it = e.named_ports().find(t);
  return it != e.named_ports().end() ? it->second : p.port();
}

json::object Labels(const std::map<std::string, std::string>& extra, const std::string& vm_label) {
  json::object labels;
  for (const auto& [k, v] : extra) labels[k] = v;
  labels[kManagedByLabel] = "vmesh";
  labels[kVirtualMeshLabel] = vm_label;
  return labels;
}

json::object EndpointLabels(const google::protobuf::Map<std::string, std::string>& pod_labels) {
  json::object labels;
  for (const auto& [k, v] : std::map<std::string, std::string>(pod_labels.begin(), pod_labels.end())) labels[k] = v;
  labels[kTlsModeLabel] = "istio";
  return labels;
}

// Endpoints that are the pods themselves (flat network, and the source cluster's local ServiceEntry).
json::array PodEndpoints(const api::v1::DestinationSpec& d) {
  json::array endpoints;
  std::vector<const api::v1::Endpoint*> ready;
  for (const auto& e : d.endpoints()) {
    if (e.ready()) ready.push_back(&e);
  }
  std::sort(ready.begin(), ready.end(), [](const auto* a, const auto* b) { return a->ip() < b->ip(); });
  for (const auto* e : ready) {
    json::object ports;
    for (const auto& p : d.ports()) ports[ServicePortName(p)] = TargetPort(p, *e);
    json::object ep{{"address", e->ip()}, {"ports", std::move(ports)}, {"labels", EndpointLabels(e->labels())}};
    if (!e->service_account().empty()) ep["serviceAccount"] = e->service_account();
    endpoints.push_back(std::move(ep));
  }
  return endpoints;
}

}  // namespace

void AddTcpKeepalive(const api::v1::VirtualMeshSpec& spec, json::object& traffic_policy) {
  if (!spec.federation().has_tcp_keepalive()) return;
  const auto& k = spec.federation().tcp_keepalive();
  json::object keepalive;
  if (k.probes() != 0) keepalive["probes"] = k.probes();
  if (k.has_time()) keepalive["time"] = api::FormatDuration(k.time().seconds(), k.time().nanos());
  if (k.has_interval()) keepalive["interval"] = api::FormatDuration(k.interval().seconds(), k.interval().nanos());
  traffic_policy["connectionPool"] = json::object{{"tcp", json::object{{"tcpKeepalive", std::move(keepalive)}}}};
}

namespace {

json::object DestinationRuleSpec(const std::string& host, const api::v1::VirtualMeshSpec& spec, bool local_only) {
  json::object tls{{"mode", "ISTIO_MUTUAL"}};
  json::object policy{{"tls", std::move(tls)}};
  AddTcpKeepalive(spec, policy);
  json::object out{{"host", host}, {"trafficPolicy", std::move(policy)}};
  if (local_only) out["exportTo"] = json::array{"."};
  return out;
}

}  // namespace

std::string NetworkingApiVersion(const api::v1::Mesh& receiver) {
  return VersionAtLeast(receiver.spec().istio_version(), 1, 22) ? "networking.istio.io/v1"
                                                                : "networking.istio.io/v1beta1";
}

bool IsIpLiteral(const std::string& address) {
  unsigned char buf[16];
  return inet_pton(AF_INET, address.c_str(), buf) == 1 || inet_pton(AF_INET6, address.c_str(), buf) == 1;
}

std::string ServicePortName(const api::v1::ServicePort& p) {
  return p.name().empty() ? "port-" + std::to_string(p.port()) : p.name();
}

json::object OutputMetadata(const std::string& name, const std::string& ns, const std::string& vm_label) {
  return json::object{{"name", name}, {"namespace", ns}, {"labels", Labels({}, vm_label)}};
}

json::array ServiceEntryPorts(const api::v1::DestinationSpec& d) {
  json::array ports;
  for (const auto& p : d.ports()) {
    ports.push_back(json::object{{"number", p.port()}, {"name", ServicePortName(p)}, {"protocol", IstioProtocol(p)}});
  }
  return ports;
}

std::vector<const api::v1::GatewayInfo*> EastWestGatewayCandidates(const api::v1::VirtualMeshSpec& spec,
                                                                   const std::string& vm_namespace,
                                                                   const api::v1::Mesh& mesh) {
  const std::string mesh_key = mesh.metadata().name() + "." +
                               (mesh.metadata().namespace_().empty() ? vm_namespace : mesh.metadata().namespace_());
  std::vector<const api::v1::IngressGatewaySelector*> applicable;
  for (const auto& selector : spec.federation().east_west_ingress_gateway_selectors()) {
    bool applies = selector.meshes().empty();
    for (const auto& ref : selector.meshes()) applies |= MeshKeyOf(ref, vm_namespace) == mesh_key;
    if (applies) applicable.push_back(&selector);
  }
  std::vector<const api::v1::GatewayInfo*> out;
  if (applicable.empty()) {
    for (const auto& gw : mesh.spec().east_west_gateways()) out.push_back(&gw);
    return out;
  }
  // Selectors choose among every gateway of the mesh (east-west and ingress), by the gateway Service's name,
  // namespace and cluster, or by its workload labels, and by the name of its TLS port.
  auto consider = [&](const api::v1::GatewayInfo& gw) {
    api::v1::DestinationSpec as_service;
    as_service.set_name(gw.service().name());
    as_service.set_namespace_(gw.service().namespace_());
    as_service.set_cluster(mesh.spec().cluster());
    as_service.mutable_labels()->insert(gw.workload_labels().begin(), gw.workload_labels().end());
    for (const auto* selector : applicable) {
      const std::string port = selector->port_name().empty() ? "tls" : selector->port_name();
      if (!gw.tls_port_name().empty() && gw.tls_port_name() != port) continue;
      bool matches = selector->destination_selectors().empty();
      for (const auto& ds : selector->destination_selectors()) matches |= SelectorMatches(ds, as_service);
      if (matches) {
        out.push_back(&gw);
        return;
      }
    }
  };
  for (const auto& gw : mesh.spec().east_west_gateways()) consider(gw);
  for (const auto& gw : mesh.spec().ingress_gateways()) consider(gw);
  return out;
}

const api::v1::GatewayInfo* SelectEastWestGateway(const api::v1::VirtualMeshSpec& spec, const std::string& vm_namespace,
                                                  const api::v1::Mesh& mesh) {
  for (const auto* gw : EastWestGatewayCandidates(spec, vm_namespace, mesh)) {
    if (gw->external_addresses_size() > 0 && gw->external_tls_port() != 0) return gw;
  }
  return nullptr;
}

Output MakeOutput(const std::string& cluster, const std::string& api_version, const std::string& kind,
                  json::object metadata, json::object spec) {
  Output o;
  o.cluster = cluster;
  o.api_version = api_version;
  o.kind = kind;
  o.namespace_ = std::string(metadata.at("namespace").as_string());
  o.name = std::string(metadata.at("name").as_string());
  o.object = json::object{
      {"apiVersion", api_version}, {"kind", kind}, {"metadata", std::move(metadata)}, {"spec", std::move(spec)}};
  return o;
}

bool SelectorMatches(const api::v1::DestinationSelector& sel, const api::v1::DestinationSpec& d) {
  if (sel.has_kube_service_refs()) {
    for (const auto& ref : sel.kube_service_refs().services()) {
      if (ref.name() == d.name() && ref.namespace_() == d.namespace_() && ref.cluster_name() == d.cluster())
        return true;
    }
    return false;
  }
  if (sel.has_kube_service_matcher()) {
    const auto& m = sel.kube_service_matcher();
    for (const auto& [k, v] : m.labels()) {
      auto it = d.labels().find(k);
      if (it == d.labels().end() || it->second != v) return false;
    }
    auto contains = [](const auto& list, const std::string& value) {
      return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
    };
    return contains(m.namespaces(), d.namespace_()) && contains(m.clusters(), d.cluster());
  }
  return true;
}
std::string Output::Key() const { return cluster + "/" + kind + "/" + namespace_ + "/" + name; }

std::string FederatedHost(const std::string& service, const std::string& ns, const std::string& cluster,
                          const std::string& suffix) {
  return service + "." + ns + ".svc." + cluster + "." + suffix;
}

std::string FederatedVip(const std::string& service, const std::string& ns, const std::string& cluster) {
  // FNV-1a 64 over "service/ns/cluster": stable everywhere, unlike std::hash.
  std::uint64_t h = 1469598103934665603ull;
  for (char c : service + "/" + ns + "/" + cluster) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  // 240.0.0.1 .. 255.255.255.254: the whole 240.0.0.0/4 except its first and last address.
  const std::uint32_t offset = static_cast<std::uint32_t>(h % ((1u << 28) - 2)) + 1;
  const std::uint32_t ip = (240u << 24) | offset;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
  return buf;
}

std::string IstioProtocol(const api::v1::ServicePort& port) {
  static const std::vector<std::pair<std::string, std::string>> kProtocols = {
      {"http2", "HTTP2"}, {"http", "HTTP"}, {"https", "HTTPS"}, {"grpc-web", "GRPC-Web"},
      {"grpc", "GRPC"},   {"tls", "TLS"},   {"mongo", "Mongo"}, {"redis", "Redis"},
      {"mysql", "MySQL"}, {"tcp", "TCP"},   {"udp", "UDP"}};
  auto lookup = [&](std::string name) -> std::string {
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& [prefix, protocol] : kProtocols) {
      if (name == prefix || name.rfind(prefix + "-", 0) == 0) return protocol;
    }
    return "";
  };
  if (std::string p = lookup(port.app_protocol()); !p.empty()) return p;
  if (port.protocol() == "UDP") return "UDP";
  if (std::string p = lookup(port.name()); !p.empty()) return p;
  return "TCP";
}

FederationTranslator::FederationTranslator(std::string ns, std::string name, api::v1::VirtualMeshSpec spec,
                                           std::map<std::string, api::v1::Mesh> meshes)
    : vm_namespace_(std::move(ns)), vm_name_(std::move(name)), spec_(std::move(spec)), meshes_(std::move(meshes)) {
  suffix_ = spec_.federation().hostname_suffix().empty() ? kGlobalSuffix : spec_.federation().hostname_suffix();
}

std::vector<std::string> FederationTranslator::Receivers(const api::v1::Destination& destination) const {
  const api::v1::DestinationSpec& d = destination.spec();
  const std::string own = MeshKeyOf(d.mesh(), vm_namespace_);
  if (!spec_.has_federation() || !meshes_.count(own)) return {};
  std::vector<api::v1::VirtualMeshSpec::Federation::FederationSelector> selectors(
      spec_.federation().selectors().begin(), spec_.federation().selectors().end());
  if (spec_.federation().has_permissive()) selectors.emplace_back();
  std::set<std::string> receivers;
  for (const auto& sel : selectors) {
    bool selected = sel.destination_selectors().empty();
    for (const auto& ds : sel.destination_selectors()) selected |= SelectorMatches(ds, d);
    if (!selected) continue;
    if (sel.meshes().empty()) {
      for (const auto& [key, mesh] : meshes_) receivers.insert(key);
    } else {
      for (const auto& ref : sel.meshes()) {
        std::string key = MeshKeyOf(ref, vm_namespace_);
        if (meshes_.count(key)) receivers.insert(key);
      }
    }
  }
  receivers.erase(own);
  return {receivers.begin(), receivers.end()};
}

std::vector<Output> FederationTranslator::TranslateDestination(const api::v1::Destination& destination) const {
  std::vector<Output> out;
  const std::vector<std::string> receivers = Receivers(destination);
  if (receivers.empty()) return out;
  const api::v1::DestinationSpec& d = destination.spec();
  const api::v1::Mesh& source = meshes_.at(MeshKeyOf(d.mesh(), vm_namespace_));
  const std::string vm_label = vm_namespace_ + "." + vm_name_;
  const std::string host = FederatedHost(d.name(), d.namespace_(), d.cluster(), suffix_);
  const std::string vip = FederatedVip(d.name(), d.namespace_(), d.cluster());
  const bool flat = spec_.federation().flat_network();
  const api::v1::GatewayInfo* gateway = flat ? nullptr : SelectEastWestGateway(spec_, vm_namespace_, source);
  if (!flat && gateway == nullptr) return out;  // status reports the mesh INVALID (no east-west gateway)

  // Endpoints as seen from the receivers.
  json::array remote_endpoints;
  bool hostnames = false;
  if (flat) {
    remote_endpoints = PodEndpoints(d);
  } else {
    std::set<std::map<std::string, std::string>> label_sets;
    for (const auto& e : d.endpoints())
      label_sets.insert(std::map<std::string, std::string>(e.labels().begin(), e.labels().end()));
    if (label_sets.empty()) label_sets.insert({});
    std::vector<std::string> addresses(gateway->external_addresses().begin(), gateway->external_addresses().end());
    std::sort(addresses.begin(), addresses.end());
    for (const auto& address : addresses) {
      hostnames |= !IsIpLiteral(address);
      for (const auto& labels : label_sets) {
        json::object ports;
        for (const auto& p : d.ports()) ports[ServicePortName(p)] = gateway->external_tls_port();
        json::object l;
        for (const auto& [k, v] : labels) l[k] = v;
        l[kTlsModeLabel] = "istio";
        remote_endpoints.push_back(
            json::object{{"address", address}, {"ports", std::move(ports)}, {"labels", std::move(l)}});
      }
    }
  }

  for (const auto& key : receivers) {
    const api::v1::Mesh& receiver = meshes_.at(key);
    const std::string ns = receiver.spec().installation_namespace();
    const std::string version = NetworkingApiVersion(receiver);
    json::object se{{"hosts", json::array{host}},
                    {"addresses", json::array{vip}},
                    {"location", "MESH_INTERNAL"},
                    {"ports", ServiceEntryPorts(d)},
                    {"resolution", hostnames ? "DNS" : "STATIC"},
                    {"endpoints", remote_endpoints}};
    out.push_back(MakeOutput(receiver.spec().cluster(), version, "ServiceEntry", OutputMetadata(host, ns, vm_label),
                             std::move(se)));
    out.push_back(MakeOutput(receiver.spec().cluster(), version, "DestinationRule", OutputMetadata(host, ns, vm_label),
                             DestinationRuleSpec(host, spec_, false)));
  }

  if (!flat) {
    // In the source cluster: route the SNI of the federated host to the local pods.
    const std::string ns = source.spec().installation_namespace();
    const std::string version = NetworkingApiVersion(source);
    json::object se{{"hosts", json::array{host}},  {"addresses", json::array{vip}}, {"exportTo", json::array{"."}},
                    {"location", "MESH_INTERNAL"}, {"ports", ServiceEntryPorts(d)}, {"resolution", "STATIC"},
                    {"endpoints", PodEndpoints(d)}};
    out.push_back(MakeOutput(d.cluster(), version, "ServiceEntry", OutputMetadata(host, ns, vm_label), std::move(se)));
    out.push_back(MakeOutput(d.cluster(), version, "DestinationRule", OutputMetadata(host, ns, vm_label),
                             DestinationRuleSpec(host, spec_, true)));
  }
  return out;
}

std::vector<Output> FederationTranslator::TranslateGateways(
    const std::vector<api::v1::Destination>& destinations) const {
  std::vector<Output> out;
  if (spec_.federation().flat_network()) return out;
  std::set<std::string> exporting;
  for (const auto& d : destinations) {
    if (!Receivers(d).empty()) exporting.insert(MeshKeyOf(d.spec().mesh(), vm_namespace_));
  }
  for (const auto& key : exporting) {
    if (auto gateway = TranslateGateway(key)) out.push_back(std::move(*gateway));
  }
  return out;
}

std::string FederationTranslator::SourceMeshKey(const api::v1::Destination& destination) const {
  return MeshKeyOf(destination.spec().mesh(), vm_namespace_);
}

std::optional<Output> FederationTranslator::TranslateGateway(const std::string& mesh_key) const {
  if (spec_.federation().flat_network()) return std::nullopt;
  auto found = meshes_.find(mesh_key);
  if (found == meshes_.end()) return std::nullopt;
  const api::v1::Mesh& mesh = found->second;
  const api::v1::GatewayInfo* gw = SelectEastWestGateway(spec_, vm_namespace_, mesh);
  if (gw == nullptr) return std::nullopt;
  const std::string vm_label = vm_namespace_ + "." + vm_name_;
  json::object selector;
  for (const auto& [k, v] :
       std::map<std::string, std::string>(gw->workload_labels().begin(), gw->workload_labels().end())) {
    selector[k] = v;
  }
  const std::uint32_t port = gw->tls_container_port() != 0 ? gw->tls_container_port() : 15443;
  json::object server{{"port", json::object{{"number", port}, {"name", "tls"}, {"protocol", "TLS"}}},
                      {"tls", json::object{{"mode", "AUTO_PASSTHROUGH"}}},
                      {"hosts", json::array{"*." + suffix_}}};
  json::object spec{{"selector", std::move(selector)}, {"servers", json::array{std::move(server)}}};
  return MakeOutput(mesh.spec().cluster(), NetworkingApiVersion(mesh), "Gateway",
                    OutputMetadata("vmesh-" + vm_name_ + "-eastwest", mesh.spec().installation_namespace(), vm_label),
                    std::move(spec));
}

std::vector<Output> FederationTranslator::TranslateAll(const std::vector<api::v1::Destination>& destinations) const {
  std::vector<Output> out = TranslateGateways(destinations);
  for (const auto& d : destinations) {
    auto more = TranslateDestination(d);
    out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  std::sort(out.begin(), out.end(), [](const Output& a, const Output& b) { return a.Key() < b.Key(); });
  return out;
}

}  // namespace vmesh::hub
