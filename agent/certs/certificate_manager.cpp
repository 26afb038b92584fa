#include "agent/certs/certificate_manager.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <set>

#include "agent/certs/cacerts.h"
#include "agent/certs/cert_state_secret.h"
#include "common/base/base64.h"
#include "common/base/json_fields.h"
#include "common/base/random.h"
#include "common/base/resource_names.h"
#include "common/metrics/metrics.h"
#include "common/pki/csr.h"
#include "common/pki/key.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::system_clock;

constexpr char kNotAfterGauge[] = "vmesh_agent_certificate_not_after_seconds";

using jsonf::Obj;
using jsonf::Str;
using jsonf::StrMap;

std::set<std::string> Fingerprints(const std::string& pem) {
  std::set<std::string> out;
  auto certs = pki::ParsePemBundle(pem);
  if (!certs.ok()) return out;
  for (const auto& c : *certs) out.insert(c.Fingerprint());
  return out;
}

// Fingerprint of the last certificate of a PEM bundle (the anchor closing cert-chain.pem), "" when none parses.
std::string LastFingerprint(const std::string& pem) {
  auto certs = pki::ParsePemBundle(pem);
  if (!certs.ok() || certs->empty()) return "";
  return certs->back().Fingerprint();
}

// A Secret or ConfigMap as read from the cluster: absent, or its labels, decoded data and resourceVersion.
struct ClusterObject {
  bool exists = false;
  std::string resource_version;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> data;
};

asio::awaitable<Result<ClusterObject>> ReadObject(kube::KubeClient& client, std::string path, bool base64_data) {
  auto r = co_await client.Get(path);
  if (!r.ok()) co_return r.error().Wrap("reading " + path);
  ClusterObject out;
  if (r->status == 404) co_return out;
  if (!r->ok() || !r->body.is_object()) co_return MakeError("reading " + path + ": " + r->Describe());
  const json::object& o = r->body.get_object();
  const json::object* meta = Obj(&o, "metadata");
  out.exists = true;
  out.resource_version = Str(meta, "resourceVersion");
  out.labels = StrMap(Obj(meta, "labels"));
  out.annotations = StrMap(Obj(meta, "annotations"));
  for (auto& [k, v] : StrMap(Obj(&o, "data"))) {
    if (!base64_data) {
      out.data[k] = v;
    } else if (auto decoded = Base64Decode(v)) {
      out.data[k] = std::move(*decoded);
    }
  }
  co_return out;
}

}  // namespace

struct CertificateManager::MeshEntry {
  std::string mesh;
  std::optional<link::v1::CertificateDirective> directive;
  MeshCertState state;
  bool loaded = false;
  std::string resource_version;  // of the state Secret; "" while it does not exist
  bool busy = false;
  std::vector<asio::steady_timer*> waiters;

  api::v1::CertificatePhase phase = api::v1::CERTIFICATE_PHASE_UNSPECIFIED;
  std::string error;
  bool csr_sent = false;         // the CSR for the pending key reached the hub's link in this session
  bool csr_wait_logged = false;  // "waits for a session" said once, not on every tick of an outage
  Clock::time_point csr_sent_at{};
  std::optional<link::v1::IssuedCertificate> install_retry;  // issued, not yet installed
  std::string installed_root_pem;
  std::optional<RestartProgress> restart;
  std::string restart_error;
};

namespace {

// Operations on one mesh are serialized across co_awaits (everything runs on one thread): Hold marks the
// entry busy, WaitUntilIdle waits for the holder to finish.
template <typename Entry>
class Hold {
 public:
  explicit Hold(Entry& e) : e_(e) { e_.busy = true; }
  ~Hold() {
    e_.busy = false;
    for (auto* t : e_.waiters) t->cancel();
  }
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;

