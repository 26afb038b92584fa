#include "bench/loadgen/simulated_cluster.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "agent/certs/cacerts.h"
#include "agent/discovery/istio_discovery.h"
#include "agent/discovery/service_discovery.h"
#include "common/base/random.h"
#include "common/base/resource_names.h"
#include "common/pki/certificate.h"
#include "common/pki/csr.h"
#include "common/pki/key.h"

namespace vmesh::loadgen {
namespace {

namespace json = boost::json;

json::object Parse(const std::string& text) { return json::parse(text).as_object(); }

// 10.<a>.<b>.<c> from a cluster index and a per-cluster ordinal (distinct per cluster, as kubesim's ranges are).
std::string PodIp(int cluster, int ordinal) {
  return fmt::format("10.{}.{}.{}", 16 + cluster / 256 % 200, cluster % 256, ordinal % 250 + 1);
}

std::string GatewayIp(int cluster) {
  return fmt::format("172.{}.{}.{}", 18 + cluster / 65536, cluster / 256 % 256, cluster % 256);
}

// The Service, Endpoints and pod of one destination in namespace `apps`.
void AddApp(agent::ClusterSnapshot& s, const std::string& name, int cluster, int ordinal) {
  const std::string ip = PodIp(cluster, ordinal);
  s.services.push_back(Parse(fmt::format(
      R"({{"apiVersion":"v1","kind":"Service","metadata":{{"name":"{0}","namespace":"apps","labels":{{"app":"{0}"}}}},
          "spec":{{"type":"ClusterIP","selector":{{"app":"{0}"}},
                   "ports":[{{"name":"http","port":8080,"targetPort":8080,"protocol":"TCP"}}]}}}})",
      name)));
  s.endpoints.push_back(Parse(fmt::format(
      R"({{"apiVersion":"v1","kind":"Endpoints","metadata":{{"name":"{0}","namespace":"apps"}},
          "subsets":[{{"addresses":[{{"ip":"{1}","targetRef":{{"kind":"Pod","namespace":"apps","name":"{0}-0"}}}}],
                      "ports":[{{"name":"http","port":8080,"protocol":"TCP"}}]}}]}})",
      name, ip)));
  s.pods.push_back(Parse(fmt::format(
      R"({{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{0}-0","namespace":"apps",
          "labels":{{"app":"{0}","security.istio.io/tlsMode":"istio"}}}},
          "spec":{{"serviceAccountName":"{0}","containers":[{{"name":"app","ports":[{{"name":"http","containerPort":8080}}]}}]}},
          "status":{{"phase":"Running","podIP":"{1}"}}}})",
      name, ip)));
}

agent::ClusterSnapshot Snapshot(const SimulatedClusterOptions& o, const std::vector<std::string>& added) {
  agent::ClusterSnapshot s;
  s.cluster = o.cluster;
  s.hub_namespace = o.hub_namespace;
  s.namespaces.push_back(Parse(fmt::format(
      R"({{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"istio-system","labels":{{"topology.istio.io/network":"network-{}"}}}}}})",
      o.index)));
  s.namespaces.push_back(Parse(
      R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"apps","labels":{"istio-injection":"enabled"}}})"));
  s.config_maps.push_back(Parse(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"istio","namespace":"istio-system",
          "labels":{"app":"istiod","istio.io/rev":"default"}},
          "data":{"mesh":"trustDomain: cluster.local\ndefaultConfig:\n  proxyMetadata: {}\n"}})"));
  s.deployments.push_back(Parse(
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"istiod","namespace":"istio-system",
          "labels":{"app":"istiod","istio":"pilot","istio.io/rev":"default"}},
          "spec":{"selector":{"matchLabels":{"app":"istiod"}},"template":{"metadata":{"labels":{"app":"istiod"}},
          "spec":{"serviceAccountName":"istiod","containers":[{"name":"discovery","image":"docker.io/istio/pilot:1.20.3"}]}}}})"));
  s.services.push_back(Parse(fmt::format(
      R"({{"apiVersion":"v1","kind":"Service","metadata":{{"name":"istio-eastwestgateway","namespace":"istio-system",
          "labels":{{"app":"istio-eastwestgateway","istio":"eastwestgateway"}}}},
          "spec":{{"type":"LoadBalancer","selector":{{"istio":"eastwestgateway"}},
                   "ports":[{{"name":"status-port","port":15021,"targetPort":15021,"protocol":"TCP"}},
                            {{"name":"tls","port":15443,"targetPort":15443,"protocol":"TCP"}}]}},
          "status":{{"loadBalancer":{{"ingress":[{{"ip":"{}"}}]}}}}}})",
      GatewayIp(o.index))));
  for (int d = 0; d < o.destinations; ++d) AddApp(s, fmt::format("svc-{}", d), o.index, d);
  for (std::size_t a = 0; a < added.size(); ++a) {
    AddApp(s, added[a], o.index, o.destinations + static_cast<int>(a));
  }
  return s;
}

