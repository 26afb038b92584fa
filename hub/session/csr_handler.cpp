#include "hub/session/csr_handler.h"

#include <spdlog/spdlog.h>

namespace vmesh::hub {
namespace {

constexpr char kCsrs[] = "vmesh_hub_csrs_total";
constexpr char kCertNotAfter[] = "vmesh_hub_certificate_not_after_seconds";
constexpr std::size_t kMaxCertSeries = 10000;

}  // namespace

CsrHandler::CsrHandler(Deps deps, Options options) : deps_(std::move(deps)), options_(options) {
  auto& m = deps_.metrics;
  m.DeclareCounter(
      kCsrs, "CSRs (intermediate CAs; gateway leaves under limited trust) by result (signed|rejected|rate_limited).");
  m.DeclareGauge(kCertNotAfter, "notAfter (Unix seconds) of the newest intermediate of each mesh.");
  // A backstop for the per-cluster cap (RecordNotAfter): the family as a whole stays bounded too.
  m.LimitSeries(kCertNotAfter, kMaxCertSeries);
}

std::optional<std::string> CsrHandler::TakeToken(const std::string& cluster) {
  const TimePoint now = deps_.clock();
  std::lock_guard lock(mu_);
  auto bucket = buckets_.try_emplace(cluster, options_.csr_rate, now).first;
  if (bucket->second.TryTake(now)) return std::nullopt;
  return "CSR rate limit of cluster " + cluster + " exceeded: at most " + options_.csr_rate.ToString() +
         " (vmesh-hub serve --csr-rate-per-minute, --csr-burst); nothing was signed, retry later";
}

void CsrHandler::CountRefused() { deps_.metrics.Increment(kCsrs, {{"result", "rejected"}}); }

link::v1::Envelope CsrHandler::Sign(const std::string& cluster, std::uint64_t envelope_id,
                                    const link::v1::CertificateSigningRequest& csr) {
  link::v1::Envelope answer;
  if (auto limited = TakeToken(cluster)) {
    deps_.metrics.Increment(kCsrs, {{"result", "rate_limited"}});
    spdlog::warn("hub: cluster {} mesh {}: CSR {} refused: {}", cluster, csr.mesh(), csr.request_id(), *limited);
    answer.mutable_protocol_nack()->set_envelope_id(envelope_id);
    answer.mutable_protocol_nack()->set_error(*limited);
    return answer;
  }
  auto* issued = answer.mutable_issued_certificate();
  issued->set_mesh(csr.mesh());
  issued->set_request_id(csr.request_id());
  issued->set_gateway_role(csr.gateway_role());
  std::string error;
  if (!csr.gateway_role().empty()) {
    SignGateway(cluster, csr, *issued, error);
    if (!error.empty()) {
      issued->set_error(error);
      deps_.metrics.Increment(kCsrs, {{"result", "rejected"}});
      spdlog::warn("hub: cluster {} mesh {}: {} gateway CSR {} refused: {}", cluster, csr.mesh(), csr.gateway_role(),
                   csr.request_id(), error);
    }
    return answer;
  }
  auto request = Prepare(cluster, csr);
  if (!request.ok()) {
    error = request.error().message;
  } else {
    auto roots = deps_.ca.LoadRootsInForce(request->virtual_mesh);
    // The generation the roots in force direct, read together with them: a phase that moved since the CSR left
    // cannot be signed with the wrong root.
    const std::string wanted =
        roots.ok() ? CertificateGeneration({roots->signing.trust_bundle_pem,
                                            roots->signing.signer.certificate().Fingerprint(), roots->bundle_tag},
                                           request->options)
                   : "";
    Result<IssuedIntermediate> cert = MakeError("");
    if (!roots.ok()) {
      cert = roots.error();
    } else if (roots->rotation && csr.directive_generation() != wanted) {
      cert = MakeError("CSR " + csr.request_id() + " answers certificate directive generation " +
                       csr.directive_generation() + ", but the root rotation of " + request->virtual_mesh + " (phase " +
                       roots->rotation->phase + ") directs generation " + wanted + " now; send a CSR for that one");
    } else {
      cert = deps_.ca.IssueIntermediate(roots->signing, *request);
    }
    if (cert.ok()) {
      issued->set_certificate_chain_pem(cert->certificate_chain_pem);
      issued->set_root_pem(cert->root_pem);
      deps_.metrics.Increment(kCsrs, {{"result", "signed"}});
      RecordNotAfter(cluster, csr.mesh(),
                     static_cast<double>(
                         std::chrono::duration_cast<std::chrono::seconds>(cert->not_after.time_since_epoch()).count()));
      spdlog::info("hub: cluster {} mesh {}: signed intermediate {} for VirtualMesh {}", cluster, csr.mesh(),
                   cert->serial, request->virtual_mesh);
    } else {
      error = cert.error().message;
    }
  }
  if (!error.empty()) {
    issued->set_error(error);
    deps_.metrics.Increment(kCsrs, {{"result", "rejected"}});
    spdlog::warn("hub: cluster {} mesh {}: CSR {} refused: {}", cluster, csr.mesh(), csr.request_id(), error);
  }
  return answer;
}

Result<IntermediateRequest> CsrHandler::Prepare(const std::string& cluster,
                                                const link::v1::CertificateSigningRequest& csr) {
  std::optional<api::v1::Mesh> mesh = deps_.facts.FindMesh(cluster, csr.mesh());
  if (!mesh) return MakeError("mesh " + csr.mesh() + " has not been reported by cluster " + cluster);
  std::lock_guard lock(mu_);
  auto target = targets_.find(csr.mesh());
  if (target == targets_.end()) {
    return MakeError("mesh " + csr.mesh() + " is not an active member of a VirtualMesh with shared trust");
  }
  if (target->second.limited) {
    return MakeError("mesh " + csr.mesh() + " is a member of VirtualMesh " + target->second.virtual_mesh +
                     ", which has limited trust (spec.mtlsConfig.limited): the mesh keeps its own CA and gets no "
                     "intermediate; only its gateways get certificates");
  }
  IntermediateRequest request;
  request.virtual_mesh = target->second.virtual_mesh;
  request.requesting_cluster = cluster;
  request.mesh = std::move(*mesh);
  request.csr_pem = csr.csr_pem();
  request.options = target->second.options;
  return request;
}

Result<GatewayCertRequest> CsrHandler::PrepareGateway(const std::string& cluster,
                                                      const link::v1::CertificateSigningRequest& csr) {
  api::GatewayRole role;
  if (csr.gateway_role() == api::GatewayRoleName(api::GatewayRole::kIngress)) {
    role = api::GatewayRole::kIngress;
  } else if (csr.gateway_role() == api::GatewayRoleName(api::GatewayRole::kEgress)) {
    role = api::GatewayRole::kEgress;
  } else {
    return MakeError("gateway role \"" + csr.gateway_role() + "\" is neither \"ingress\" nor \"egress\"");
  }
  std::optional<api::v1::Mesh> mesh = deps_.facts.FindMesh(cluster, csr.mesh());
  if (!mesh) return MakeError("mesh " + csr.mesh() + " has not been reported by cluster " + cluster);
  std::lock_guard lock(mu_);
  auto target = targets_.find(csr.mesh());
  if (target == targets_.end() || !target->second.limited) {
    return MakeError("mesh " + csr.mesh() +
                     " is not an active member of a VirtualMesh with limited trust (spec.mtlsConfig.limited); gateway "
                     "certificates are issued only there");
  }
  return GatewayCertRequest{target->second.virtual_mesh, cluster, std::move(*mesh), role, csr.csr_pem()};
}

void CsrHandler::SignGateway(const std::string& cluster, const link::v1::CertificateSigningRequest& csr,
                             link::v1::IssuedCertificate& issued, std::string& error) {
  auto request = PrepareGateway(cluster, csr);
  if (!request.ok()) {
    error = request.error().message;
    return;
  }
  auto ca = deps_.ca.LoadGatewayCa(request->virtual_mesh);
  if (!ca.ok()) {
    error = ca.error().message;
    return;
  }
  auto cert = deps_.ca.IssueGatewayCertificate(*ca, *request);
  if (!cert.ok()) {
    error = cert.error().message;
    return;
  }
  issued.set_certificate_chain_pem(cert->certificate_pem);
  issued.set_root_pem(cert->ca_pem);
  deps_.metrics.Increment(kCsrs, {{"result", "signed"}});
  spdlog::info("hub: cluster {} mesh {}: signed {} gateway certificate {} for VirtualMesh {}", cluster, csr.mesh(),
               csr.gateway_role(), cert->serial, request->virtual_mesh);
}

link::v1::Envelope CsrHandler::RenewIdentity(const std::string& cluster,
                                             const link::v1::IdentityRenewalRequest& request) {
  link::v1::Envelope answer;
  auto* response = answer.mutable_identity_renewal_response();
  if (auto limited = TakeToken(cluster)) {
    spdlog::warn("hub: cluster {}: identity renewal refused: {}", cluster, *limited);
    response->set_error(*limited);
    return answer;
  }
  auto cert = deps_.registration.RenewIdentity(cluster, request.csr_pem());
  if (cert.ok()) {
    response->set_certificate_pem(*cert);
    spdlog::info("hub: cluster {}: identity renewed", cluster);
  } else {
    response->set_error(cert.error().message);
    spdlog::warn("hub: cluster {}: identity renewal refused: {}", cluster, cert.error().message);
  }
  return answer;
}

void CsrHandler::SetTargets(const DesiredState& desired) {
  std::map<std::string, CertTarget> targets;
  for (const auto& result : desired.statuses) {
    if (!result.effective_spec) continue;
    const auto& mtls = result.effective_spec->mtls_config();
    if (!mtls.has_shared() && !mtls.has_limited()) continue;
    const auto& options = mtls.shared().intermediate_cert_options();
    for (const auto& key : result.active_meshes) {
      // Keys are "<name>.<namespace>"; mesh names are unique within the hub namespace.
      targets[key.substr(0, key.rfind('.'))] = CertTarget{result.key, options, mtls.has_limited()};
    }
  }
  std::lock_guard lock(mu_);
  targets_ = std::move(targets);
}

void CsrHandler::RecordNotAfter(const std::string& cluster, const std::string& mesh, double seconds) {
  if (!deps_.facts.FindMesh(cluster, mesh)) return;
  std::lock_guard lock(mu_);
  auto& series = series_[cluster];
  if (!series.count(mesh)) {
    if (series.size() >= options_.max_series_per_cluster) {
      if (series_cap_logged_.insert(cluster).second) {
        spdlog::warn(
            "hub: cluster {}: more than {} meshes with a certificate; {} and later ones are not exported as {}",
            cluster, options_.max_series_per_cluster, mesh, kCertNotAfter);
      }
      return;
    }
    series.insert(mesh);
  }
  deps_.metrics.Set(kCertNotAfter, {{"mesh", mesh}}, seconds);
}

void CsrHandler::Forget(const std::string& cluster) {
  std::lock_guard lock(mu_);
  buckets_.erase(cluster);
  auto series = series_.find(cluster);
  if (series == series_.end()) return;
  for (const auto& mesh : series->second) deps_.metrics.Remove(kCertNotAfter, {{"mesh", mesh}});
  series_.erase(series);
  series_cap_logged_.erase(cluster);
}

}  // namespace vmesh::hub