 private:
  Entry& e_;
};

template <typename Entry>
asio::awaitable<void> WaitUntilIdle(Entry& e) {
  while (e.busy) {
    asio::steady_timer timer(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
    e.waiters.push_back(&timer);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::erase(e.waiters, &timer);
  }
}

}  // namespace

CertificateManager::CertificateManager(kube::KubeClient& client, CertificateManagerOptions options, HubSend send,
                                       MeshLookup meshes, Restarter& restarter)
    : client_(client),
      options_(std::move(options)),
      send_(std::move(send)),
      meshes_(std::move(meshes)),
      restarter_(restarter) {
  if (!options_.clock) options_.clock = [] { return Clock::now(); };
  if (options_.spare_keys) PrepareSpare(pki::KeySpec::Rsa(4096));  // the default intermediate key
  if (options_.metrics) {
    options_.metrics->DeclareGauge(kNotAfterGauge, "notAfter of the installed intermediate CA per mesh (Unix time)");
  }
}

CertificateManager::~CertificateManager() {
  cancel_keygen_ = true;  // a spare (or a key no one will use now) is not worth waiting for at shutdown
  keygen_.join();
  spare_keygen_.join();
}

void CertificateManager::PrepareSpare(const pki::KeySpec& spec) {
  const std::string id = spec.ToString();
  {
    std::lock_guard lock(spare_mu_);
    if (spare_ready_.count(id) || !spare_pending_.insert(id).second) return;
  }
  asio::post(spare_keygen_, [this, spec, id] {
    auto key = pki::PrivateKey::Generate(spec, &cancel_keygen_);
    std::lock_guard lock(spare_mu_);
    spare_pending_.erase(id);
    if (key.ok()) spare_ready_[id] = key->ToPem();
    spare_cv_.notify_all();
  });
}

std::optional<std::string> CertificateManager::TakeSpare(const pki::KeySpec& spec) {
  const std::string id = spec.ToString();
  std::unique_lock lock(spare_mu_);
  // A spare half-way done is sooner than a new key.
  spare_cv_.wait(lock, [&] { return !spare_pending_.count(id); });
  auto it = spare_ready_.find(id);
  if (it == spare_ready_.end()) return std::nullopt;
  std::string pem = std::move(it->second);
  spare_ready_.erase(it);
  return pem;
}

CertificateManager::MeshEntry& CertificateManager::Entry(const std::string& mesh) {
  auto& slot = entries_[mesh];
  if (!slot) {
    slot = std::make_unique<MeshEntry>();
    slot->mesh = mesh;
  }
  return *slot;
}

asio::awaitable<Status> CertificateManager::Load(MeshEntry& e) {
  if (e.loaded) co_return OkStatus();
  const std::string path = kube::ResourcePath("v1", "secrets", options_.state_namespace, CertStateSecretName(e.mesh));
  auto r = co_await client_.Get(path);
  if (!r.ok()) co_return r.error().Wrap("reading the certificate state of mesh " + e.mesh);
  if (r->status == 404) {
    e.state = MeshCertState{};
    e.resource_version.clear();
  } else if (r->ok()) {
    auto state = CertStateFromSecret(r->body);
    if (!state.ok()) {
      co_return state.error().Wrap("Secret " + options_.state_namespace + "/" + CertStateSecretName(e.mesh));
    }
    e.state = std::move(*state);
    e.resource_version = Str(Obj(r->body.if_object(), "metadata"), "resourceVersion");
  } else {
    co_return MakeError("reading the certificate state of mesh " + e.mesh + ": " + r->Describe());
  }
  e.loaded = true;
  co_return OkStatus();
}

asio::awaitable<Status> CertificateManager::EnsureStateNamespace() {
  if (namespace_ready_) co_return OkStatus();
  json::value ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", options_.state_namespace}}}};
  auto r = co_await client_.Create(kube::ResourcePath("v1", "namespaces"), ns);
  if (!r.ok()) co_return r.error().Wrap("creating namespace " + options_.state_namespace);
  if (!r->ok() && r->status != 409) {
    co_return MakeError("creating namespace " + options_.state_namespace + ": " + r->Describe());
  }
  namespace_ready_ = true;
  co_return OkStatus();
}

asio::awaitable<Status> CertificateManager::Persist(MeshEntry& e) {
  const std::string name = CertStateSecretName(e.mesh);
  const std::string what = "Secret " + options_.state_namespace + "/" + name;
  json::object secret = CertStateToSecret(e.state, e.mesh, options_.state_namespace);
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<kube::ApiResponse> r = MakeError("");
    if (e.resource_version.empty()) {
      if (Status s = co_await EnsureStateNamespace(); !s.ok()) co_return s;
      r = co_await client_.Create(kube::ResourcePath("v1", "secrets", options_.state_namespace), secret);
    } else {
      secret["metadata"].get_object()["resourceVersion"] = e.resource_version;
      r = co_await client_.Update(kube::ResourcePath("v1", "secrets", options_.state_namespace, name), secret);
    }
    if (!r.ok()) co_return r.error().Wrap("writing " + what);
    if (r->ok()) {
      e.resource_version = Str(Obj(r->body.if_object(), "metadata"), "resourceVersion");
      co_return OkStatus();
    }
    if (r->status == 404 && !e.resource_version.empty()) {
      e.resource_version.clear();  // deleted behind our back: create it again
      continue;
    }
    if (r->status != 409) co_return MakeError("writing " + what + ": " + r->Describe());
    // Someone else wrote it (or it exists already): take its version and write ours over it.
    auto current = co_await client_.Get(kube::ResourcePath("v1", "secrets", options_.state_namespace, name));
    if (!current.ok()) co_return current.error().Wrap("writing " + what);
    if (current->status == 404) {
      e.resource_version.clear();
    } else {
      e.resource_version = Str(Obj(current->body.if_object(), "metadata"), "resourceVersion");
    }
    secret = CertStateToSecret(e.state, e.mesh, options_.state_namespace);
  }
  co_return MakeError("writing " + what + ": conflicting writers");
}

