#include "hub/reconcile/virtual_mesh_status.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <numeric>

#include "common/api/validation.h"
#include "common/base/resource_names.h"
#include "hub/translate/federation.h"
#include "hub/translate/limited_federation.h"

namespace vmesh::hub {
namespace {

using api::v1::ApprovalState;
using api::v1::ApprovalStatus;
using api::v1::VirtualMeshSpec;

std::string VmKey(const api::v1::VirtualMesh& vm) {
  return ObjectKey(vm.metadata().namespace_(), vm.metadata().name());
}

std::vector<std::string> MeshKeys(const VirtualMeshSpec& spec, const std::string& ns) {
  std::vector<std::string> keys;
  for (const auto& ref : spec.meshes()) {
    std::string key = MeshKey(ref, ns);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  return keys;
}

// Problems that make the whole VirtualMesh INVALID (rule 1).
std::vector<std::string> WholeObjectErrors(const VirtualMeshInput& in, const StatusInput& input) {
  std::vector<std::string> errors;
  for (const auto& e : api::ValidateVirtualMesh(in.current)) {
    errors.push_back((e.path.empty() ? "" : e.path + ": ") + e.message);
  }
  const std::string& ns = in.current.metadata().namespace_();
  const auto& refs = in.current.spec().meshes();
  for (int i = 0; i < refs.size(); ++i) {
    auto mesh = input.meshes.find(MeshKey(refs[i], ns));
    if (mesh != input.meshes.end() && input.deregistered_clusters.count(mesh->second.spec().cluster())) {
      errors.push_back("spec.meshes[" + std::to_string(i) + "]: mesh " + mesh->first + " belongs to cluster " +
                       mesh->second.spec().cluster() +
                       ", which was deregistered; remove it from the VirtualMesh or register the cluster again");
    }
  }
  if (in.root_secret_problem) {
    errors.push_back("spec.mtlsConfig.shared.rootCertificateAuthority.secret: " + *in.root_secret_problem);
  }
  if (in.current.spec().mtls_config().has_limited() && in.last_good_spec &&
      in.last_good_spec->mtls_config().has_shared()) {
    errors.push_back(
        "spec.mtlsConfig.limited: VirtualMesh " + VmKey(in.current) + " runs shared trust (generation " +
        std::to_string(in.last_good_generation) +
        "), and switching it to limited trust is refused: its meshes' cacerts hold vmesh intermediates that limited "
        "trust would stop renewing (istiod stops signing when they expire). Keep spec.mtlsConfig.shared, or delete "
        "the VirtualMesh, return each mesh to its own CA (delete the cacerts Secret and restart istiod and the "
        "workloads), and create a VirtualMesh with limited trust");
  }
  return errors;
}

// Under limited trust flatNetwork does not apply: cross-cluster traffic always takes the gateways.
bool NeedsEastWestGateway(const VirtualMeshSpec& spec, size_t mesh_count) {
  return spec.has_federation() && (!spec.federation().flat_network() || spec.mtls_config().has_limited()) &&
         mesh_count >= 2;
}

// Rules 3–5 for a mesh this VirtualMesh owns.
ApprovalStatus MeshStatus(const std::string& key, const VirtualMeshSpec& spec, const std::string& default_namespace,
                          size_t mesh_count, const StatusInput& input, bool* active) {
  ApprovalStatus status;
  *active = false;
  auto mesh_it = input.meshes.find(key);
  if (mesh_it == input.meshes.end()) {
    status.set_state(api::v1::PENDING);
    status.add_errors("mesh " + key +
                      " has not been discovered: no agent has reported it (is its cluster "
                      "registered and its agent connected?)");
    return status;
  }
  const api::v1::MeshSpec& mesh = mesh_it->second.spec();
  const std::string& suffix = spec.federation().hostname_suffix();
  if (spec.has_federation() && !suffix.empty() && suffix != "global" && !mesh.smart_dns_proxying_enabled()) {
    status.add_errors("spec.federation.hostnameSuffix \"" + suffix + "\" requires smart DNS proxying in mesh " + key +
                      " (set meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE: \"true\" in cluster " +
                      mesh.cluster() + ", or use the suffix \"global\")");
  }
  const auto candidates = EastWestGatewayCandidates(spec, default_namespace, mesh_it->second);
  if (NeedsEastWestGateway(spec, mesh_count) && candidates.empty() &&
      spec.federation().east_west_ingress_gateway_selectors_size() > 0) {
    status.add_errors("no gateway of mesh " + key +
                      " matches spec.federation.eastWestIngressGatewaySelectors (the selectors choose among the "
                      "mesh's east-west and ingress gateway Services by name, namespace, cluster or workload labels, "
                      "and by TLS port name)");
  } else if (NeedsEastWestGateway(spec, mesh_count) && candidates.empty()) {
    status.add_errors("mesh " + key + " has no east-west gateway, which federation needs (install one in cluster " +
                      mesh.cluster() + " with a TLS port 15443" +
                      (spec.mtls_config().has_limited() ? ")" : ", or set spec.federation.flatNetwork: true)"));
  } else if (NeedsEastWestGateway(spec, mesh_count)) {
    // A gateway other clusters cannot reach is no gateway: federation to this mesh's services would be empty.
    bool reachable = SelectEastWestGateway(spec, default_namespace, mesh_it->second) != nullptr;
    std::string names;
    for (const auto* gw : candidates) {
      names += (names.empty() ? "" : ", ") + gw->service().namespace_() + "/" + gw->service().name();
    }
    if (!reachable) {
      status.add_errors("the east-west gateway of mesh " + key + " (Service " + names + " in cluster " +
                        mesh.cluster() +
                        ") has no external address yet: a LoadBalancer still pending, or a NodePort without node "
                        "addresses; other clusters cannot reach it");
    }
  }
  if (NeedsEastWestGateway(spec, mesh_count) && spec.mtls_config().has_limited() &&
      SelectEgressGateway(mesh_it->second) == nullptr) {
    status.add_errors("mesh " + key +
                      " has no egress gateway, which limited trust needs for traffic to the other "
                      "clusters (install one in cluster " +
                      mesh.cluster() + ": pods labelled istio=egressgateway behind a Service with a TLS port)");
  }
  if (status.errors_size() > 0) {
    status.set_state(api::v1::INVALID);
    return status;
  }
  *active = true;
  const bool connected = input.connected_clusters.count(mesh.cluster()) > 0;
  status.set_agent_connected(connected);
  auto report = input.reports.find(key);
  if (report != input.reports.end()) {
    const MeshReport& r = report->second;
    *status.mutable_certificate() = r.certificate;
    status.set_federated_destinations(r.federated_destinations);
    status.set_applied_outputs(r.applied_outputs);
    for (const auto& w : r.pending_restarts) status.add_pending_restarts(w);
    if (spec.mtls_config().has_limited()) {
      for (const auto& g : r.gateway_certificates) *status.add_gateway_certificates() = g;
    }
    if (r.last_report_time) *status.mutable_last_report_time() = *r.last_report_time;
    if (!r.errors.empty()) {
      status.set_state(api::v1::FAILED);
      for (const auto& e : r.errors) status.add_errors(e);
      return status;
    }
  }
  if (!connected) {
    status.set_state(api::v1::PENDING);
    status.add_errors(
        "the agent of cluster " + mesh.cluster() + " is disconnected" +
        (status.has_last_report_time()
             ? " (last report " + google::protobuf::util::TimeUtil::ToString(status.last_report_time()) + ")"
             : ""));
    return status;
  }
  const bool shared = spec.mtls_config().has_shared();
  if (shared && status.certificate().phase() != api::v1::INSTALLED) {
    status.set_state(api::v1::PENDING);
    status.add_errors("waiting for the intermediate CA of mesh " + key + " to be installed (phase " +
                      api::v1::CertificatePhase_Name(status.certificate().phase()) + ")");
    return status;
  }
  status.set_state(api::v1::ACCEPTED);
  return status;
}

}  // namespace

ApprovalState OverallState(const api::v1::VirtualMeshStatus& status) {
  bool all_accepted = true, any_failed = false, any_invalid = false;
  for (const auto& [key, s] : status.meshes()) {
    all_accepted &= s.state() == api::v1::ACCEPTED;
    any_failed |= s.state() == api::v1::FAILED;
    any_invalid |= s.state() == api::v1::INVALID;
  }
  if (all_accepted && !status.meshes().empty()) return api::v1::ACCEPTED;
  if (any_failed) return api::v1::FAILED;
  if (any_invalid) return api::v1::INVALID;
  return api::v1::PENDING;
}

std::string MeshSummary(const api::v1::VirtualMeshStatus& status) {
  const auto accepted = std::count_if(status.meshes().begin(), status.meshes().end(),
                                      [](const auto& entry) { return entry.second.state() == api::v1::ACCEPTED; });
  return std::to_string(accepted) + "/" + std::to_string(status.meshes().size()) + " accepted";
}

void Summarize(api::v1::VirtualMeshStatus& status) {
  status.set_state(OverallState(status));
  status.set_mesh_summary(MeshSummary(status));
}

std::string MeshKey(const api::v1::ObjectRef& ref, const std::string& default_namespace) {
  return vmesh::MeshKey(ref.name(), ref.namespace_().empty() ? default_namespace : ref.namespace_());
}

std::vector<VirtualMeshResult> ComputeStatuses(const StatusInput& input) {
  const size_t n = input.virtual_meshes.size();
  std::vector<VirtualMeshResult> results(n);
  // Claim order: creation time, then namespace/name.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& ma = input.virtual_meshes[a].current.metadata();
    const auto& mb = input.virtual_meshes[b].current.metadata();
    if (ma.creation_timestamp() != mb.creation_timestamp()) return ma.creation_timestamp() < mb.creation_timestamp();
    return VmKey(input.virtual_meshes[a].current) < VmKey(input.virtual_meshes[b].current);
  });

