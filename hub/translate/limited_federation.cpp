#include "hub/translate/limited_federation.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <optional>
#include <set>

#include "common/api/limited_trust.h"

namespace vmesh::hub {

std::string GatewayNamespace(const api::v1::GatewayInfo& gw, const api::v1::Mesh& mesh) {
  return gw.service().namespace_().empty() ? mesh.spec().installation_namespace() : gw.service().namespace_();
}

namespace {

namespace json = boost::json;

constexpr char kClusterDomain[] = "svc.cluster.local";

// Kubernetes DNS name of a gateway's Service.
std::string ServiceFqdn(const api::v1::GatewayInfo& gw, const api::v1::Mesh& mesh) {
  return gw.service().name() + "." + GatewayNamespace(gw, mesh) + "." + kClusterDomain;
}

// The port a gateway's Gateway servers listen on and the sidecars' routes dial: its Service's TLS port.
std::uint32_t EgressPort(const api::v1::GatewayInfo& gw) {
  if (gw.service_type() != "NodePort" && gw.external_tls_port() != 0) return gw.external_tls_port();
  return gw.tls_container_port() != 0 ? gw.tls_container_port() : 443;
}

std::uint32_t IngressPort(const api::v1::GatewayInfo& gw) {
  return gw.tls_container_port() != 0 ? gw.tls_container_port() : 15443;
}

json::object Selector(const api::v1::GatewayInfo& gw) {
  json::object selector;
  for (const auto& [k, v] :
       std::map<std::string, std::string>(gw.workload_labels().begin(), gw.workload_labels().end())) {
    selector[k] = v;
  }
  return selector;
}

// A DNS-1123 label naming the sidecar -> egress subset of one port of a host: unique among every DestinationRule
// Istio merges for the egress gateway's host.
std::string SubsetName(const std::string& host, std::uint32_t port) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a 64, stable everywhere
  for (char c : host) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(h));
  std::string prefix = host.substr(0, std::min<size_t>(host.find('.'), 24));
  while (!prefix.empty() && prefix.back() == '-') prefix.pop_back();
  return prefix + "-p" + std::to_string(port) + "-" + hash;
}

// The kind of VirtualService route a sidecar uses for a port of this protocol.
const char* RouteKind(const std::string& protocol) {
  if (protocol == "HTTP" || protocol == "HTTP2" || protocol == "GRPC" || protocol == "GRPC-Web") return "http";
  if (protocol == "HTTPS" || protocol == "TLS") return "tls";
  return "tcp";
}

json::object PortSelector(std::uint32_t port) { return json::object{{"number", port}}; }

bool PortAllowed(const api::v1::AccessPolicy& ap, const api::v1::ServicePort& p) {
  if (ap.spec().allowed_ports().empty()) return true;
  for (auto allowed : ap.spec().allowed_ports()) {
    if (allowed == p.port() || std::to_string(allowed) == p.target_port()) return true;
  }
  return false;
}

// The clusters an AccessPolicy's sources may be in; nullopt when any cluster.
std::optional<std::set<std::string>> SourceClusters(const api::v1::AccessPolicy& ap) {
  std::set<std::string> clusters;
  if (ap.spec().source_selector().empty()) return std::nullopt;
  for (const auto& src : ap.spec().source_selector()) {
    if (src.has_kube_service_account_refs()) {
      for (const auto& sa : src.kube_service_account_refs().service_accounts()) {
        if (sa.cluster_name().empty()) return std::nullopt;
        clusters.insert(sa.cluster_name());
      }
    } else if (src.has_kube_identity_matcher()) {
      if (src.kube_identity_matcher().clusters().empty()) return std::nullopt;
      clusters.insert(src.kube_identity_matcher().clusters().begin(), src.kube_identity_matcher().clusters().end());
    } else {
      return std::nullopt;
    }
  }
  return clusters;
}