Status CertificateManager::SendCsr(MeshEntry& e) {
  auto key = pki::PrivateKey::FromPem(e.state.pending_key_pem);
  if (!key.ok()) return key.error().Wrap("the pending key of mesh " + e.mesh);
  pki::CsrRequest request;
  request.subject.organization = "vmesh";
  request.subject.common_name = "vmesh intermediate " + options_.cluster + "/" + e.mesh;
  auto csr = pki::Csr::Create(*key, request);
  if (!csr.ok()) return csr.error().Wrap("the CSR of mesh " + e.mesh);
  link::v1::Envelope envelope;
  auto* m = envelope.mutable_certificate_signing_request();
  m->set_mesh(e.mesh);
  m->set_directive_generation(e.state.pending_generation);
  m->set_csr_pem(csr->ToPem());
  m->set_request_id(e.state.pending_request_id);
  e.phase = api::v1::REQUESTED;
  if (Status s = send_(std::move(envelope)); !s.ok()) {
    if (!e.csr_wait_logged) {
      spdlog::info("mesh {}: CSR {} waits for a session with the hub ({})", e.mesh, e.state.pending_request_id,
                   s.error().message);
    }
    e.csr_wait_logged = true;
    e.csr_sent = false;
    return OkStatus();
  }
  e.csr_wait_logged = false;
  spdlog::info("mesh {}: sent CSR {} for generation {}", e.mesh, e.state.pending_request_id,
               e.state.pending_generation);
  e.csr_sent = true;
  e.csr_sent_at = options_.clock();
  return OkStatus();
}

asio::awaitable<Status> CertificateManager::GenerateKeyAndSend(MeshEntry& e) {
  const pki::KeySpec spec = KeySpecOf(*e.directive);
  if (Status s = pki::ValidateKeySpec(spec); !s.ok()) {
    co_return s.error().Wrap("certificate directive for mesh " + e.mesh);
  }
  // RSA keys take seconds: generate on the helper thread, resume here — or take a spare of this kind.
  std::string pem;
  std::string error;
  co_await asio::co_spawn(
      keygen_,
      [this, spec, &pem, &error]() -> asio::awaitable<void> {
        if (auto spare = TakeSpare(spec)) {
          pem = std::move(*spare);
          co_return;
        }
        auto key = pki::PrivateKey::Generate(spec, &cancel_keygen_);
        if (key.ok()) {
          pem = key->ToPem();
        } else {
          error = key.error().message;
        }
        co_return;
      },
      asio::use_awaitable);
  if (!error.empty()) co_return MakeError("generating a " + spec.ToString() + " key for mesh " + e.mesh + ": " + error);
  if (options_.spare_keys) PrepareSpare(spec);  // for the next rotation or directive of this kind

  auto request_id = RandomHex(16);
  if (!request_id.ok()) co_return request_id.error().Wrap("mesh " + e.mesh + ": certificate request id");
  const MeshCertState previous = e.state;
  e.state.pending_key_pem = pem;
  e.state.pending_generation = e.directive->generation();
  e.state.pending_request_id = std::move(*request_id);
  // The key is persisted before anything about it leaves the cluster.
  if (Status s = co_await Persist(e); !s.ok()) {
    e.state = previous;
    co_return s;
  }
  spdlog::info("mesh {}: generated a {} key for generation {}", e.mesh, spec.ToString(), e.directive->generation());
  e.error.clear();
  co_return SendCsr(e);
}

