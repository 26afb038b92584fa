#include "hub/controller/desired_state.h"

#include <boost/json.hpp>

#include "common/api/limited_trust.h"
#include "common/base/resource_names.h"
#include "hub/translate/access_policy.h"
#include "hub/translate/federation.h"
#include "hub/translate/limited_federation.h"

namespace vmesh::hub {

// A mesh's trust is in place only when its agent installed an intermediate for the generation directed now (the
// current root and intermediate options): a report about an earlier certificate — from before the VirtualMesh
// was re-created, or before its options changed — must not make the mesh ACCEPTED.
void RequireCurrentCertificates(const std::map<std::string, std::map<std::string, std::string>>& directed,
                                const std::map<std::string, MeshReport>& reports,
                                std::vector<VirtualMeshResult>& statuses) {
  for (auto& result : statuses) {
    auto vm = directed.find(result.key);
    if (vm == directed.end() || result.whole_invalid) continue;
    bool changed = false;
    for (auto& [key, mesh_status] : *result.status.mutable_meshes()) {
      if (mesh_status.state() != api::v1::ACCEPTED) continue;
      auto wanted = vm->second.find(key);
      if (wanted == vm->second.end()) continue;
      auto report = reports.find(key);
      const std::string installed = report == reports.end() ? "" : report->second.installed_generation;
      if (!wanted->second.empty() && installed == wanted->second) continue;
      mesh_status.set_state(api::v1::PENDING);
      mesh_status.add_errors(wanted->second.empty()
                                 ? "waiting for the root CA of " + result.key + " to be created"
                                 : "waiting for mesh " + key + " to install an intermediate CA of the current root (" +
                                       (installed.empty() ? "none installed yet"
                                                          : "it holds one of an earlier root or "
                                                            "options") +
                                       ")");
      changed = true;
    }
    if (changed) Summarize(result.status);
  }
}

link::v1::Resource OutputResource(const Output& o) {
  link::v1::Resource r;
  r.set_name(KubeResourceName(o.api_version, o.kind, o.namespace_, o.name));
  auto* k = r.mutable_kube_object();
  k->set_api_version(o.api_version);
  k->set_kind(o.kind);
  k->set_namespace_(o.namespace_);
  k->set_name(o.name);
  k->set_json(boost::json::serialize(o.object));
  return r;
}

std::map<std::string, api::v1::Mesh> ActiveMeshes(const HubState& state, const VirtualMeshResult& result) {
  std::map<std::string, api::v1::Mesh> active;
  for (const auto& key : result.active_meshes) {
    auto it = state.status.meshes.find(key);
    if (it != state.status.meshes.end()) active[key] = it->second;
  }
  return active;
}

bool InActiveMesh(const api::v1::Destination& d, const std::string& vm_namespace,
                  const std::map<std::string, api::v1::Mesh>& active) {
  const std::string key = d.spec().mesh().name() + "." +
                          (d.spec().mesh().namespace_().empty() ? vm_namespace : d.spec().mesh().namespace_());
  return active.count(key) > 0;
}

void CertificateDirectives(const HubState& state, const VirtualMeshResult& result,
                           const std::map<std::string, api::v1::Mesh>& active,
                           std::vector<std::pair<std::string, link::v1::Resource>>& resources,
                           std::map<std::string, std::string>& directed, std::set<std::string>& roots_needed) {
  const api::v1::VirtualMeshSpec& spec = *result.effective_spec;
  if (!spec.mtls_config().has_shared() || active.empty()) return;
  auto root = state.roots.find(result.key);
  if (root == state.roots.end()) {
    roots_needed.insert(result.key);
    for (const auto& [key, mesh] : active) directed[key] = "";
    return;
  }
  const auto& options = spec.mtls_config().shared().intermediate_cert_options();
  for (const auto& [key, mesh] : active) {
    link::v1::Resource r;
    r.set_name(CertResourceName(mesh.metadata().name()));
    auto* d = r.mutable_certificate();
    d->set_mesh(mesh.metadata().name());
    d->set_virtual_mesh(result.key);
    d->set_key_algorithm(options.key_algorithm());
    d->set_rsa_key_size_bits(options.key_algorithm() == api::v1::RSA
                                 ? (options.rsa_key_size_bytes() == 0 ? 4096 : options.rsa_key_size_bytes())
                                 : 0);
    d->set_generation(CertificateGeneration(root->second, options));
    d->set_trust_bundle_pem(root->second.trust_bundle_pem);
    d->set_auto_restart_pods(spec.mtls_config().auto_restart_pods());
    directed[key] = d->generation();
    resources.emplace_back(mesh.spec().cluster(), std::move(r));
  }
}

std::string GatewayCertificateGeneration(const RootInfo& gateway_ca) {
  return gateway_ca.fingerprint.substr(0, 16) + "-p256";
}

void GatewayCertificateDirectives(const HubState& state, const VirtualMeshResult& result,
                                  const std::map<std::string, api::v1::Mesh>& active,
                                  std::vector<std::pair<std::string, link::v1::Resource>>& resources,
                                  GatewayDirected& directed, std::set<std::string>& gateway_cas_needed) {
  if (!result.effective_spec->mtls_config().has_limited() || active.empty()) return;
  auto ca = state.gateway_cas.find(result.key);
  if (ca == state.gateway_cas.end()) gateway_cas_needed.insert(result.key);
  const ObjectKeyParts vm = ParseObjectKey(result.key);
  for (const auto& [key, mesh] : active) {
    for (api::GatewayRole role : {api::GatewayRole::kIngress, api::GatewayRole::kEgress}) {
      const auto& gateways =
          role == api::GatewayRole::kIngress ? mesh.spec().east_west_gateways() : mesh.spec().egress_gateways();
      std::set<std::string> namespaces;
      for (const auto& gw : gateways) namespaces.insert(gw.service().namespace_());
      if (namespaces.empty()) continue;
      const std::string role_name(api::GatewayRoleName(role));
      if (ca == state.gateway_cas.end()) {
        directed[key][role_name] = "";
        continue;
      }
      link::v1::Resource r;
      r.set_name(GatewayCertResourceName(mesh.metadata().name(), role_name));
      auto* d = r.mutable_gateway_certificate();
      d->set_mesh(mesh.metadata().name());
      d->set_virtual_mesh(result.key);
      d->set_role(role_name);
      for (const auto& ns : namespaces) d->add_namespaces(ns);
      d->set_spiffe_id(api::GatewaySpiffeId(vm.ns, vm.name, mesh.spec().cluster(), mesh.metadata().name(), role));
      d->set_generation(GatewayCertificateGeneration(ca->second));
      d->set_trust_bundle_pem(ca->second.trust_bundle_pem);
      directed[key][role_name] = d->generation();
      resources.emplace_back(mesh.spec().cluster(), std::move(r));
    }
  }
}

void RequireGatewayCertificates(const std::map<std::string, GatewayDirected>& directed,
                                const std::map<std::string, MeshReport>& reports,
                                std::vector<VirtualMeshResult>& statuses) {
  for (auto& result : statuses) {
    auto vm = directed.find(result.key);
    if (vm == directed.end() || result.whole_invalid) continue;
    bool changed = false;
    for (auto& [key, mesh_status] : *result.status.mutable_meshes()) {
      if (mesh_status.state() != api::v1::ACCEPTED) continue;
      auto wanted = vm->second.find(key);
      if (wanted == vm->second.end()) continue;
      auto report = reports.find(key);
      for (const auto& [role, generation] : wanted->second) {
        std::string installed;
        if (report != reports.end()) {
          auto it = report->second.gateway_installed_generations.find(role);
          if (it != report->second.gateway_installed_generations.end()) installed = it->second;
        }
        if (!generation.empty() && installed == generation) continue;
        mesh_status.set_state(api::v1::PENDING);
        mesh_status.add_errors(
            generation.empty()
                ? "waiting for the gateway CA of " + result.key + " to be created"
                : "waiting for mesh " + key + " to install its " + role + " gateway certificate (Secret " +
                      std::string(api::GatewaySecretName(role == "ingress" ? api::GatewayRole::kIngress
                                                                           : api::GatewayRole::kEgress)) +
                      (installed.empty() ? ", none installed yet)" : ", it holds one of an earlier gateway CA)"));
        changed = true;
      }
    }
    if (changed) Summarize(result.status);
  }
}

void AddLimitedTrustWarnings(const HubState& state, std::vector<VirtualMeshResult>& statuses) {
  for (size_t i = 0; i < statuses.size(); ++i) {
    VirtualMeshResult& result = statuses[i];
    if (!result.effective_spec || !result.effective_spec->mtls_config().has_limited()) continue;
    const auto& meta = state.status.virtual_meshes[i].current.metadata();
    LimitedFederationTranslator limited(meta.namespace_(), meta.name(), *result.effective_spec,
                                        ActiveMeshes(state, result));
    for (auto& w : limited.Warnings(state.access_policies)) result.status.add_warnings(std::move(w));
  }
}

std::string CertificateGeneration(const RootInfo& root, const api::v1::CommonCertOptions& options) {
  const std::uint32_t rsa_bits = options.key_algorithm() == api::v1::RSA
                                     ? (options.rsa_key_size_bytes() == 0 ? 4096 : options.rsa_key_size_bytes())
                                     : 0;
  return root.fingerprint.substr(0, 16) + (root.bundle_tag.empty() ? "" : "-" + root.bundle_tag) + "-" +
         std::to_string(options.key_algorithm()) + "-" + std::to_string(rsa_bits) + "-" +
         std::to_string(options.ttl_days());
}

DesiredState ComputeDesiredState(const HubState& state) {
  DesiredState out;
  out.statuses = ComputeStatuses(state.status);
  std::map<std::string, std::map<std::string, link::v1::Resource>> by_cluster;
  // VirtualMesh key -> mesh key -> the certificate generation directed now ("" while the root does not exist).
  std::map<std::string, std::map<std::string, std::string>> directed;
  std::map<std::string, GatewayDirected> gateway_directed;

  for (size_t i = 0; i < out.statuses.size(); ++i) {
    const VirtualMeshResult& result = out.statuses[i];
    if (!result.effective_spec) continue;
    const api::v1::VirtualMesh& vm = state.status.virtual_meshes[i].current;
    const api::v1::VirtualMeshSpec& spec = *result.effective_spec;
    const std::map<std::string, api::v1::Mesh> active = ActiveMeshes(state, result);

    // Certificates.
    std::vector<std::pair<std::string, link::v1::Resource>> certificates;
    CertificateDirectives(state, result, active, certificates, directed[result.key], out.roots_needed);
    if (directed[result.key].empty()) directed.erase(result.key);
    GatewayCertificateDirectives(state, result, active, certificates, gateway_directed[result.key],
                                 out.gateway_cas_needed);
    if (gateway_directed[result.key].empty()) gateway_directed.erase(result.key);
    for (auto& [cluster, r] : certificates) by_cluster[cluster][r.name()] = std::move(r);

    // Outputs over the active meshes' destinations.
    std::vector<api::v1::Destination> destinations;
    for (const auto& d : state.destinations) {
      if (InActiveMesh(d, vm.metadata().namespace_(), active)) destinations.push_back(d);
    }
    FederationTranslator federation(vm.metadata().namespace_(), vm.metadata().name(), spec, active);
    for (const auto& d : destinations) {
      for (const auto& receiver : federation.Receivers(d)) ++out.federated_destinations[receiver];
    }
    std::vector<Output> outputs;
    if (spec.mtls_config().has_limited()) {
      outputs = LimitedFederationTranslator(vm.metadata().namespace_(), vm.metadata().name(), spec, active)
                    .TranslateAll(destinations, state.access_policies);
    } else {
      outputs = federation.TranslateAll(destinations);
      AccessPolicyTranslator access(vm.metadata().namespace_(), vm.metadata().name(), spec, active);
      std::vector<Output> policies = access.Translate(state.access_policies, destinations);
      outputs.insert(outputs.end(), policies.begin(), policies.end());
    }
    for (const auto& o : outputs) {
      link::v1::Resource r = OutputResource(o);
      by_cluster[o.cluster][r.name()] = std::move(r);
    }
  }
  for (auto& [cluster, resources] : by_cluster) {
    auto& list = out.resources[cluster];
    list.reserve(resources.size());
    for (auto& [name, r] : resources) list.push_back(std::make_shared<const link::v1::Resource>(std::move(r)));
  }
  RequireCurrentCertificates(directed, state.status.reports, out.statuses);
  RequireGatewayCertificates(gateway_directed, state.status.reports, out.statuses);
  AddLimitedTrustWarnings(state, out.statuses);
  return out;
}

}  // namespace vmesh::hub