link::v1::Envelope Wrap(link::v1::DiscoveryReport report) {
  link::v1::Envelope envelope;
  *envelope.mutable_discovery_report() = std::move(report);
  return envelope;
}

}  // namespace

SimulatedCluster::SimulatedCluster(SimulatedClusterOptions options, agent::HubSend send, ClusterCounters& counters,
                                   std::function<void(const link::v1::KubeObject&)> on_output)
    : options_(std::move(options)), send_(std::move(send)), counters_(counters), on_output_(std::move(on_output)) {}

std::string SimulatedCluster::mesh_name() const { return "istiod-istio-system-" + options_.cluster; }

link::v1::DiscoveryReport SimulatedCluster::Discover() const {
  const agent::ClusterSnapshot snapshot = Snapshot(options_, added_);
  const auto meshes = agent::DiscoverMeshes(snapshot);
  link::v1::DiscoveryReport report;
  report.set_full_state(true);
  for (const auto& m : meshes) *report.add_meshes() = m;
  for (auto& d : agent::DiscoverDestinations(snapshot, meshes)) *report.add_destinations() = std::move(d);
  return report;
}

Status SimulatedCluster::AddDestination(const std::string& name) {
  added_.push_back(name);
  link::v1::DiscoveryReport delta;
  const link::v1::DiscoveryReport full = Discover();
  for (const auto& d : full.destinations()) {
    if (d.spec().name() == name) *delta.add_destinations() = d;
  }
  if (delta.destinations_size() != 1) return MakeError("destination " + name + " was not discovered");
  ++counters_.discovery_reports;
  return send_(Wrap(std::move(delta)));
}

boost::asio::awaitable<Status> SimulatedCluster::ApplyResource(const link::v1::Resource& resource) {
  switch (resource.body_case()) {
    case link::v1::Resource::kKubeObject:
      outputs_[resource.name()] = resource.kube_object().json();
      ++counters_.outputs_applied;
      if (on_output_) on_output_(resource.kube_object());
      co_return OkStatus();
    case link::v1::Resource::kCertificate:
      co_return OnDirective(resource.certificate());
    case link::v1::Resource::kRestart:
      co_return OkStatus();  // no workloads to restart in the model
    default:
      co_return MakeError("resource " + resource.name() + ": unknown type");
  }
}

boost::asio::awaitable<Status> SimulatedCluster::RemoveResource(const std::string& name) {
  if (LinkResourceTypeOf(name) == LinkResourceType::kKube && outputs_.erase(name)) ++counters_.outputs_removed;
  if (LinkResourceTypeOf(name) == LinkResourceType::kCert) directive_.reset();
  co_return OkStatus();
}

boost::asio::awaitable<Result<bool>> SimulatedCluster::PruneOutputs(const std::set<std::string>& desired) {
  for (auto it = outputs_.begin(); it != outputs_.end();) {
    it = desired.count(it->first) ? std::next(it) : outputs_.erase(it);
  }
  co_return true;
}

Status SimulatedCluster::OnDirective(const link::v1::CertificateDirective& directive) {
  directive_ = directive;
  const agent::CertDecision decision = agent::DecideCertificate(directive, cert_, std::chrono::system_clock::now());
  switch (decision.action) {
    case agent::CertAction::kNone:
      return OkStatus();
    case agent::CertAction::kSendPendingCsr:
      return SendCsr();
    case agent::CertAction::kGenerateKey:
      break;
  }
  auto key = pki::PrivateKey::Generate(agent::KeySpecOf(directive));
  if (!key.ok()) return key.error().Wrap("mesh " + directive.mesh());
  auto request_id = RandomHex(16);
  if (!request_id.ok()) return request_id.error();
  cert_.pending_key_pem = key->ToPem();
  cert_.pending_generation = directive.generation();
  cert_.pending_request_id = *request_id;
  return SendCsr();
}