asio::awaitable<Status> CertificateManager::Converge(MeshEntry& e, bool resend) {
  if (Status s = co_await Load(e); !s.ok()) co_return s;
  if (!e.directive) co_return OkStatus();
  const CertDecision decision = DecideCertificate(*e.directive, e.state, options_.clock());
  switch (decision.action) {
    case CertAction::kNone:
      if (!e.install_retry) {  // (an install waiting for a retry keeps its FAILED and its reason)
        e.phase = api::v1::INSTALLED;
        e.error.clear();
      }
      co_return OkStatus();
    case CertAction::kGenerateKey:
      spdlog::info("mesh {}: requesting a new intermediate: {}", e.mesh, decision.reason);
      co_return co_await GenerateKeyAndSend(e);
    case CertAction::kSendPendingCsr:
      if (e.phase == api::v1::CERTIFICATE_PHASE_UNSPECIFIED) e.phase = api::v1::REQUESTED;
      if (resend || !e.csr_sent) co_return SendCsr(e);
      co_return OkStatus();
  }
  co_return OkStatus();
}

asio::awaitable<Status> CertificateManager::OnDirective(const link::v1::CertificateDirective& directive) {
  MeshEntry& e = Entry(directive.mesh());
  co_await WaitUntilIdle(e);
  Hold hold(e);
  const bool changed = !e.directive || e.directive->generation() != directive.generation();
  e.directive = directive;
  if (changed && e.phase == api::v1::CERTIFICATE_FAILED) e.error.clear();
  Status s = co_await Converge(e, false);
  if (!s.ok()) {
    e.phase = api::v1::CERTIFICATE_FAILED;
    e.error = s.error().message;
    spdlog::error("mesh {}: {}", e.mesh, e.error);
  }
  co_return s;
}

asio::awaitable<Status> CertificateManager::OnDirectiveRemoved(const std::string& mesh) {
  auto it = entries_.find(mesh);
  if (it == entries_.end()) co_return OkStatus();
  MeshEntry& e = *it->second;
  co_await WaitUntilIdle(e);
  Hold hold(e);
  e.directive.reset();
  e.install_retry.reset();
  e.phase = api::v1::CERTIFICATE_PHASE_UNSPECIFIED;
  e.error.clear();
  spdlog::info("mesh {}: the hub no longer asks for a certificate; Secret cacerts stays for running workloads", mesh);
  if (Status s = co_await Load(e); !s.ok()) co_return s;
  if (e.state.pending_key_pem.empty()) co_return OkStatus();
  e.state.pending_key_pem.clear();
  e.state.pending_generation.clear();
  e.state.pending_request_id.clear();
  co_return co_await Persist(e);
}

