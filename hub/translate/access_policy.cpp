#include "hub/translate/access_policy.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <set>

#include "common/base/version.h"

namespace vmesh::hub {
namespace json = boost::json;

std::string SecurityApiVersion(const api::v1::Mesh& mesh) {
  return VersionAtLeast(mesh.spec().istio_version(), 1, 22) ? "security.istio.io/v1" : "security.istio.io/v1beta1";
}

std::string MeshTrustDomain(const api::v1::Mesh& mesh) {
  return mesh.spec().trust_domain().empty() ? "cluster.local" : mesh.spec().trust_domain();
}

Output AuthorizationPolicyOutput(const api::v1::Mesh& mesh, const std::string& ns, const std::string& name,
                                 const std::string& vm_label, json::object spec) {
  Output o;
  o.cluster = mesh.spec().cluster();
  o.api_version = SecurityApiVersion(mesh);
  o.kind = "AuthorizationPolicy";
  o.namespace_ = ns;
  o.name = name;
  json::object labels{{kManagedByLabel, "vmesh"}, {kVirtualMeshLabel, vm_label}};
  o.object = json::object{{"apiVersion", o.api_version},
                          {"kind", o.kind},
                          {"metadata", json::object{{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}}},
                          {"spec", std::move(spec)}};
  return o;
}

namespace {

json::object MatchLabels(const std::map<std::string, std::string>& labels) {
  json::object m;
  for (const auto& [k, v] : labels) m[k] = v;
  return json::object{{"matchLabels", std::move(m)}};
}

}  // namespace

AccessPolicyTranslator::AccessPolicyTranslator(std::string ns, std::string name, api::v1::VirtualMeshSpec spec,
                                               std::map<std::string, api::v1::Mesh> meshes)
    : vm_namespace_(std::move(ns)), vm_name_(std::move(name)), spec_(std::move(spec)), meshes_(std::move(meshes)) {}

std::vector<std::string> AccessPolicyTranslator::Principals(const api::v1::IdentitySelector& selector) const {
  std::set<std::string> out;
  // Trust domains of the meshes in the given clusters (all meshes when no cluster is named).
  auto domains = [&](const std::string& cluster) {
    std::set<std::string> tds;
    for (const auto& [key, mesh] : meshes_) {
      if (cluster.empty() || mesh.spec().cluster() == cluster) tds.insert(MeshTrustDomain(mesh));
    }
    return tds;
  };
  if (selector.has_kube_service_account_refs()) {
    for (const auto& sa : selector.kube_service_account_refs().service_accounts()) {
      for (const auto& td : domains(sa.cluster_name())) {
        const std::string ns = sa.namespace_().empty() ? "*" : sa.namespace_();
        if (ns == "*") {
          out.insert(td + "/*");  // Istio principals allow one wildcard, as prefix or suffix
        } else {
          out.insert(td + "/ns/" + ns + "/sa/" + (sa.name().empty() ? "*" : sa.name()));
        }
      }
    }
  } else if (selector.has_kube_identity_matcher()) {
    const auto& m = selector.kube_identity_matcher();
    std::vector<std::string> clusters(m.clusters().begin(), m.clusters().end());
    if (clusters.empty()) clusters.push_back("");
    for (const auto& cluster : clusters) {
      for (const auto& td : domains(cluster)) {
        if (m.namespaces().empty()) {
          out.insert(td + "/*");
        } else {
          for (const auto& ns : m.namespaces()) out.insert(td + "/ns/" + ns + "/sa/*");
        }
      }
    }
  } else {
    out.insert("*");
  }
  return {out.begin(), out.end()};
}

bool AccessPolicyTranslator::enabled() const {
  return spec_.global_access_policy() == api::v1::VirtualMeshSpec::ENABLED;
}

std::vector<Output> AccessPolicyTranslator::MeshPolicies() const {
  std::vector<Output> out;
  if (!enabled()) return out;
  const std::string vm_label = vm_namespace_ + "." + vm_name_;
  for (const auto& [key, mesh] : meshes_) {
    const std::string& root_ns = mesh.spec().installation_namespace();
    out.push_back(AuthorizationPolicyOutput(mesh, root_ns, "vmesh-global-deny", vm_label, json::object()));
    std::vector<const api::v1::GatewayInfo*> gateways;
    for (const auto& gw : mesh.spec().east_west_gateways()) gateways.push_back(&gw);
    for (const auto& gw : mesh.spec().ingress_gateways()) gateways.push_back(&gw);
    for (const auto* gw : gateways) {
      std::map<std::string, std::string> labels(gw->workload_labels().begin(), gw->workload_labels().end());
      if (labels.empty()) continue;  // an empty selector would allow everything in the namespace
      json::object spec{{"selector", MatchLabels(labels)}, {"action", "ALLOW"}, {"rules", json::array{json::object()}}};
      const std::string ns = gw->service().namespace_().empty() ? root_ns : gw->service().namespace_();
      out.push_back(
          AuthorizationPolicyOutput(mesh, ns, "vmesh-allow-" + gw->service().name(), vm_label, std::move(spec)));
    }
  }
  return out;
}

std::vector<json::object> AccessPolicyTranslator::Rules(const std::vector<api::v1::AccessPolicy>& policies) const {
  std::vector<json::object> rules;
  for (const auto& ap : policies) {
    json::array principals;
    std::set<std::string> all;
    for (const auto& src : ap.spec().source_selector()) {
      for (const auto& p : Principals(src)) all.insert(p);
    }
    if (ap.spec().source_selector().empty()) all.insert("*");
    for (const auto& p : all) principals.push_back(json::string(p));
    json::object rule;
    if (!(all.size() == 1 && *all.begin() == "*")) {
      rule["from"] = json::array{json::object{{"source", json::object{{"principals", std::move(principals)}}}}};
    }
    json::object operation;
    if (!ap.spec().allowed_ports().empty()) {
      json::array ports;
      for (auto p : ap.spec().allowed_ports()) ports.push_back(json::string(std::to_string(p)));
      operation["ports"] = std::move(ports);
    }
    if (!ap.spec().allowed_methods().empty()) {
      operation["methods"] = json::array(ap.spec().allowed_methods().begin(), ap.spec().allowed_methods().end());
    }
    if (!ap.spec().allowed_paths().empty()) {
      operation["paths"] = json::array(ap.spec().allowed_paths().begin(), ap.spec().allowed_paths().end());
    }
    if (!operation.empty()) rule["to"] = json::array{json::object{{"operation", std::move(operation)}}};
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::vector<Output> AccessPolicyTranslator::DestinationPolicies(const std::vector<api::v1::AccessPolicy>& policies,
                                                                const std::vector<json::object>& rules,
                                                                const api::v1::Destination& destination) const {
  std::vector<Output> out;
  if (!enabled()) return out;
  const auto& d = destination.spec();
  // The mesh of the destination's cluster (the last of the cluster's meshes, by key).
  const api::v1::Mesh* mesh = nullptr;
  for (const auto& [key, m] : meshes_) {
    if (m.spec().cluster() == d.cluster()) mesh = &m;
  }
  if (mesh == nullptr) return out;
  std::map<std::string, std::string> selector(d.selector().begin(), d.selector().end());
  if (selector.empty()) return out;  // a Service without a selector has no workloads to protect
  const std::string vm_label = vm_namespace_ + "." + vm_name_;
  for (size_t i = 0; i < policies.size(); ++i) {
    const auto& ap = policies[i];
    bool selected = ap.spec().destination_selector().empty();
    for (const auto& sel : ap.spec().destination_selector()) selected |= SelectorMatches(sel, d);
    if (!selected) continue;
    json::object spec{{"selector", MatchLabels(selector)}, {"action", "ALLOW"}, {"rules", json::array{rules[i]}}};
    out.push_back(AuthorizationPolicyOutput(*mesh, d.namespace_(), "vmesh-" + ap.metadata().name() + "-" + d.name(),
                                            vm_label, std::move(spec)));
  }
  return out;
}

std::vector<Output> AccessPolicyTranslator::Translate(const std::vector<api::v1::AccessPolicy>& policies,
                                                      const std::vector<api::v1::Destination>& destinations) const {
  std::vector<Output> out = MeshPolicies();
  if (!enabled()) return out;
  const std::vector<json::object> rules = Rules(policies);
  for (const auto& dest : destinations) {
    auto more = DestinationPolicies(policies, rules, dest);
    out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  std::sort(out.begin(), out.end(), [](const Output& a, const Output& b) { return a.Key() < b.Key(); });
  return out;
}

}  // namespace vmesh::hub
