#include "agent/certs/gateway_certificates.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "agent/certs/cacerts.h"
#include "common/api/limited_trust.h"
#include "common/base/base64.h"
#include "common/base/json_fields.h"
#include "common/base/random.h"
#include "common/base/resource_names.h"
#include "common/metrics/metrics.h"
#include "common/pki/csr.h"
#include "common/pki/key.h"
#include "common/pki/verify.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using TimePoint = std::chrono::system_clock::time_point;
using jsonf::Obj;
using jsonf::Str;
using jsonf::StrMap;

constexpr char kVirtualMeshLabel[] = "networking.vmesh.dev/virtual-mesh";
constexpr char kGatewayRoleLabel[] = "networking.vmesh.dev/gateway-certificate";
constexpr char kMeshAnnotation[] = "networking.vmesh.dev/mesh";
constexpr char kGenerationAnnotation[] = "networking.vmesh.dev/gateway-certificate-generation";
constexpr char kRequestIdAnnotation[] = "networking.vmesh.dev/request-id";
constexpr char kNotAfterGauge[] = "vmesh_agent_gateway_certificate_not_after_seconds";

std::optional<api::GatewayRole> ParseRole(const std::string& role) {
  if (role == api::GatewayRoleName(api::GatewayRole::kIngress)) return api::GatewayRole::kIngress;
  if (role == api::GatewayRoleName(api::GatewayRole::kEgress)) return api::GatewayRole::kEgress;
  return std::nullopt;
}

std::string SecretName(const std::string& role) { return std::string(api::GatewaySecretName(*ParseRole(role))); }

// "<namespace>.<name>" of a VirtualMesh key "<namespace>/<name>", the value of the virtual-mesh label.
std::string VirtualMeshLabelValue(const std::string& key) {
  const ObjectKeyParts parts = ParseObjectKey(key);
  return parts.ns + "." + parts.name;
}

google::protobuf::Timestamp ToTimestamp(TimePoint t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  return ts;
}

}  // namespace

std::string GatewayKeyStateSecretName(const std::string& mesh, const std::string& role) {
  return "vmesh-gw-" + mesh + "-" + role;
}

struct GatewayCertificateManager::Entry {
  std::string mesh;
  std::string role;
  link::v1::GatewayCertificateDirective directive;
  // What every namespace holds (installed only when they all hold the same vmesh-written leaf).
  bool installed = false;
  std::string installed_serial;
  std::string installed_generation;
  TimePoint installed_not_before{};
  TimePoint installed_not_after{};
  // The key waiting for its certificate (persisted in the state namespace).
  bool pending_loaded = false;
  std::string pending_key_pem;
  std::string pending_request_id;
  std::string pending_generation;
  std::string pending_resource_version;
  bool csr_sent = false;
  TimePoint csr_sent_at{};
  api::v1::CertificatePhase phase = api::v1::CERTIFICATE_PHASE_UNSPECIFIED;
  std::string error;
  bool busy = false;
};

GatewayCertificateManager::GatewayCertificateManager(kube::KubeClient& client, GatewayCertificateOptions options,
                                                     HubSend send)
    : client_(client), options_(std::move(options)), send_(std::move(send)) {
  if (options_.metrics) {
    options_.metrics->DeclareGauge(kNotAfterGauge,
                                   "notAfter of the installed gateway certificate per mesh and role (Unix time)");
  }
}

GatewayCertificateManager::~GatewayCertificateManager() = default;

GatewayCertificateManager::Entry* GatewayCertificateManager::Find(const std::string& mesh, const std::string& role) {
  auto it = entries_.find(mesh + "/" + role);
  return it == entries_.end() ? nullptr : it->second.get();
}