asio::awaitable<Status> CertificateManager::Install(MeshEntry& e, const link::v1::IssuedCertificate& issued) {
  const std::optional<api::v1::Mesh> mesh = meshes_(e.mesh);
  if (!mesh) co_return MakeError("mesh " + e.mesh + " is not discovered in this cluster");
  const std::string ns = mesh->spec().installation_namespace();
  const std::string cacerts_path = kube::ResourcePath("v1", "secrets", ns, kCacertsSecretName);

  auto current = co_await ReadObject(client_, cacerts_path, true);
  if (!current.ok()) co_return current.error();
  if (current->exists) {
    if (Status s = CheckCacertsOwnership(current->labels, ns); !s.ok()) co_return s;
  }
  CacertsInput input;
  input.key_pem = e.state.pending_key_pem;
  input.certificate_chain_pem = issued.certificate_chain_pem();
  input.trust_bundle_pem =
      e.directive && !e.directive->trust_bundle_pem().empty() ? e.directive->trust_bundle_pem() : issued.root_pem();
  input.current_root_pem = current->exists ? current->data["root-cert.pem"] : "";
  input.now = options_.clock();
  auto files = BuildCacerts(input);
  if (!files.ok()) co_return files.error().Wrap("certificate " + issued.request_id() + " for mesh " + e.mesh);
  auto intermediate = pki::Certificate::FromPem((*files)["ca-cert.pem"]);
  if (!intermediate.ok()) co_return intermediate.error();

  // What the mesh's workloads trust now: istiod's mirror in its namespace (Istio's own root before vmesh).
  auto held =
      co_await ReadObject(client_, kube::ResourcePath("v1", "configmaps", ns, kIstioRootCertConfigMapName), false);
  if (!held.ok()) co_return held.error();

  json::object data;
  for (const auto& [k, v] : *files) data[k] = Base64Encode(v);
  json::object labels;
  for (const auto& [k, v] : current->labels) labels[k] = v;
  labels[kManagedByLabel] = kManagedByValue;
  json::object secret{{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"metadata", {{"name", kCacertsSecretName}, {"namespace", ns}, {"labels", std::move(labels)}}},
                      {"type", "Opaque"},
                      {"data", std::move(data)}};
  Result<kube::ApiResponse> written = MakeError("");
  if (current->exists) {
    json::object annotations;
    for (const auto& [k, v] : current->annotations) annotations[k] = v;
    if (!annotations.empty()) secret["metadata"].get_object()["annotations"] = std::move(annotations);
    secret["metadata"].get_object()["resourceVersion"] = current->resource_version;
    written = co_await client_.Update(cacerts_path, secret);
  } else {
    written = co_await client_.Create(kube::ResourcePath("v1", "secrets", ns), secret);
  }
  if (!written.ok()) co_return written.error().Wrap("writing Secret " + ns + "/cacerts");
  if (!written->ok()) co_return MakeError("writing Secret " + ns + "/cacerts: " + written->Describe());
  spdlog::info("mesh {}: installed intermediate {} in Secret {}/cacerts", e.mesh, intermediate->serial_hex(), ns);

  // Restarts owed: the trust root changed for the workloads, or istiod < 1.19 needs to load the intermediate.
  const std::string& root_pem = (*files)["root-cert.pem"];
  const std::set<std::string> new_roots = Fingerprints(root_pem);
  const std::set<std::string> previous_roots = Fingerprints(input.current_root_pem);
  // The root the intermediate chains to changed (a root rotation's ISSUE_NEW phase, or its rollback): the bundle may
  // be byte-identical, but workloads must be restarted to get certificates that chain to it, so that the next phase
  // can drop the other root (SPEC §5.5).
  const bool anchor_changed =
      current->exists && !current->data["cert-chain.pem"].empty() &&
      LastFingerprint(current->data["cert-chain.pem"]) != LastFingerprint((*files)["cert-chain.pem"]);
  const bool root_changed = Fingerprints(held->data["root-cert.pem"]) != new_roots ||
                            (!previous_roots.empty() && previous_roots != new_roots) || anchor_changed;
  MeshCertState next = e.state;
  if (root_changed) {
    next.restart_serial = intermediate->serial_hex();
    next.restart_istiod_only = false;
    next.restart_requested = false;
  } else if (!mesh->spec().ca_hot_reload() && next.restart_serial.empty()) {
    next.restart_serial = intermediate->serial_hex();
    next.restart_istiod_only = true;
    next.restart_requested = false;
  }
  next.installed_generation = e.state.pending_generation;
  next.installed_serial = intermediate->serial_hex();
  next.installed_not_after = intermediate->not_after();
  next.renew_at = RenewalTime(*intermediate, input.now);
  next.pending_key_pem.clear();
  next.pending_generation.clear();
  next.pending_request_id.clear();
  const MeshCertState previous = e.state;
  e.state = next;
  if (Status s = co_await Persist(e); !s.ok()) {
    e.state = previous;
    co_return s;
  }
  e.installed_root_pem = root_pem;
  e.phase = api::v1::INSTALLED;
  e.error.clear();
  e.csr_sent = false;
  if (options_.metrics) {
    options_.metrics->Set(
        kNotAfterGauge, {{"mesh", e.mesh}},
        static_cast<double>(
            std::chrono::duration_cast<std::chrono::seconds>(intermediate->not_after().time_since_epoch()).count()));
  }
  if (!next.restart_serial.empty() && next.restart_serial == next.installed_serial) {
    spdlog::info(
        "mesh {}: {} needs a restart for certificate {}", e.mesh,
        next.restart_istiod_only ? "istiod (Istio < 1.19 does not reload cacerts)" : "the mesh (new trust root)",
        next.restart_serial);
  }
  co_return OkStatus();
}

