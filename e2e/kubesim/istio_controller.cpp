#include "e2e/kubesim/istio_controller.h"

#include <cstdio>

#include "common/base/base64.h"
#include "common/base/json_fields.h"
#include "common/pki/certificate.h"
#include "common/pki/issuer.h"
#include "common/pki/key.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;
using jsonf::At;
using jsonf::ObjAt;
using jsonf::StrAt;

constexpr const char* kRootConfigMap = "istio-ca-root-cert";
constexpr const char* kRootKey = "root-cert.pem";

bool IsSystemNamespace(const std::string& ns) {
  return ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease";
}

bool PodReady(const json::object& pod) {
  const json::value* conditions = At(pod, {"status", "conditions"});
  if (!conditions || !conditions->is_array()) return false;
  for (const auto& c : conditions->get_array()) {
    if (c.is_object() && StrAt(c.get_object(), {"type"}) == "Ready") return StrAt(c.get_object(), {"status"}) == "True";
  }
  return false;
}

std::string IstiodImage(const json::object& pod) {
  const json::value* containers = At(pod, {"spec", "containers"});
  if (!containers || !containers->is_array() || containers->get_array().empty()) return {};
  for (const auto& c : containers->get_array()) {
    if (c.is_object() && StrAt(c.get_object(), {"name"}) == "discovery") return StrAt(c.get_object(), {"image"});
  }
  const json::value& first = containers->get_array().front();
  return first.is_object() ? StrAt(first.get_object(), {"image"}) : std::string();
}

// A Secret's value for `key`: data (base64) first, then stringData.
std::optional<std::string> SecretValue(const json::object& secret, std::string_view key) {
  if (const json::value* v = At(secret, {"data"}); v && v->is_object()) {
    if (auto it = v->get_object().find(key); it != v->get_object().end() && it->value().is_string()) {
      return Base64Decode(it->value().get_string());
    }
  }
  if (const json::value* v = At(secret, {"stringData"}); v && v->is_object()) {
    if (auto it = v->get_object().find(key); it != v->get_object().end() && it->value().is_string()) {
      return std::string(it->value().get_string());
    }
  }
  return std::nullopt;
}

}  // namespace

std::string FirstCertificateFingerprint(const std::string& pem) {
  auto cert = pki::Certificate::FromPem(pem);
  return cert.ok() ? cert->Fingerprint() : "invalid";
}

bool IstiodHotReloads(const std::string& image) {
  const size_t slash = image.rfind('/');
  const size_t colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return true;
  int major = 0;
  int minor = 0;
  if (std::sscanf(image.c_str() + colon + 1, "%d.%d", &major, &minor) != 2) return true;
  return major > 1 || (major == 1 && minor >= 19);
}

IstioController::IstioController(const ResourceRegistry& registry, ObjectStore& store, std::string cluster_name)
    : pods_(*registry.Find("", "v1", "pods")),
      secrets_(*registry.Find("", "v1", "secrets")),
      config_maps_(*registry.Find("", "v1", "configmaps")),
      namespaces_(*registry.Find("", "v1", "namespaces")),
      store_(store),
      cluster_name_(std::move(cluster_name)) {}

std::optional<IstioController::Cacerts> IstioController::ReadCacerts(const std::string& ns) const {
  auto secret = store_.Get(secrets_, ns, "cacerts");
  if (!secret.ok()) return std::nullopt;
  auto root = SecretValue(**secret, kRootKey);
  if (!root || root->empty()) return std::nullopt;
  auto ca = SecretValue(**secret, "ca-cert.pem");
  auto chain = SecretValue(**secret, "cert-chain.pem");
  Cacerts out{*root, ca ? *ca : *root, chain ? *chain : ""};
  // Istio's plug-in CA without cert-chain.pem: the intermediate and the root.
  if (out.chain_pem.empty()) out.chain_pem = out.ca_cert_pem == out.root_pem ? out.root_pem : out.ca_cert_pem + *root;
  return out;
}

Result<std::string> IstioController::SelfSignedRoot() {
  if (self_signed_root_) return *self_signed_root_;
  auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  if (!key.ok()) return key.error();
  pki::RootCaProfile profile;
  profile.organization = "cluster.local";
  profile.common_name = "istio root " + cluster_name_;
  profile.ttl = std::chrono::days(3650);
  auto cert = pki::IssueRootCa(*key, profile, pki::Clock::now());
  if (!cert.ok()) return cert.error();
  self_signed_root_ = cert->ToPem();
  return *self_signed_root_;
}