asio::awaitable<Status> GatewayCertificateManager::OnDirective(const link::v1::GatewayCertificateDirective& d) {
  if (!ParseRole(d.role())) {
    co_return MakeError("gateway certificate directive for mesh " + d.mesh() + ": role \"" + d.role() +
                        "\" is neither \"ingress\" nor \"egress\"");
  }
  if (d.namespaces().empty() || d.spiffe_id().empty() || d.generation().empty()) {
    co_return MakeError("gateway certificate directive for mesh " + d.mesh() + " (" + d.role() +
                        "): namespaces, spiffe_id and generation are required");
  }
  auto bundle = pki::ParsePemBundle(d.trust_bundle_pem());
  if (!bundle.ok() || bundle->empty()) {
    co_return MakeError("gateway certificate directive for mesh " + d.mesh() + " (" + d.role() +
                        "): trust_bundle_pem holds no certificate");
  }
  auto& slot = entries_[d.mesh() + "/" + d.role()];
  if (!slot) {
    slot = std::make_unique<Entry>();
    slot->mesh = d.mesh();
    slot->role = d.role();
  }
  slot->directive = d;
  if (slot->busy) co_return OkStatus();  // the running operation converges to the new directive on the next Tick
  co_return co_await Converge(*slot);
}

asio::awaitable<Status> GatewayCertificateManager::Converge(Entry& e) {
  e.busy = true;
  struct Done {
    Entry& e;
    ~Done() { e.busy = false; }
  } done{e};
  if (Status s = co_await LoadPending(e); !s.ok()) co_return s;
  if (Status s = co_await ReadInstalled(e); !s.ok()) {
    // A Secret vmesh will not overwrite, or the cluster could not be read: the status says so; Tick retries.
    e.error = s.error().message;
    e.phase = api::v1::CERTIFICATE_FAILED;
    co_return OkStatus();
  }
  const std::string& generation = e.directive.generation();
  if (e.installed && e.installed_generation == generation && !RenewalDue(e)) {
    e.phase = api::v1::INSTALLED;
    e.error.clear();
    if (!e.pending_key_pem.empty()) co_return co_await DeletePending(e);  // answered before a restart
    co_return OkStatus();
  }
  if (!e.pending_key_pem.empty() && e.pending_generation == generation) {
    const bool resend = !e.csr_sent || options_.clock() - e.csr_sent_at >= options_.csr_retry_interval;
    if (resend) co_return SendCsr(e);
    co_return OkStatus();
  }
  co_return co_await NewKeyAndSend(e);
}

bool GatewayCertificateManager::RenewalDue(const Entry& e) const {
  if (!e.installed) return false;
  const auto lifetime = e.installed_not_after - e.installed_not_before;
  return options_.clock() >= e.installed_not_before + lifetime * 2 / 3;
}

asio::awaitable<Status> GatewayCertificateManager::ReadInstalled(Entry& e) {
  e.installed = false;
  const std::string name = SecretName(e.role);
  std::string serial, generation;
  TimePoint not_before{}, not_after{};
  bool all = true;
  for (const auto& ns : e.directive.namespaces()) {
    auto r = co_await client_.Get(kube::ResourcePath("v1", "secrets", ns, name));
    if (!r.ok()) co_return r.error().Wrap("reading Secret " + ns + "/" + name);
    if (r->status == 404) {
      all = false;
      continue;
    }
    if (!r->ok()) co_return MakeError("reading Secret " + ns + "/" + name + ": " + r->Describe());
    const json::object* meta = Obj(r->body.if_object(), "metadata");
    auto labels = StrMap(Obj(meta, "labels"));
    if (labels[kManagedByLabel] != kManagedByValue) {
      co_return MakeError("Secret " + ns + "/" + name + " exists and was not written by vmesh (no label " +
                          kManagedByLabel + "=" + kManagedByValue + "), so vmesh will not overwrite it with the " +
                          e.role + " gateway certificate of mesh " + e.mesh +
                          ": delete it, or label it to hand it over to vmesh");
    }
    auto data = StrMap(Obj(r->body.if_object(), "data"));
    auto pem = Base64Decode(data["tls.crt"]);
    auto cert = pem ? pki::Certificate::FromPem(*pem) : Result<pki::Certificate>(MakeError("no tls.crt"));
    if (!cert.ok()) {
      all = false;
      continue;
    }
    const std::string this_generation = StrMap(Obj(meta, "annotations"))[kGenerationAnnotation];
    if (!serial.empty() && (serial != cert->serial_hex() || generation != this_generation)) all = false;
    serial = cert->serial_hex();
    generation = this_generation;
    not_before = cert->not_before();
    not_after = cert->not_after();
  }
  if (!all || serial.empty()) co_return OkStatus();
  e.installed = true;
  e.installed_serial = serial;
  e.installed_generation = generation;
  e.installed_not_before = not_before;
  e.installed_not_after = not_after;
  co_return OkStatus();
}

