#include "agent/runtime/identity.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>

#include "agent/runtime/state_objects.h"
#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/link/client.h"
#include "common/link/http.h"
#include "common/pki/secure_string.h"
#include "vmesh/link/v1/link.pb.h"

namespace vmesh::agent {
namespace {

namespace json = boost::json;

// The identity's fields under the keys used in both the Secret and the file.
StateData ToData(const AgentIdentity& id) {
  return {{"cluster", id.cluster},       {"hub-name", id.hub_name}, {"hub-url", id.hub_url},
          {"hub-ca.pem", id.hub_ca_pem}, {"tls.key", id.key_pem},   {"tls.crt", id.certificate_pem}};
}

Result<AgentIdentity> FromData(const StateData& data, const std::string& source) {
  auto get = [&](const char* key) -> std::string {
    auto it = data.find(key);
    return it == data.end() ? std::string() : it->second;
  };
  AgentIdentity id{get("cluster"), get("hub-name"), get("hub-url"), get("hub-ca.pem"), get("tls.key"), get("tls.crt")};
  for (const char* key : {"cluster", "hub-url", "hub-ca.pem", "tls.key", "tls.crt"}) {
    if (get(key).empty()) return MakeError(source + ": the stored identity has no " + key);
  }
  if (Status s = CheckKeyMatches(id.key_pem, id.certificate_pem); !s.ok()) return s.error().Wrap(source);
  return id;
}

class SecretIdentityStore final : public IdentityStore {
 public:
  SecretIdentityStore(kube::KubeClient& client, std::string ns, std::string name)
      : client_(client), ns_(std::move(ns)), name_(std::move(name)) {}

  boost::asio::awaitable<Result<std::optional<AgentIdentity>>> Load() override {
    auto data = co_await ReadStateObject(client_, StateKind::kSecret, ns_, name_);
    if (!data.ok()) co_return data.error();
    if (!data->has_value()) co_return std::optional<AgentIdentity>();
    auto id = FromData(**data, Describe());
    if (!id.ok()) co_return id.error();
    co_return std::optional<AgentIdentity>(std::move(*id));
  }

  boost::asio::awaitable<Status> Save(const AgentIdentity& identity) override {
    co_return co_await WriteStateObject(client_, StateKind::kSecret, ns_, name_, ToData(identity));
  }

  std::string Describe() const override { return "Secret " + ns_ + "/" + name_; }

 private:
  kube::KubeClient& client_;
  std::string ns_;
  std::string name_;
};

class FileIdentityStore final : public IdentityStore {
 public:
  explicit FileIdentityStore(std::string path) : path_(std::move(path)) {}

  boost::asio::awaitable<Result<std::optional<AgentIdentity>>> Load() override {
    if (!FileExists(path_)) co_return std::optional<AgentIdentity>();
    auto read = ReadFile(path_);
    if (!read.ok()) co_return read.error();
    const pki::SecureString text(std::move(*read));  // holds the key PEM: wiped once parsed
    boost::system::error_code ec;
    json::value v = json::parse(text.value(), ec);
    if (ec || !v.is_object()) co_return MakeError(Describe() + ": not a JSON object");
    StateData data;
    for (const auto& [key, value] : v.get_object()) {
      if (value.is_string()) data[std::string(key)] = std::string(value.get_string());
    }
    auto id = FromData(data, Describe());
    if (!id.ok()) co_return id.error();
    co_return std::optional<AgentIdentity>(std::move(*id));
  }

  boost::asio::awaitable<Status> Save(const AgentIdentity& identity) override {
    json::object o;
    for (const auto& [key, value] : ToData(identity)) o[key] = value;
    const pki::SecureString text(json::serialize(o));
    co_return WriteFileAtomically(path_, text.value(), 0600);
  }

  std::string Describe() const override { return "file " + path_; }

 private:
  std::string path_;
};

// The message of a hub error answer (a Kubernetes-style Status JSON), or the raw body.
std::string HubMessage(const link::HttpResponse& response) {
  boost::system::error_code ec;
  json::value v = json::parse(response.body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* m = v.get_object().if_contains("message"); m && m->is_string()) {
      return std::string(m->get_string());
    }
  }
  return response.body;
}

}  // namespace

IdentityStorePtr MakeSecretIdentityStore(kube::KubeClient& client, std::string state_namespace, std::string name) {
  return std::make_unique<SecretIdentityStore>(client, std::move(state_namespace), std::move(name));
}

IdentityStorePtr MakeFileIdentityStore(std::string path) {
  return std::make_unique<FileIdentityStore>(std::move(path));
}

Result<config::v1::BootstrapBundle> ParseBootstrapBundle(const std::string& text) {
  config::v1::BootstrapBundle bundle;
  auto errors = api::DecodeInto(text, &bundle);
  if (!errors.empty()) return MakeError("bootstrap bundle: " + api::JoinErrors(errors));
  if (!bundle.kind().empty() && bundle.kind() != "BootstrapBundle") {
    return MakeError("bootstrap bundle: kind is " + bundle.kind() + ", expected BootstrapBundle");
  }
  for (auto [field, value] : {std::pair{"cluster", &bundle.cluster()}, std::pair{"hubUrl", &bundle.hub_url()},
                              std::pair{"hubCa", &bundle.hub_ca()}, std::pair{"token", &bundle.token()}}) {
    if (value->empty()) return MakeError(std::string("bootstrap bundle: ") + field + " is missing");
  }
  return bundle;
}