asio::awaitable<void> CertificateManager::OnIssued(const link::v1::IssuedCertificate& issued) {
  auto it = entries_.find(issued.mesh());
  if (it == entries_.end()) {
    spdlog::warn("certificate {} for mesh {} answers no request of this agent; ignored", issued.request_id(),
                 issued.mesh());
    co_return;
  }
  MeshEntry& e = *it->second;
  co_await WaitUntilIdle(e);
  Hold hold(e);
  if (Status s = co_await Load(e); !s.ok()) {
    spdlog::error("mesh {}: {}", e.mesh, s.error().message);
    co_return;
  }
  if (!AnswersPendingRequest(issued, e.state)) {
    spdlog::info("mesh {}: certificate answer {} is stale (pending: {}); ignored", e.mesh, issued.request_id(),
                 e.state.pending_request_id.empty() ? "none" : e.state.pending_request_id);
    co_return;
  }
  if (!issued.error().empty()) {
    e.phase = api::v1::CERTIFICATE_FAILED;
    e.error = "the hub refused the certificate request: " + issued.error();
    spdlog::error("mesh {}: {}", e.mesh, e.error);
    co_return;
  }
  e.phase = api::v1::ISSUED;
  if (Status s = co_await Install(e, issued); !s.ok()) {
    e.phase = api::v1::CERTIFICATE_FAILED;
    e.error = s.error().message;
    e.install_retry = issued;
    spdlog::error("mesh {}: {}", e.mesh, e.error);
    co_return;
  }
  e.install_retry.reset();
  co_await RestartStep(e);
}

asio::awaitable<Status> CertificateManager::OnRestartDirective(const link::v1::RestartDirective& directive) {
  MeshEntry& e = Entry(directive.mesh());
  co_await WaitUntilIdle(e);
  Hold hold(e);
  if (Status s = co_await Load(e); !s.ok()) co_return s;
  const std::string serial =
      directive.certificate_serial().empty() ? e.state.installed_serial : directive.certificate_serial();
  if (serial.empty()) {
    co_return MakeError("mesh " + e.mesh + " has no vmesh certificate installed yet; nothing to restart for");
  }
  if (!meshes_(e.mesh)) co_return MakeError("mesh " + e.mesh + " is not discovered in this cluster");
  if (e.state.restart_serial != serial || !e.state.restart_requested) {
    const MeshCertState previous = e.state;
    e.state.restart_serial = serial;
    e.state.restart_istiod_only = false;
    e.state.restart_requested = true;
    if (Status s = co_await Persist(e); !s.ok()) {
      e.state = previous;
      co_return s;
    }
  }
  spdlog::info("mesh {}: restart requested for certificate {} ({})", e.mesh, serial, directive.request_id());
  co_await RestartStep(e);
  co_return OkStatus();
}