  std::map<std::string, std::string> owner;  // mesh key -> VirtualMesh key
  for (size_t idx : order) {
    const VirtualMeshInput& in = input.virtual_meshes[idx];
    VirtualMeshResult& out = results[idx];
    const std::string& ns = in.current.metadata().namespace_();
    out.key = VmKey(in.current);
    out.status.set_observed_generation(in.current.metadata().generation());

    std::vector<std::string> whole = WholeObjectErrors(in, input);
    out.whole_invalid = !whole.empty();
    if (!out.whole_invalid) {
      out.effective_spec = in.current.spec();
    } else if (in.last_good_spec) {
      out.effective_spec = *in.last_good_spec;
    }
    for (const auto& e : whole) out.status.add_errors(e);

    // Rule 2: claims are made with the effective spec's meshes.
    const std::vector<std::string> effective_keys =
        out.effective_spec ? MeshKeys(*out.effective_spec, ns) : std::vector<std::string>();
    std::set<std::string> claimed;
    for (const auto& key : effective_keys) {
      if (owner.emplace(key, out.key).second) {
        out.claimed_meshes.push_back(key);
        claimed.insert(key);
      }
    }

    const std::vector<std::string> listed = MeshKeys(in.current.spec(), ns);
    if (out.whole_invalid) {
      out.status.set_state(api::v1::INVALID);
      const std::string kept = in.last_good_spec ? "; its clusters keep the configuration of generation " +
                                                       std::to_string(in.last_good_generation)
                                                 : "";
      for (const auto& key : listed) {
        ApprovalStatus& s = (*out.status.mutable_meshes())[key];
        s.set_state(api::v1::INVALID);
        s.add_errors("the VirtualMesh is INVALID" + kept);
      }
      if (!kept.empty()) out.status.add_errors("last good configuration kept" + kept);
      out.status.set_mesh_summary(MeshSummary(out.status));
      // Keep acting on the meshes of the last good spec.
      if (in.last_good_spec) {
        for (const auto& key : out.claimed_meshes) {
          bool active = false;
          MeshStatus(key, *in.last_good_spec, in.current.metadata().namespace_(), effective_keys.size(), input,
                     &active);
          if (active) out.active_meshes.push_back(key);
        }
      }
      continue;
    }

    for (const auto& key : listed) {
      ApprovalStatus& s = (*out.status.mutable_meshes())[key];
      if (!claimed.count(key)) {
        s.set_state(api::v1::INVALID);
        s.add_errors("mesh " + key + " is already a member of VirtualMesh " + owner.at(key) +
                     ", which was accepted earlier; a mesh belongs to one VirtualMesh (remove it from one of them)");
        continue;
      }
      bool active = false;
      s = MeshStatus(key, in.current.spec(), in.current.metadata().namespace_(), listed.size(), input, &active);
      if (active) out.active_meshes.push_back(key);
    }
    Summarize(out.status);
  }
  return results;
}

}  // namespace vmesh::hub