std::optional<std::chrono::steady_clock::time_point> IstioController::Reconcile() {
  auto pods = store_.List(pods_, "", {});
  if (!pods.ok()) return std::nullopt;

  // istiod pods: load on first sight, hot reload, annotate.
  std::map<std::string, Loaded> seen;
  const Loaded* running = nullptr;
  for (const auto& pod : pods->items) {
    if (StrAt(*pod, {"metadata", "labels", "app"}) != "istiod") continue;
    const std::string uid = StrAt(*pod, {"metadata", "uid"});
    const std::string ns = StrAt(*pod, {"metadata", "namespace"});
    Loaded loaded;
    if (auto it = istiods_.find(uid); it != istiods_.end()) {
      loaded = it->second;
      if (loaded.hot_reload) {
        auto cacerts = ReadCacerts(ns);
        if (cacerts && cacerts->root_pem == loaded.root_pem) {
          loaded.ca_cert_pem = cacerts->ca_cert_pem;
          loaded.chain_pem = cacerts->chain_pem;
        }
      }
    } else {
      loaded.ns = ns;
      loaded.sequence = ++next_sequence_;
      loaded.hot_reload = IstiodHotReloads(IstiodImage(*pod));
      if (auto cacerts = ReadCacerts(ns)) {
        loaded.root_pem = cacerts->root_pem;
        loaded.ca_cert_pem = cacerts->ca_cert_pem;
        loaded.chain_pem = cacerts->chain_pem;
      } else {
        auto root = SelfSignedRoot();
        if (!root.ok()) continue;  // key generation failed; the next pass tries again
        loaded.root_pem = *root;
        loaded.ca_cert_pem = *root;
        loaded.chain_pem = *root;
      }
    }
    Annotate(*pod, {{kLoadedRootAnnotation, FirstCertificateFingerprint(loaded.root_pem)},
                    {kLoadedCaCertAnnotation, FirstCertificateFingerprint(loaded.ca_cert_pem)}});
    auto& entry = seen[uid] = std::move(loaded);
    if (PodReady(*pod) && (running == nullptr || entry.sequence > running->sequence)) running = &entry;
  }
  const std::optional<Loaded> current = running ? std::optional<Loaded>(*running) : std::nullopt;
  istiods_ = std::move(seen);
  if (!current) return std::nullopt;
  const std::string& root_pem = current->root_pem;

  MirrorRoot(root_pem);
  const std::string fingerprint = FirstCertificateFingerprint(root_pem);
  for (const auto& pod : pods->items) {
    if (StrAt(*pod, {"metadata", "labels", "security.istio.io/tlsMode"}) != "istio") continue;
    if (!StrAt(*pod, {"metadata", "annotations", kTrustedRootAnnotation}).empty()) continue;
    Annotate(*pod, {{kTrustedRootAnnotation, fingerprint},
                    {kTrustedRootsAnnotation, root_pem},
                    {kPresentedChainAnnotation, current->chain_pem}});
  }
  return std::nullopt;
}

void IstioController::Annotate(const json::object& pod, const std::map<std::string, std::string>& annotations) {
  bool same = true;
  for (const auto& [key, value] : annotations) {
    same = same && StrAt(pod, {"metadata", "annotations", key}) == value;
  }
  if (same) return;
  (void)store_.Mutate(pods_, StrAt(pod, {"metadata", "namespace"}), StrAt(pod, {"metadata", "name"}),
                      [&](const json::object& current) -> ApiResult<json::object> {
                        json::object next = current;
                        json::object& md = jsonf::Ensure(next, "metadata");
                        json::object& out = jsonf::Ensure(md, "annotations");
                        for (const auto& [key, value] : annotations) out[key] = value;
                        return next;
                      });
}

void IstioController::MirrorRoot(const std::string& root_pem) {
  auto namespaces = store_.List(namespaces_, "", {});
  if (!namespaces.ok()) return;
  for (const auto& ns_object : namespaces->items) {
    const std::string ns = StrAt(*ns_object, {"metadata", "name"});
    if (IsSystemNamespace(ns)) continue;
    auto existing = store_.Get(config_maps_, ns, kRootConfigMap);
    if (!existing.ok()) {
      json::object cm{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", json::object{{"name", kRootConfigMap},
                                                {"namespace", ns},
                                                {"labels", json::object{{"istio.io/config", "true"}}}}},
                      {"data", json::object{{kRootKey, root_pem}}}};
      (void)store_.Create(config_maps_, ns, std::move(cm));  // fails only when the namespace just went away
      continue;
    }
    if (StrAt(**existing, {"data", kRootKey}) == root_pem) continue;
    (void)store_.Mutate(config_maps_, ns, kRootConfigMap, [&](const json::object& current) -> ApiResult<json::object> {
      json::object next = current;
      jsonf::Ensure(next, "data")[kRootKey] = root_pem;
      return next;
    });
  }
}

}  // namespace vmesh::kubesim