asio::awaitable<Status> GatewayCertificateManager::LoadPending(Entry& e) {
  if (e.pending_loaded) co_return OkStatus();
  const std::string name = GatewayKeyStateSecretName(e.mesh, e.role);
  auto r = co_await client_.Get(kube::ResourcePath("v1", "secrets", options_.state_namespace, name));
  if (!r.ok()) co_return r.error().Wrap("reading Secret " + options_.state_namespace + "/" + name);
  if (r->ok()) {
    const json::object* meta = Obj(r->body.if_object(), "metadata");
    auto annotations = StrMap(Obj(meta, "annotations"));
    auto key = Base64Decode(StrMap(Obj(r->body.if_object(), "data"))["key.pem"]);
    e.pending_key_pem = key.value_or("");
    e.pending_request_id = annotations[kRequestIdAnnotation];
    e.pending_generation = annotations[kGenerationAnnotation];
    e.pending_resource_version = Str(meta, "resourceVersion");
  } else if (r->status != 404) {
    co_return MakeError("reading Secret " + options_.state_namespace + "/" + name + ": " + r->Describe());
  }
  e.pending_loaded = true;
  co_return OkStatus();
}

asio::awaitable<Status> GatewayCertificateManager::PersistPending(Entry& e) {
  const std::string name = GatewayKeyStateSecretName(e.mesh, e.role);
  const std::string what = "Secret " + options_.state_namespace + "/" + name;
  if (!namespace_ready_) {
    json::value ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", options_.state_namespace}}}};
    auto r = co_await client_.Create(kube::ResourcePath("v1", "namespaces"), ns);
    if (!r.ok()) co_return r.error().Wrap("creating namespace " + options_.state_namespace);
    if (!r->ok() && r->status != 409) {
      co_return MakeError("creating namespace " + options_.state_namespace + ": " + r->Describe());
    }
    namespace_ready_ = true;
  }
  json::object secret{{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"metadata",
                       {{"name", name},
                        {"namespace", options_.state_namespace},
                        {"labels", {{kManagedByLabel, kManagedByValue}}},
                        {"annotations",
                         {{kMeshAnnotation, e.mesh},
                          {kRequestIdAnnotation, e.pending_request_id},
                          {kGenerationAnnotation, e.pending_generation}}}}},
                      {"type", "Opaque"},
                      {"data", {{"key.pem", Base64Encode(e.pending_key_pem)}}}};
  // Replace whatever is there (a key of an earlier request is superseded).
  auto existing = co_await client_.Get(kube::ResourcePath("v1", "secrets", options_.state_namespace, name));
  if (!existing.ok()) co_return existing.error().Wrap("writing " + what);
  Result<kube::ApiResponse> r = MakeError("");
  if (existing->ok()) {
    secret["metadata"].get_object()["resourceVersion"] =
        Str(Obj(existing->body.if_object(), "metadata"), "resourceVersion");
    r = co_await client_.Update(kube::ResourcePath("v1", "secrets", options_.state_namespace, name), secret);
  } else {
    r = co_await client_.Create(kube::ResourcePath("v1", "secrets", options_.state_namespace), secret);
  }
  if (!r.ok()) co_return r.error().Wrap("writing " + what);
  if (!r->ok()) co_return MakeError("writing " + what + ": " + r->Describe());
  co_return OkStatus();
}

asio::awaitable<Status> GatewayCertificateManager::DeletePending(Entry& e) {
  const std::string name = GatewayKeyStateSecretName(e.mesh, e.role);
  auto r = co_await client_.Delete(kube::ResourcePath("v1", "secrets", options_.state_namespace, name));
  if (!r.ok()) co_return r.error().Wrap("deleting Secret " + options_.state_namespace + "/" + name);
  if (!r->ok() && r->status != 404) {
    co_return MakeError("deleting Secret " + options_.state_namespace + "/" + name + ": " + r->Describe());
  }
  e.pending_key_pem.clear();
  e.pending_request_id.clear();
  e.pending_generation.clear();
  e.csr_sent = false;
  co_return OkStatus();
}