// The clusters an AccessPolicy's destinations may be in; nullopt when any cluster.
std::optional<std::set<std::string>> DestinationClusters(const api::v1::AccessPolicy& ap) {
  std::set<std::string> clusters;
  if (ap.spec().destination_selector().empty()) return std::nullopt;
  for (const auto& sel : ap.spec().destination_selector()) {
    if (sel.has_kube_service_refs()) {
      for (const auto& ref : sel.kube_service_refs().services()) {
        if (ref.cluster_name().empty()) return std::nullopt;
        clusters.insert(ref.cluster_name());
      }
    } else if (sel.has_kube_service_matcher()) {
      if (sel.kube_service_matcher().clusters().empty()) return std::nullopt;
      clusters.insert(sel.kube_service_matcher().clusters().begin(), sel.kube_service_matcher().clusters().end());
    } else {
      return std::nullopt;
    }
  }
  return clusters;
}

// The principals of a rule's sources (rule["from"][0].source.principals); nullopt when the rule admits any source.
std::optional<std::vector<std::string>> RulePrincipals(const json::object& rule) {
  const json::value* from = rule.if_contains("from");
  if (from == nullptr) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& p : from->at(0).at("source").at("principals").as_array()) out.emplace_back(p.as_string());
  return out;
}

json::object FromPrincipals(const std::vector<std::string>& principals) {
  json::array list;
  for (const auto& p : std::set<std::string>(principals.begin(), principals.end())) list.push_back(json::string(p));
  return json::object{{"source", json::object{{"principals", std::move(list)}}}};
}

}  // namespace

std::string LimitedLegHost(const std::string& host, std::uint32_t port) {
  return "p" + std::to_string(port) + "." + host;
}

const api::v1::GatewayInfo* SelectEgressGateway(const api::v1::Mesh& mesh) {
  for (const auto& gw : mesh.spec().egress_gateways()) {
    if (!gw.workload_labels().empty() && !gw.service().name().empty()) return &gw;
  }
  return nullptr;
}

LimitedFederationTranslator::LimitedFederationTranslator(std::string ns, std::string name,
                                                         api::v1::VirtualMeshSpec spec,
                                                         std::map<std::string, api::v1::Mesh> meshes)
    : vm_namespace_(std::move(ns)),
      vm_name_(std::move(name)),
      spec_(std::move(spec)),
      meshes_(std::move(meshes)),
      federation_(vm_namespace_, vm_name_, spec_, meshes_),
      access_(vm_namespace_, vm_name_, spec_, meshes_) {
  std::map<std::string, std::map<std::string, api::v1::Mesh>> by_cluster;
  for (const auto& [key, m] : meshes_) by_cluster[m.spec().cluster()][key] = m;
  for (auto& [cluster, local] : by_cluster) {
    by_cluster_.try_emplace(cluster, vm_namespace_, vm_name_, spec_, std::move(local));
  }
}

std::vector<std::string> LimitedFederationTranslator::Receivers(const api::v1::Destination& destination) const {
  return federation_.Receivers(destination);
}

const api::v1::Mesh* LimitedFederationTranslator::MeshOfCluster(const std::string& cluster) const {
  const api::v1::Mesh* mesh = nullptr;
  for (const auto& [key, m] : meshes_) {
    if (m.spec().cluster() == cluster) mesh = &m;  // the last of the cluster's meshes, as AccessPolicyTranslator
  }
  return mesh;
}

std::vector<std::string> LimitedFederationTranslator::IngressPrincipals(const api::v1::Mesh& mesh) const {
  const api::v1::GatewayInfo* gw = SelectEastWestGateway(spec_, vm_namespace_, mesh);
  if (gw == nullptr) return {};
  const std::string prefix = MeshTrustDomain(mesh) + "/ns/" + GatewayNamespace(*gw, mesh) + "/sa/";
  // The gateway Helm chart names the service account after the gateway; istioctl installs add "-service-account".
  return {prefix + gw->service().name(), prefix + gw->service().name() + "-service-account"};
}

