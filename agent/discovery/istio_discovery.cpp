#include "agent/discovery/istio_discovery.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "common/base/json_fields.h"
#include "common/base/resource_names.h"

namespace vmesh::agent {

using namespace jsonf;  // NOLINT(build/namespaces): the accessors are this file's vocabulary

namespace {

struct MeshConfig {
  std::string trust_domain = "cluster.local";
  bool smart_dns = false;
};

MeshConfig ParseMeshConfig(const std::string& yaml) {
  MeshConfig mc;
  try {
    YAML::Node root = YAML::Load(yaml);
    if (!root.IsMap()) return mc;
    if (root["trustDomain"] && root["trustDomain"].IsScalar() && !root["trustDomain"].Scalar().empty()) {
      mc.trust_domain = root["trustDomain"].Scalar();
    }
    YAML::Node capture = root["defaultConfig"]["proxyMetadata"]["ISTIO_META_DNS_CAPTURE"];
    mc.smart_dns = capture && capture.IsScalar() && capture.Scalar() == "true";
  } catch (const YAML::Exception&) {
    // A mesh config we cannot read leaves the defaults (what istiod itself would use for missing fields).
  }
  return mc;
}

// The host IPs of the scheduled pods a Service selects, sorted and unique: the nodes a NodePort certainly
// reaches the gateway on when the Node objects themselves cannot be read.
std::vector<std::string> HostAddresses(const json::object& svc, const std::vector<json::object>& pods) {
  const json::object* spec = Obj(svc, "spec");
  const auto selector = StrMap(spec ? Obj(*spec, "selector") : nullptr);
  std::set<std::string> out;
  if (selector.empty()) return {};
  for (const auto& pod : pods) {
    if (Namespace(pod) != Namespace(svc)) continue;
    auto labels = Labels(pod);
    bool selected = true;
    for (const auto& [k, v] : selector) selected = selected && labels.count(k) && labels[k] == v;
    const std::string host_ip = Str(Obj(pod, "status"), "hostIP");
    if (selected && !host_ip.empty()) out.insert(host_ip);
  }
  return {out.begin(), out.end()};
}

// The port of an egress gateway Service that carries TLS: "tls" or 15443 when it has one, else Istio's standard
// "https" (443); nullptr when it has neither.
const json::object* EgressTlsPort(const json::array& ports) {
  const json::object* https = nullptr;
  for (const auto& p : ports) {
    if (!p.is_object()) continue;
    const json::object& port = p.get_object();
    if (Str(&port, "name") == "tls" || Int(&port, "port") == 15443) return &port;
    if (https == nullptr && (Str(&port, "name") == "https" || Int(&port, "port") == 443)) https = &port;
  }
  return https;
}

// The gateway of `svc` if it is one of `istio_label`'s gateways. East-west and ingress gateways need a TLS port
// ("tls" or 15443); an egress gateway (`egress`) may use its "https" (443) port instead.
std::optional<api::v1::GatewayInfo> Gateway(const json::object& svc, const std::string& cluster,
                                            const std::vector<std::string>& node_addresses,
                                            const std::vector<json::object>& pods, bool egress = false) {
  const json::object* spec = Obj(svc, "spec");
  if (spec == nullptr) return std::nullopt;
  api::v1::GatewayInfo gw;
  gw.mutable_service()->set_name(Name(svc));
  gw.mutable_service()->set_namespace_(Namespace(svc));
  gw.mutable_service()->set_cluster_name(cluster);
  for (const auto& [k, v] : StrMap(Obj(*spec, "selector"))) (*gw.mutable_workload_labels())[k] = v;
  std::string type = Str(spec, "type");
  gw.set_service_type(type.empty() ? "ClusterIP" : type);
  std::uint32_t service_tls_port = 0;
  if (const json::array* ports = Arr(*spec, "ports")) {
    for (const auto& p : *ports) {
      if (!p.is_object()) continue;
      const json::object& port = p.get_object();
      if (egress ? &port != EgressTlsPort(*ports) : (Str(&port, "name") != "tls" && Int(&port, "port") != 15443))
        continue;
      gw.set_tls_port_name(Str(&port, "name"));
      std::int64_t target = Int(&port, "targetPort");
      gw.set_tls_container_port(static_cast<std::uint32_t>(target != 0 ? target : Int(&port, "port")));
      service_tls_port = static_cast<std::uint32_t>(Int(&port, "port"));
      gw.set_external_tls_port(
          static_cast<std::uint32_t>(type == "NodePort" ? Int(&port, "nodePort") : service_tls_port));
      break;
    }
  }
  if (gw.external_tls_port() == 0) return std::nullopt;
  std::vector<std::string> external_ips;
  if (const json::array* ips = Arr(*spec, "externalIPs")) {
    for (const auto& ip : *ips) {
      if (ip.is_string()) external_ips.emplace_back(ip.get_string());
    }
  }
  if (type == "LoadBalancer") {
    const json::object* status = Obj(svc, "status");
    const json::object* lb = status ? Obj(*status, "loadBalancer") : nullptr;
    if (const json::array* ingress = lb ? Arr(*lb, "ingress") : nullptr) {
      for (const auto& i : *ingress) {
        if (!i.is_object()) continue;
        std::string ip = Str(&i.get_object(), "ip");
        std::string host = Str(&i.get_object(), "hostname");
        if (!ip.empty())
          gw.add_external_addresses(ip);
        else if (!host.empty())
          gw.add_external_addresses(host);
      }
    }
  } else if (type == "NodePort") {
    const std::vector<std::string> addresses = node_addresses.empty() ? HostAddresses(svc, pods) : node_addresses;
    if (!addresses.empty() || external_ips.empty()) {
      // One port for every address: the node port on the nodes (external IPs answer on the Service port).
      for (const auto& a : addresses) gw.add_external_addresses(a);
      return gw;
    }
    gw.set_external_tls_port(service_tls_port);
  }
  for (const auto& ip : external_ips) gw.add_external_addresses(ip);
  return gw;
}

}  // namespace

std::vector<std::string> NodeAddresses(const std::vector<json::object>& nodes) {
  std::vector<std::string> external, internal;
  for (const auto& n : nodes) {
    const json::object* status = Obj(n, "status");
    const json::array* addrs = status ? Arr(*status, "addresses") : nullptr;
    if (addrs == nullptr) continue;
    for (const auto& a : *addrs) {
      if (!a.is_object()) continue;
      std::string type = Str(&a.get_object(), "type");
      std::string addr = Str(&a.get_object(), "address");
      if (type == "ExternalIP") external.push_back(addr);
      if (type == "InternalIP") internal.push_back(addr);
    }
  }
  return external.empty() ? internal : external;
}

std::string IstioVersionFromImage(const std::string& image) {
  size_t slash = image.find_last_of('/');
  size_t colon = image.find(':', slash == std::string::npos ? 0 : slash);
  if (colon == std::string::npos) return "";
  std::string tag = image.substr(colon + 1);
  size_t at = tag.find('@');
  if (at != std::string::npos) tag = tag.substr(0, at);
  size_t end = 0;
  int dots = 0;
  while (end < tag.size() && (std::isdigit(static_cast<unsigned char>(tag[end])) || tag[end] == '.')) {
    dots += tag[end] == '.';
    ++end;
  }
  if (end == 0 || dots == 0) return "";
  return tag.substr(0, end);
}

std::vector<api::v1::Mesh> DiscoverMeshes(const ClusterSnapshot& s) {
  std::vector<api::v1::Mesh> meshes;
  const std::vector<std::string> node_addresses = NodeAddresses(s.nodes);
  for (const auto& d : s.deployments) {
    auto labels = Labels(d);
    if (labels["app"] != "istiod") continue;
    const std::string ns = Namespace(d);
    std::string rev = labels.count("istio.io/rev") ? labels["istio.io/rev"] : "";
    if (rev == "default") rev.clear();

    api::v1::Mesh mesh;
    mesh.set_api_version("discovery.vmesh.dev/v1");
    mesh.set_kind("Mesh");
    mesh.mutable_metadata()->set_name(DiscoveredMeshName(s.cluster, ns, rev));
    mesh.mutable_metadata()->set_namespace_(s.hub_namespace);
    api::v1::MeshSpec* spec = mesh.mutable_spec();
    spec->set_cluster(s.cluster);
    spec->set_installation_namespace(ns);
    spec->set_revision(rev);

    const json::object* dspec = Obj(d, "spec");
    const json::object* tmpl = dspec ? Obj(*dspec, "template") : nullptr;
    const json::object* pod_spec = tmpl ? Obj(*tmpl, "spec") : nullptr;
    const json::object* tmeta = tmpl ? Obj(*tmpl, "metadata") : nullptr;
    for (const auto& [k, v] : StrMap(tmeta ? Obj(*tmeta, "labels") : nullptr)) (*spec->mutable_istiod_labels())[k] = v;
    std::string sa = Str(pod_spec, "serviceAccountName");
    spec->set_istiod_service_account(sa.empty() ? "istiod" : sa);
    std::string version;
    if (const json::array* containers = pod_spec ? Arr(*pod_spec, "containers") : nullptr) {
      for (const auto& c : *containers) {
        if (!c.is_object()) continue;
        std::string image = Str(&c.get_object(), "image");
        if (Str(&c.get_object(), "name") == "discovery" || image.find("pilot") != std::string::npos) {
          version = IstioVersionFromImage(image);
          if (!version.empty()) break;
        }
      }
    }
    if (version.empty()) version = labels["operator.istio.io/version"];
    spec->set_istio_version(version);
    spec->set_ca_hot_reload(VersionAtLeast(version, 1, 19));

    const std::string config_name = rev.empty() ? "istio" : "istio-" + rev;
    for (const auto& cm : s.config_maps) {
      if (Namespace(cm) != ns || Name(cm) != config_name) continue;
      MeshConfig mc = ParseMeshConfig(Str(Obj(cm, "data"), "mesh"));
      spec->set_trust_domain(mc.trust_domain);
      spec->set_smart_dns_proxying_enabled(mc.smart_dns);
    }
    if (spec->trust_domain().empty()) spec->set_trust_domain("cluster.local");
    for (const auto& n : s.namespaces) {
      if (Name(n) == ns) spec->set_network(Labels(n)["topology.istio.io/network"]);
    }

    for (const auto& svc : s.services) {
      auto svc_labels = Labels(svc);
      std::string svc_rev = svc_labels.count("istio.io/rev") ? svc_labels["istio.io/rev"] : "";
      if (svc_rev == "default") svc_rev.clear();
      if (svc_rev != rev) continue;
      const json::object* sspec = Obj(svc, "spec");
      std::string role = Str(sspec ? Obj(*sspec, "selector") : nullptr, "istio");
      if (role != "eastwestgateway" && role != "ingressgateway" && role != "egressgateway") continue;
      auto gw = Gateway(svc, s.cluster, node_addresses, s.pods, role == "egressgateway");
      if (!gw) continue;
      if (role == "eastwestgateway") {
        *spec->add_east_west_gateways() = *gw;
      } else if (role == "ingressgateway") {
        *spec->add_ingress_gateways() = *gw;
      } else {
        *spec->add_egress_gateways() = *gw;
      }
    }
    meshes.push_back(std::move(mesh));
  }
  std::sort(meshes.begin(), meshes.end(),
            [](const api::v1::Mesh& a, const api::v1::Mesh& b) { return a.metadata().name() < b.metadata().name(); });
  return meshes;
}

}  // namespace vmesh::agent