asio::awaitable<Status> GatewayCertificateManager::NewKeyAndSend(Entry& e) {
  // ECDSA P-256 takes well under a millisecond: no helper thread needed.
  auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  if (!key.ok()) co_return key.error().Wrap("generating the " + e.role + " gateway key of mesh " + e.mesh);
  auto request_id = RandomHex(16);
  if (!request_id.ok()) co_return request_id.error();
  e.pending_key_pem = key->ToPem();
  e.pending_request_id = *request_id;
  e.pending_generation = e.directive.generation();
  e.csr_sent = false;
  // The key is in the cluster before anything about it leaves.
  if (Status s = co_await PersistPending(e); !s.ok()) {
    e.pending_key_pem.clear();
    e.pending_request_id.clear();
    e.pending_generation.clear();
    co_return s;
  }
  co_return SendCsr(e);
}

Status GatewayCertificateManager::SendCsr(Entry& e) {
  auto key = pki::PrivateKey::FromPem(e.pending_key_pem);
  if (!key.ok()) return key.error().Wrap("the pending " + e.role + " gateway key of mesh " + e.mesh);
  pki::CsrRequest request;
  request.subject.organization = "vmesh";
  request.subject.common_name = "vmesh " + e.role + " gateway " + options_.cluster + "/" + e.mesh;
  request.uri_sans = {e.directive.spiffe_id()};
  auto csr = pki::Csr::Create(*key, request);
  if (!csr.ok()) return csr.error().Wrap("the " + e.role + " gateway CSR of mesh " + e.mesh);
  link::v1::Envelope envelope;
  auto* m = envelope.mutable_certificate_signing_request();
  m->set_mesh(e.mesh);
  m->set_directive_generation(e.pending_generation);
  m->set_csr_pem(csr->ToPem());
  m->set_request_id(e.pending_request_id);
  m->set_gateway_role(e.role);
  if (e.phase != api::v1::CERTIFICATE_FAILED) e.phase = api::v1::REQUESTED;
  if (Status s = send_(std::move(envelope)); !s.ok()) {
    e.csr_sent = false;  // resent when a session starts
    return OkStatus();
  }
  spdlog::info("mesh {}: sent {} gateway CSR {} for generation {}", e.mesh, e.role, e.pending_request_id,
               e.pending_generation);
  e.csr_sent = true;
  e.csr_sent_at = options_.clock();
  return OkStatus();
}

asio::awaitable<void> GatewayCertificateManager::OnIssued(const link::v1::IssuedCertificate& issued) {
  Entry* e = Find(issued.mesh(), issued.gateway_role());
  if (e == nullptr || e->pending_request_id != issued.request_id() || e->pending_key_pem.empty()) {
    spdlog::info("mesh {}: ignoring {} gateway certificate {} (no pending request of that id)", issued.mesh(),
                 issued.gateway_role(), issued.request_id());
    co_return;
  }
  if (!issued.error().empty()) {
    e->phase = api::v1::CERTIFICATE_FAILED;
    e->error = "the hub refused the " + e->role + " gateway certificate of mesh " + e->mesh + ": " + issued.error();
    spdlog::warn("mesh {}: {}", e->mesh, e->error);
    co_return;  // Tick resends after csr_retry_interval
  }
  e->busy = true;
  Status s = co_await Install(*e, issued);
  e->busy = false;
  if (!s.ok()) {
    e->phase = api::v1::CERTIFICATE_FAILED;
    e->error = s.error().message;
    spdlog::warn("mesh {}: {} gateway certificate not installed: {}", e->mesh, e->role, e->error);
  }
}