asio::awaitable<void> CertificateManager::RestartStep(MeshEntry& e) {
  if (e.state.restart_serial.empty()) {
    // Nothing owed; the last progress (complete) stays in the status.
    e.restart_error.clear();
    co_return;
  }
  const std::optional<api::v1::Mesh> mesh = meshes_(e.mesh);
  if (!mesh) {
    e.restart_error =
        "restart for certificate " + e.state.restart_serial + " waits for mesh " + e.mesh + " to be discovered";
    co_return;
  }
  if (e.installed_root_pem.empty()) {
    auto cacerts = co_await ReadObject(
        client_, kube::ResourcePath("v1", "secrets", mesh->spec().installation_namespace(), kCacertsSecretName), true);
    if (!cacerts.ok()) {
      e.restart_error = cacerts.error().message;
      co_return;
    }
    e.installed_root_pem = cacerts->data["root-cert.pem"];
  }
  RestartTarget target;
  target.mesh = *mesh;
  target.certificate_serial = e.state.restart_serial;
  target.root_pem = e.installed_root_pem;
  target.istiod_only = e.state.restart_istiod_only;
  const bool act = e.state.restart_requested || (e.directive && e.directive->auto_restart_pods());
  Result<RestartProgress> progress = MakeError("");
  if (act) {
    progress = co_await restarter_.Step(target);
  } else {
    progress = co_await restarter_.Inspect(target);
  }
  if (!progress.ok()) {
    e.restart_error = "restart for certificate " + target.certificate_serial + ": " + progress.error().message;
    spdlog::warn("mesh {}: {}", e.mesh, e.restart_error);
    co_return;
  }
  e.restart_error.clear();
  e.restart = *progress;
  if (progress->finished()) {
    spdlog::info("mesh {}: restart for certificate {} complete ({} workloads)", e.mesh, target.certificate_serial,
                 progress->total);
    const MeshCertState previous = e.state;
    e.state.restart_serial.clear();
    e.state.restart_istiod_only = false;
    e.state.restart_requested = false;
    if (Status s = co_await Persist(e); !s.ok()) {
      e.state = previous;
      e.restart_error = s.error().message;
    }
  }
}

asio::awaitable<void> CertificateManager::Tick() {
  if (ticking_) co_return;
  ticking_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{ticking_};
  const auto now = options_.clock();
  // Entries are never erased, so iterators stay valid across the co_awaits.
  for (auto& [name, slot] : entries_) {
    MeshEntry& e = *slot;
    if (e.busy) continue;
    Hold hold(e);
    if (e.install_retry) {
      link::v1::IssuedCertificate issued = *e.install_retry;
      if (!AnswersPendingRequest(issued, e.state)) {
        e.install_retry.reset();
      } else if (Status s = co_await Install(e, issued); s.ok()) {
        e.install_retry.reset();
      } else if (s.error().message != e.error) {
        e.error = s.error().message;
        spdlog::error("mesh {}: {}", e.mesh, e.error);
      }
    } else if (e.directive) {
      const bool resend_due = !e.csr_sent || now - e.csr_sent_at >= options_.csr_retry_interval;
      if (Status s = co_await Converge(e, resend_due); !s.ok()) {
        e.phase = api::v1::CERTIFICATE_FAILED;
        e.error = s.error().message;
        spdlog::error("mesh {}: {}", e.mesh, e.error);
      }
    }
    if (e.loaded) co_await RestartStep(e);
  }
}

void CertificateManager::OnSessionStarted() {
  for (auto& [name, e] : entries_) e->csr_sent = false;
}

std::vector<link::v1::MeshStatus> CertificateManager::Statuses() const {
  std::vector<link::v1::MeshStatus> out;
  for (const auto& [name, e] : entries_) {
    if (!e->directive && e->state.restart_serial.empty()) continue;
    link::v1::MeshStatus ms;
    ms.set_mesh(name);
    auto* cert = ms.mutable_certificate();
    cert->set_serial(e->state.installed_serial);
    if (e->state.installed_not_after != Clock::time_point{}) {
      cert->mutable_not_after()->set_seconds(
          std::chrono::duration_cast<std::chrono::seconds>(e->state.installed_not_after.time_since_epoch()).count());
    }
    cert->set_phase(e->phase);
    ms.set_installed_generation(e->state.installed_generation);
    ms.set_restart_owed_for(e->state.restart_serial);
    if (e->restart) {
      ms.set_restarts_done(static_cast<uint32_t>(e->restart->done));
      ms.set_restarts_total(static_cast<uint32_t>(e->restart->total));
      for (const auto& p : e->restart->pending) ms.add_pending_restarts(p);
    }
    if (!e->error.empty()) ms.add_errors(e->error);
    if (!e->restart_error.empty()) ms.add_errors(e->restart_error);
    out.push_back(std::move(ms));
  }
  return out;
}

}  // namespace vmesh::agent