std::vector<Output> LimitedFederationTranslator::TranslateDestination(const api::v1::Destination& destination) const {
  std::vector<Output> out;
  const std::vector<std::string> receiver_keys = Receivers(destination);
  const api::v1::DestinationSpec& d = destination.spec();
  // Gateways route per Service port: a Service without ports has nothing to route (and a Gateway needs servers).
  if (receiver_keys.empty() || d.ports().empty()) return out;
  const api::v1::Mesh& source = meshes_.at(federation_.SourceMeshKey(destination));
  const api::v1::GatewayInfo* ingress = SelectEastWestGateway(spec_, vm_namespace_, source);
  if (ingress == nullptr) return out;  // status reports the mesh INVALID (no usable east-west gateway)
  std::vector<const api::v1::Mesh*> receivers;
  for (const auto& key : receiver_keys) {
    const api::v1::Mesh& r = meshes_.at(key);
    if (SelectEgressGateway(r) != nullptr) receivers.push_back(&r);  // else status reports it INVALID
  }
  if (receivers.empty()) return out;

  const std::string vm_label = vm_namespace_ + "." + vm_name_;
  const std::string host = FederatedHost(d.name(), d.namespace_(), d.cluster(), federation_.suffix());
  const std::string vip = FederatedVip(d.name(), d.namespace_(), d.cluster());
  const std::string ingress_id = api::GatewaySpiffeId(vm_namespace_, vm_name_, source.spec().cluster(),
                                                      source.metadata().name(), api::GatewayRole::kIngress);

  // Server side: the east-west gateway terminates the gateways' mutual TLS and forwards to the Service.
  {
    const std::string ns = GatewayNamespace(*ingress, source);
    const std::string version = NetworkingApiVersion(source);
    const std::string gateway_name = "vmesh-ingress-" + host;
    const std::uint32_t port = IngressPort(*ingress);
    const std::string service = d.name() + "." + d.namespace_() + "." + kClusterDomain;
    json::array allowed_clients;
    for (const auto* r : receivers) {
      allowed_clients.push_back(json::string(api::GatewaySpiffeId(vm_namespace_, vm_name_, r->spec().cluster(),
                                                                  r->metadata().name(), api::GatewayRole::kEgress)));
    }
    json::array servers;
    for (const auto& p : d.ports()) {
      json::object tls{{"mode", "MUTUAL"},
                       {"credentialName", std::string(api::GatewaySecretName(api::GatewayRole::kIngress))},
                       {"subjectAltNames", allowed_clients}};
      servers.push_back(json::object{
          {"port", json::object{{"number", port}, {"name", "tls-p" + std::to_string(p.port())}, {"protocol", "TLS"}}},
          {"hosts", json::array{json::string(LimitedLegHost(host, p.port()))}},
          {"tls", std::move(tls)}});
      json::object route{{"destination", json::object{{"host", service}, {"port", PortSelector(p.port())}}}};
      json::object vs{{"hosts", json::array{json::string(LimitedLegHost(host, p.port()))}},
                      {"gateways", json::array{json::string(ns + "/" + gateway_name)}},
                      {"exportTo", json::array{"."}},
                      {"tcp", json::array{json::object{{"match", json::array{json::object{{"port", port}}}},
                                                       {"route", json::array{std::move(route)}}}}}};
      out.push_back(MakeOutput(source.spec().cluster(), version, "VirtualService",
                               OutputMetadata("vmesh-ingress-" + std::to_string(p.port()) + "-" + host, ns, vm_label),
                               std::move(vs)));
    }
    json::object gateway{{"selector", Selector(*ingress)}, {"servers", std::move(servers)}};
    out.push_back(MakeOutput(source.spec().cluster(), version, "Gateway", OutputMetadata(gateway_name, ns, vm_label),
                             std::move(gateway)));
    json::object policy{{"tls", json::object{{"mode", "ISTIO_MUTUAL"}}}};
    AddTcpKeepalive(spec_, policy);
    json::object dr{{"host", service}, {"exportTo", json::array{"."}}, {"trafficPolicy", std::move(policy)}};
    out.push_back(MakeOutput(source.spec().cluster(), version, "DestinationRule",
                             OutputMetadata("vmesh-ingress-" + host, ns, vm_label), std::move(dr)));
  }

  // Client side, per receiving mesh: sidecars -> egress gateway -> the source's east-west gateway.
  std::vector<std::string> addresses(ingress->external_addresses().begin(), ingress->external_addresses().end());
  std::sort(addresses.begin(), addresses.end());
  bool hostnames = false;
  json::array endpoints;
  for (const auto& address : addresses) {
    hostnames |= !IsIpLiteral(address);
    json::object ports;
    for (const auto& p : d.ports()) ports[ServicePortName(p)] = ingress->external_tls_port();
    endpoints.push_back(json::object{{"address", address}, {"ports", std::move(ports)}});
  }
  for (const auto* r : receivers) {
    const api::v1::GatewayInfo& egress = *SelectEgressGateway(*r);
    const std::string cluster = r->spec().cluster();
    const std::string ns = GatewayNamespace(egress, *r);
    const std::string version = NetworkingApiVersion(*r);
    const std::string egress_host = ServiceFqdn(egress, *r);
    const std::uint32_t egress_port = EgressPort(egress);
    const std::string gateway_name = "vmesh-egress-" + host;

    json::object se{{"hosts", json::array{json::string(host)}},
                    {"addresses", json::array{json::string(vip)}},
                    {"location", "MESH_INTERNAL"},
                    {"ports", ServiceEntryPorts(d)},
                    {"resolution", hostnames ? "DNS" : "STATIC"},
                    {"endpoints", endpoints}};
    out.push_back(MakeOutput(cluster, version, "ServiceEntry", OutputMetadata(host, ns, vm_label), std::move(se)));

    json::object mesh_vs{{"hosts", json::array{json::string(host)}}, {"gateways", json::array{"mesh"}}};
    json::array subsets;
    json::array servers;
    json::array port_level;
    for (const auto& p : d.ports()) {
      const std::string leg = LimitedLegHost(host, p.port());
      const std::string subset = SubsetName(host, p.port());
      const std::string kind = RouteKind(IstioProtocol(p));
      json::object to_egress{
          {"destination",
           json::object{{"host", egress_host}, {"subset", subset}, {"port", PortSelector(egress_port)}}}};
      json::object match{{"port", p.port()}};
      if (kind == "tls") match["sniHosts"] = json::array{json::string(host)};
      json::object route{{"match", json::array{std::move(match)}}, {"route", json::array{std::move(to_egress)}}};
      if (kind == "http") route["name"] = "p" + std::to_string(p.port());
      if (!mesh_vs.contains(kind)) mesh_vs[kind] = json::array();
      mesh_vs[kind].as_array().push_back(std::move(route));

      subsets.push_back(
          json::object{{"name", subset},
                       {"trafficPolicy", json::object{{"tls", json::object{{"mode", "ISTIO_MUTUAL"}, {"sni", leg}}}}}});
      servers.push_back(json::object{
          {"port",
           json::object{{"number", egress_port}, {"name", "tls-p" + std::to_string(p.port())}, {"protocol", "TLS"}}},
          {"hosts", json::array{json::string(leg)}},
          {"tls", json::object{{"mode", "ISTIO_MUTUAL"}}}});
      json::object to_remote{{"destination", json::object{{"host", host}, {"port", PortSelector(p.port())}}}};
      json::object leg_vs{{"hosts", json::array{json::string(leg)}},
                          {"gateways", json::array{json::string(ns + "/" + gateway_name)}},
                          {"exportTo", json::array{"."}},
                          {"tcp", json::array{json::object{{"match", json::array{json::object{{"port", egress_port}}}},
                                                           {"route", json::array{std::move(to_remote)}}}}}};
      out.push_back(MakeOutput(cluster, version, "VirtualService",
                               OutputMetadata("vmesh-egress-" + std::to_string(p.port()) + "-" + host, ns, vm_label),
                               std::move(leg_vs)));
      port_level.push_back(json::object{
          {"port", PortSelector(p.port())},
          {"tls", json::object{{"mode", "MUTUAL"},
                               {"credentialName", std::string(api::GatewaySecretName(api::GatewayRole::kEgress))},
                               {"sni", leg},
                               {"subjectAltNames", json::array{json::string(ingress_id)}}}}});
    }
    out.push_back(
        MakeOutput(cluster, version, "VirtualService", OutputMetadata(host, ns, vm_label), std::move(mesh_vs)));
    out.push_back(MakeOutput(cluster, version, "DestinationRule", OutputMetadata(gateway_name, ns, vm_label),
                             json::object{{"host", egress_host}, {"subsets", std::move(subsets)}}));
    out.push_back(MakeOutput(cluster, version, "Gateway", OutputMetadata(gateway_name, ns, vm_label),
                             json::object{{"selector", Selector(egress)}, {"servers", std::move(servers)}}));
    json::object policy{
        {"tls", json::object{{"mode", "MUTUAL"},
                             {"credentialName", std::string(api::GatewaySecretName(api::GatewayRole::kEgress))},
                             {"subjectAltNames", json::array{json::string(ingress_id)}}}},
        {"portLevelSettings", std::move(port_level)}};
    AddTcpKeepalive(spec_, policy);
    out.push_back(
        MakeOutput(cluster, version, "DestinationRule", OutputMetadata(host, ns, vm_label),
                   json::object{{"host", host}, {"exportTo", json::array{"."}}, {"trafficPolicy", std::move(policy)}}));
  }
  return out;
}