asio::awaitable<Status> GatewayCertificateManager::Install(Entry& e, const link::v1::IssuedCertificate& issued) {
  const std::string what = "the " + e.role + " gateway certificate " + issued.request_id() + " of mesh " + e.mesh;
  auto leaf = pki::Certificate::FromPem(issued.certificate_chain_pem());
  if (!leaf.ok()) co_return leaf.error().Wrap(what);
  auto key = pki::PrivateKey::FromPem(e.pending_key_pem);
  if (!key.ok()) co_return key.error().Wrap(what);
  if (Status s = pki::KeyMatchesCertificate(*key, *leaf); !s.ok()) {
    co_return MakeError(what + " is not for the key this cluster generated");
  }
  const std::vector<std::string> sans = leaf->uri_sans();
  if (sans != std::vector<std::string>{e.directive.spiffe_id()}) {
    co_return MakeError(what + " does not carry exactly the URI SAN " + e.directive.spiffe_id());
  }
  auto bundle = pki::ParsePemBundle(e.directive.trust_bundle_pem());
  if (!bundle.ok()) co_return bundle.error().Wrap(what);
  if (auto verified = pki::VerifyChain(*leaf, *bundle, {}, options_.clock()); !verified.ok()) {
    co_return verified.error().Wrap(what + " does not verify against the VirtualMesh's gateway CA");
  }

  const std::string name = SecretName(e.role);
  for (const auto& ns : e.directive.namespaces()) {
    const std::string path = kube::ResourcePath("v1", "secrets", ns, name);
    auto current = co_await client_.Get(path);
    if (!current.ok()) co_return current.error().Wrap("reading Secret " + ns + "/" + name);
    const bool exists = current->ok();
    if (!exists && current->status != 404) {
      co_return MakeError("reading Secret " + ns + "/" + name + ": " + current->Describe());
    }
    const json::object* meta = exists ? Obj(current->body.if_object(), "metadata") : nullptr;
    if (exists && StrMap(Obj(meta, "labels"))[kManagedByLabel] != kManagedByValue) {
      co_return MakeError("Secret " + ns + "/" + name + " exists and was not written by vmesh (no label " +
                          kManagedByLabel + "=" + kManagedByValue +
                          "), so vmesh will not overwrite it: delete it, or " + "label it to hand it over to vmesh");
    }
    json::object secret{{"apiVersion", "v1"},
                        {"kind", "Secret"},
                        {"metadata",
                         {{"name", name},
                          {"namespace", ns},
                          {"labels",
                           {{kManagedByLabel, kManagedByValue},
                            {kVirtualMeshLabel, VirtualMeshLabelValue(e.directive.virtual_mesh())},
                            {kGatewayRoleLabel, e.role}}},
                          {"annotations", {{kMeshAnnotation, e.mesh}, {kGenerationAnnotation, e.pending_generation}}}}},
                        {"type", "kubernetes.io/tls"},
                        {"data",
                         {{"tls.crt", Base64Encode(leaf->ToPem())},
                          {"tls.key", Base64Encode(e.pending_key_pem)},
                          {"ca.crt", Base64Encode(e.directive.trust_bundle_pem())}}}};
    Result<kube::ApiResponse> written = MakeError("");
    if (exists) {
      secret["metadata"].get_object()["resourceVersion"] = Str(meta, "resourceVersion");
      written = co_await client_.Update(path, secret);
    } else {
      written = co_await client_.Create(kube::ResourcePath("v1", "secrets", ns), secret);
    }
    if (!written.ok()) co_return written.error().Wrap("writing Secret " + ns + "/" + name);
    if (!written->ok()) co_return MakeError("writing Secret " + ns + "/" + name + ": " + written->Describe());
  }
  spdlog::info("mesh {}: installed {} gateway certificate {} (notAfter {}) in Secret {} of {} namespace(s)", e.mesh,
               e.role, leaf->serial_hex(), ToTimestamp(leaf->not_after()).seconds(), name,
               e.directive.namespaces_size());
  e.installed = true;
  e.installed_serial = leaf->serial_hex();
  e.installed_generation = e.pending_generation;
  e.installed_not_before = leaf->not_before();
  e.installed_not_after = leaf->not_after();
  e.phase = api::v1::INSTALLED;
  e.error.clear();
  if (options_.metrics) {
    options_.metrics->Set(kNotAfterGauge, {{"mesh", e.mesh}, {"role", e.role}},
                          static_cast<double>(ToTimestamp(leaf->not_after()).seconds()));
  }
  co_return co_await DeletePending(e);
}