Result<std::string> HubHttpsUrl(const std::string& hub_url, const std::string& path) {
  auto url = link::Url::Parse(hub_url);
  if (!url.ok()) return url.error().Wrap("hub URL " + hub_url);
  if (url->scheme != "wss" && url->scheme != "https") {
    return MakeError("hub URL " + hub_url + ": expected wss:// (the hub's agent endpoint)");
  }
  url->scheme = "https";
  url->target = path;
  return url->ToString();
}

Result<IdentityKey> NewIdentityKey(const std::string& cluster) {
  auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  if (!key.ok()) return key.error().Wrap("identity key");
  auto csr = pki::Csr::Create(*key, {.subject = {.common_name = "vmesh agent " + cluster, .organization = "vmesh"}});
  if (!csr.ok()) return csr.error().Wrap("identity CSR");
  return IdentityKey{std::move(*key), std::move(*csr)};
}

Result<AgentIdentity> Bootstrap(const config::v1::BootstrapBundle& bundle, const std::string& agent_version,
                                std::chrono::milliseconds timeout) {
  auto url = HubHttpsUrl(bundle.hub_url(), "/v1/bootstrap");
  if (!url.ok()) return url.error();
  auto tls = link::TlsContext::Client({.ca_bundle_pem = bundle.hub_ca()});
  if (!tls.ok()) return tls.error().Wrap("bootstrap bundle hubCa");
  auto fresh = NewIdentityKey(bundle.cluster());
  if (!fresh.ok()) return fresh.error();

  link::v1::BootstrapRequest request;
  request.set_cluster_name(bundle.cluster());
  request.set_token(bundle.token());
  request.set_csr_pem(fresh->csr.ToPem());
  request.set_agent_version(agent_version);
  link::FetchRequest fetch;
  fetch.url = *url;
  fetch.body = request.SerializeAsString();
  fetch.content_type = "application/x-protobuf";
  fetch.timeout = timeout;
  auto response = link::Fetch(*tls, fetch);
  if (!response.ok()) return response.error().Wrap("bootstrap at " + *url).WithCode(ErrorCode::kUnavailable);
  if (response->status != 200) {
    const int status = response->status;
    const ErrorCode code = status == 502 || status == 503 || status == 504 ? ErrorCode::kUnavailable
                           : status == 401 || status == 403                ? ErrorCode::kPermissionDenied
                                                                           : ErrorCode::kUnknown;
    return MakeError("the hub refused the bootstrap of cluster " + bundle.cluster() + " (HTTP " +
                         std::to_string(status) + "): " + HubMessage(*response),
                     code);
  }
  link::v1::BootstrapResponse answer;
  if (!answer.ParseFromString(response->body)) return MakeError("bootstrap at " + *url + ": undecodable answer");

  AgentIdentity id;
  id.cluster = bundle.cluster();
  id.hub_name = answer.hub_name();
  id.hub_url = bundle.hub_url();
  // The bundle's CA is what the operator handed us; a hub cannot swap its trust anchor through this answer.
  id.hub_ca_pem = bundle.hub_ca();
  id.key_pem = fresh->key.ToPem();
  id.certificate_pem = answer.certificate_pem();
  if (Status s = CheckKeyMatches(id.key_pem, id.certificate_pem); !s.ok()) return s.error().Wrap("bootstrap answer");
  return id;
}

Result<AgentIdentity> BootstrapWithRetry(const std::function<Result<AgentIdentity>()>& attempt,
                                         const BootstrapRetry& retry,
                                         const std::function<void(std::chrono::milliseconds)>& sleep) {
  std::chrono::milliseconds waited{0};
  std::chrono::milliseconds wait = retry.first_wait;
  for (int attempts = 1;; ++attempts) {
    auto id = attempt();
    if (id.ok() || id.error().code != ErrorCode::kUnavailable) return id;
    if (waited + wait > retry.give_up_after) {
      return id.error().Wrap("gave up after " + std::to_string(attempts) + " attempts over " +
                             std::to_string(waited.count() / 1000) + " s");
    }
    spdlog::warn("bootstrap attempt {} failed: {} (retrying in {} ms)", attempts, id.error().message, wait.count());
    sleep(wait);
    waited += wait;
    wait = std::min(wait * 2, retry.max_wait);
  }
}

Status CheckKeyMatches(const std::string& key_pem, const std::string& certificate_pem) {
  auto key = pki::PrivateKey::FromPem(key_pem);
  if (!key.ok()) return key.error().Wrap("identity key");
  auto cert = pki::Certificate::FromPem(certificate_pem);
  if (!cert.ok()) return cert.error().Wrap("identity certificate");
  auto public_key = cert->public_key();
  if (!public_key.ok()) return public_key.error().Wrap("identity certificate");
  if (!public_key->Equals(key->public_key())) return MakeError("the identity certificate is not for the identity key");
  return OkStatus();
}

Result<link::TlsContextPtr> ClientTlsFor(const AgentIdentity& identity) {
  return link::TlsContext::Client({.ca_bundle_pem = identity.hub_ca_pem,
                                   .certificate_chain_pem = identity.certificate_pem,
                                   .private_key_pem = identity.key_pem});
}

Result<pki::TimePoint> RenewalTime(const std::string& certificate_pem) {
  auto cert = pki::Certificate::FromPem(certificate_pem);
  if (!cert.ok()) return cert.error().Wrap("identity certificate");
  auto lifetime = cert->not_after() - cert->not_before();
  return cert->not_before() + lifetime * 2 / 3;
}

}  // namespace vmesh::agent