std::vector<Output> LimitedFederationTranslator::MeshPolicies() const { return access_.MeshPolicies(); }

std::vector<Output> LimitedFederationTranslator::DestinationPolicies(const std::vector<api::v1::AccessPolicy>& policies,
                                                                     const api::v1::Destination& destination) const {
  std::vector<Output> out;
  if (!access_.enabled()) return out;
  const api::v1::DestinationSpec& d = destination.spec();
  const api::v1::Mesh* mesh = MeshOfCluster(d.cluster());
  if (mesh == nullptr) return out;
  const std::string vm_label = vm_namespace_ + "." + vm_name_;
  const std::string host = FederatedHost(d.name(), d.namespace_(), d.cluster(), federation_.suffix());
  // Sources reach the destination from other clusters only when it is federated there (through their egress
  // gateways and its east-west gateway).
  std::vector<const api::v1::Mesh*> receivers;
  if (SelectEastWestGateway(spec_, vm_namespace_, *mesh) != nullptr) {
    for (const auto& key : Receivers(destination)) {
      if (SelectEgressGateway(meshes_.at(key)) != nullptr) receivers.push_back(&meshes_.at(key));
    }
  }
  const AccessPolicyTranslator& here = by_cluster_.at(d.cluster());
  std::map<std::string, std::string> workload(d.selector().begin(), d.selector().end());

  for (const auto& ap : policies) {
    bool selected = ap.spec().destination_selector().empty();
    for (const auto& sel : ap.spec().destination_selector()) selected |= SelectorMatches(sel, d);
    if (!selected) continue;
    const std::optional<std::set<std::string>> source_clusters = SourceClusters(ap);
    auto may_come_from = [&](const std::string& cluster) {
      return !source_clusters || source_clusters->count(cluster) > 0;
    };

    // At the destination: local sources as themselves, remote ones as this mesh's ingress gateway.
    if (!workload.empty()) {
      json::object rule = here.Rules({ap})[0];
      bool admits_someone = true;
      if (std::optional<std::vector<std::string>> principals = RulePrincipals(rule)) {
        bool remote = false;
        for (const auto* r : receivers) remote |= may_come_from(r->spec().cluster());
        if (remote) {
          for (const auto& p : IngressPrincipals(*mesh)) principals->push_back(p);
        }
        admits_someone = !principals->empty();  // an empty list would admit anyone
        rule["from"] = json::array{FromPrincipals(*principals)};
      }
      if (admits_someone) {
        json::object matcher;
        for (const auto& [k, v] : workload) matcher[k] = v;
        json::object spec{{"selector", json::object{{"matchLabels", std::move(matcher)}}},
                          {"action", "ALLOW"},
                          {"rules", json::array{std::move(rule)}}};
        out.push_back(AuthorizationPolicyOutput(*mesh, d.namespace_(), "vmesh-" + ap.metadata().name() + "-" + d.name(),
                                                vm_label, std::move(spec)));
      }
    }

    // At each receiving mesh's egress gateway: the policy's sources there, for the ports it allows.
    json::array snis;
    for (const auto& p : d.ports()) {
      if (PortAllowed(ap, p)) snis.push_back(json::string(LimitedLegHost(host, p.port())));
    }
    if (snis.empty()) continue;
    for (const auto* r : receivers) {
      if (!may_come_from(r->spec().cluster())) continue;
      const AccessPolicyTranslator& there = by_cluster_.at(r->spec().cluster());
      json::object rule{{"when", json::array{json::object{{"key", "connection.sni"}, {"values", snis}}}}};
      if (std::optional<std::vector<std::string>> principals = RulePrincipals(there.Rules({ap})[0])) {
        if (principals->empty()) continue;
        rule["from"] = json::array{FromPrincipals(*principals)};
      }
      const api::v1::GatewayInfo& egress = *SelectEgressGateway(*r);
      json::object spec{{"selector", json::object{{"matchLabels", Selector(egress)}}},
                        {"action", "ALLOW"},
                        {"rules", json::array{std::move(rule)}}};
      out.push_back(AuthorizationPolicyOutput(*r, GatewayNamespace(egress, *r),
                                              "vmesh-egress-" + ap.metadata().name() + "-" + host, vm_label,
                                              std::move(spec)));
    }
  }
  return out;
}