Status SimulatedCluster::SendCsr() {
  auto key = pki::PrivateKey::FromPem(cert_.pending_key_pem);
  if (!key.ok()) return key.error();
  pki::CsrRequest request;
  request.subject.organization = "vmesh";
  request.subject.common_name = "vmesh intermediate " + options_.cluster + "/" + mesh_name();
  auto csr = pki::Csr::Create(*key, request);
  if (!csr.ok()) return csr.error();
  link::v1::Envelope envelope;
  auto* m = envelope.mutable_certificate_signing_request();
  m->set_mesh(mesh_name());
  m->set_directive_generation(cert_.pending_generation);
  m->set_csr_pem(csr->ToPem());
  m->set_request_id(cert_.pending_request_id);
  // Without a session the CSR waits for the next one (OnSessionStarted), as the real agent's does.
  if (send_(std::move(envelope)).ok()) ++counters_.csrs_sent;
  return OkStatus();
}

boost::asio::awaitable<void> SimulatedCluster::OnIssuedCertificate(const link::v1::IssuedCertificate& issued) {
  if (!agent::AnswersPendingRequest(issued, cert_)) co_return;
  if (!issued.error().empty()) {
    cert_error_ = issued.error();
    ++counters_.certificate_errors;
    co_return;
  }
  auto data = agent::BuildCacerts({.key_pem = cert_.pending_key_pem,
                                   .certificate_chain_pem = issued.certificate_chain_pem(),
                                   .trust_bundle_pem = directive_ ? directive_->trust_bundle_pem() : issued.root_pem(),
                                   .current_root_pem = cacerts_.count("root-cert.pem") ? cacerts_["root-cert.pem"] : "",
                                   .now = std::chrono::system_clock::now()});
  if (!data.ok()) {
    cert_error_ = data.error().message;
    ++counters_.certificate_errors;
    co_return;
  }
  auto cert = pki::Certificate::FromPem(issued.certificate_chain_pem());
  cacerts_ = std::move(*data);
  cert_.installed_generation = cert_.pending_generation;
  cert_.installed_serial = cert.ok() ? cert->serial_hex() : "unknown";
  cert_.renew_at = cert.ok() ? agent::RenewalTime(*cert) : pki::TimePoint::max();
  cert_.installed_not_after = cert.ok() ? cert->not_after() : pki::TimePoint{};
  cert_.pending_key_pem.clear();
  cert_.pending_generation.clear();
  cert_.pending_request_id.clear();
  cert_error_.clear();
  ++counters_.certificates_installed;
}

void SimulatedCluster::OnSessionStarted(std::chrono::seconds) {
  ++counters_.discovery_reports;
  (void)send_(Wrap(Discover()));
  if (!cert_.pending_key_pem.empty()) (void)SendCsr();
}

link::v1::StatusReport SimulatedCluster::MakeStatusReport() {
  link::v1::StatusReport report;
  auto* mesh = report.add_meshes();
  mesh->set_mesh(mesh_name());
  auto* certificate = mesh->mutable_certificate();
  if (!cert_error_.empty()) {
    certificate->set_phase(api::v1::CERTIFICATE_FAILED);
    mesh->add_errors(cert_error_);
  } else if (!cert_.pending_key_pem.empty()) {
    certificate->set_phase(api::v1::REQUESTED);
  } else if (!cert_.installed_serial.empty()) {
    certificate->set_phase(api::v1::INSTALLED);
  }
  if (!cert_.installed_serial.empty()) {
    certificate->set_serial(cert_.installed_serial);
    certificate->mutable_not_after()->set_seconds(
        std::chrono::duration_cast<std::chrono::seconds>(cert_.installed_not_after.time_since_epoch()).count());
    mesh->set_installed_generation(cert_.installed_generation);
  }
  return report;
}

}  // namespace vmesh::loadgen