asio::awaitable<Status> GatewayCertificateManager::OnDirectiveRemoved(const std::string& resource_name) {
  const std::string mesh = MeshOfResourceName(resource_name);
  const std::string role = resource_name.substr(resource_name.rfind('/') + 1);
  if (mesh.empty() || !ParseRole(role))
    co_return MakeError("resource " + resource_name + ": not a gateway certificate");
  // The Secrets vmesh wrote for this mesh and role, wherever they are (the directive may be gone with a restart).
  const std::string selector =
      std::string(kManagedByLabel) + "=" + kManagedByValue + "," + kGatewayRoleLabel + "=" + role;
  auto list =
      co_await client_.List(kube::ResourcePath("v1", "secrets"), "labelSelector=" + kube::EscapePathSegment(selector));
  if (!list.ok()) co_return list.error().Wrap("listing the " + role + " gateway Secrets");
  if (!list->ok()) co_return MakeError("listing the " + role + " gateway Secrets: " + list->Describe());
  if (const json::array* items = jsonf::Arr(list->body.if_object(), "items")) {
    for (const auto& item : *items) {
      const json::object* meta = Obj(item.if_object(), "metadata");
      if (StrMap(Obj(meta, "annotations"))[kMeshAnnotation] != mesh) continue;
      const std::string ns = Str(meta, "namespace");
      const std::string name = Str(meta, "name");
      auto r = co_await client_.Delete(kube::ResourcePath("v1", "secrets", ns, name));
      if (!r.ok()) co_return r.error().Wrap("deleting Secret " + ns + "/" + name);
      if (!r->ok() && r->status != 404)
        co_return MakeError("deleting Secret " + ns + "/" + name + ": " + r->Describe());
      spdlog::info("mesh {}: deleted {} gateway Secret {}/{} (no longer directed)", mesh, role, ns, name);
    }
  }
  Entry fallback;
  fallback.mesh = mesh;
  fallback.role = role;
  Entry* e = Find(mesh, role);
  if (Status s = co_await DeletePending(e ? *e : fallback); !s.ok()) co_return s;
  entries_.erase(mesh + "/" + role);
  if (options_.metrics) options_.metrics->Remove(kNotAfterGauge, {{"mesh", mesh}, {"role", role}});
  co_return OkStatus();
}

asio::awaitable<void> GatewayCertificateManager::Tick() {
  std::vector<std::string> keys;
  for (const auto& [key, entry] : entries_) keys.push_back(key);
  for (const auto& key : keys) {
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second->busy) continue;
    Entry& e = *it->second;
    const bool settled =
        e.phase == api::v1::INSTALLED && e.installed_generation == e.directive.generation() && !RenewalDue(e);
    if (settled) continue;
    if (e.phase == api::v1::INSTALLED && RenewalDue(e)) {
      spdlog::info("mesh {}: {} gateway certificate {} reached 2/3 of its lifetime: renewing", e.mesh, e.role,
                   e.installed_serial);
    }
    if (Status s = co_await Converge(e); !s.ok()) {
      e.error = s.error().message;
      spdlog::warn("mesh {}: {} gateway certificate: {}", e.mesh, e.role, e.error);
    }
  }
}

void GatewayCertificateManager::OnSessionStarted() {
  for (auto& [key, e] : entries_) e->csr_sent = false;
}

std::map<std::string, std::vector<link::v1::GatewayCertificateReport>> GatewayCertificateManager::Reports() const {
  std::map<std::string, std::vector<link::v1::GatewayCertificateReport>> out;
  for (const auto& [key, e] : entries_) {
    link::v1::GatewayCertificateReport report;
    auto* status = report.mutable_status();
    status->set_role(e->role);
    status->set_phase(e->phase);
    if (e->installed) {
      status->set_serial(e->installed_serial);
      *status->mutable_not_after() = ToTimestamp(e->installed_not_after);
      report.set_installed_generation(e->installed_generation);
    }
    for (const auto& ns : e->directive.namespaces()) status->add_secrets(ns + "/" + SecretName(e->role));
    status->set_error(e->error);
    out[e->mesh].push_back(std::move(report));
  }
  return out;
}

}  // namespace vmesh::agent