std::vector<Output> LimitedFederationTranslator::TranslateAll(
    const std::vector<api::v1::Destination>& destinations, const std::vector<api::v1::AccessPolicy>& policies) const {
  std::vector<Output> out = MeshPolicies();
  for (const auto& d : destinations) {
    auto traffic = TranslateDestination(d);
    out.insert(out.end(), std::make_move_iterator(traffic.begin()), std::make_move_iterator(traffic.end()));
    auto authz = DestinationPolicies(policies, d);
    out.insert(out.end(), std::make_move_iterator(authz.begin()), std::make_move_iterator(authz.end()));
  }
  std::sort(out.begin(), out.end(), [](const Output& a, const Output& b) { return a.Key() < b.Key(); });
  return out;
}

std::vector<std::string> LimitedFederationTranslator::Warnings(
    const std::vector<api::v1::AccessPolicy>& policies) const {
  std::set<std::string> out;
  if (spec_.federation().flat_network()) {
    out.insert(
        "spec.federation.flatNetwork is ignored under limited trust: each mesh keeps its own CA, so cross-cluster "
        "traffic always goes through the local egress gateway and the remote east-west gateway");
  }
  if (!access_.enabled()) return {out.begin(), out.end()};
  std::set<std::string> members;
  for (const auto& [key, m] : meshes_) members.insert(m.spec().cluster());
  for (const auto& ap : policies) {
    if (ap.spec().source_selector().empty()) continue;  // any source: nothing to tell apart
    const auto sources = SourceClusters(ap);
    const auto targets = DestinationClusters(ap);
    // The first destination cluster that a source in another cluster may reach: its gateway is the identity
    // the destination sees.
    std::string lost_in;
    for (const auto& t : members) {
      if (!lost_in.empty() || (targets && !targets->count(t))) continue;
      for (const auto& s : members) {
        if (s != t && (!sources || sources->count(s))) lost_in = t;
      }
    }
    if (lost_in.empty()) continue;
    const api::v1::Mesh* mesh = MeshOfCluster(lost_in);
    std::vector<std::string> principals = mesh ? IngressPrincipals(*mesh) : std::vector<std::string>{};
    out.insert("AccessPolicy " + ap.metadata().namespace_() + "/" + ap.metadata().name() +
               ": under limited trust its sources in other clusters reach a destination through the destination "
               "mesh's east-west gateway, so the destination sees that gateway's identity (in cluster " +
               lost_in + ": " + (principals.empty() ? std::string("its east-west gateway") : principals[0]) +
               "), not the source's: the source identity is checked only at the egress gateway of the source's "
               "cluster, and allowedMethods/allowedPaths apply at the destination to every remote source that any "
               "AccessPolicy admits");
  }
  return {out.begin(), out.end()};
}

}  // namespace vmesh::hub
