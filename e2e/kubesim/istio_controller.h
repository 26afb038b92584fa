// IstioController: the parts of istiod that vmesh's certificate and restart logic depends on (SPEC §5.3,
// §5.6, §11), made visible as pod annotations so tests can assert them.
//
//  - An istiod pod (label app=istiod) loads, when first seen, the `cacerts` Secret of its namespace:
//    root-cert.pem and ca-cert.pem. Without a `cacerts` (or without root-cert.pem in it), it uses Istio's
//    self-signed root, which kubesim generates once per cluster (O=cluster.local, CN "istio root
//    <cluster>"); ca-cert is then that root. Annotations:
//      kubesim.vmesh.dev/loaded-root-fingerprint     SHA-256 of the first certificate of root-cert.pem
//      kubesim.vmesh.dev/loaded-ca-cert-fingerprint  SHA-256 of the first certificate of ca-cert.pem
//    ("invalid" when the PEM does not parse).
//  - Hot reload: an istiod whose image tag (container "discovery", else the first) is 1.19 or newer (or
//    not a version) picks up a changed `cacerts` while running when its root-cert.pem is byte-identical to
//    the one it loaded; a different root is ignored until the pod is replaced. Older istiods never reload.
//  - The running istiod (the newest Ready istiod pod) mirrors the root-cert.pem it loaded into the
//    ConfigMap `istio-ca-root-cert` (key root-cert.pem) of every namespace but kube-system, kube-public and
//    kube-node-lease.
//  - A pod with label security.istio.io/tlsMode=istio (a sidecar) records, when it is first seen with a running
//    istiod, what it got from that istiod (SPEC §5.5: which roots each workload trusts and which chain it
//    presents):
//      kubesim.vmesh.dev/trusted-root-fingerprint  SHA-256 of the first root it trusts
//      kubesim.vmesh.dev/trusted-roots             the whole trust bundle (PEM: root-cert.pem istiod loaded)
//      kubesim.vmesh.dev/presented-chain           the CA chain its certificate is issued under (PEM:
//                                                  cert-chain.pem istiod loaded — intermediate first, root last)
//    A pod keeps them for its life: a workload changes what it trusts and presents only by being replaced
//    (restarted), as with Istio's sidecars between certificate rotations. mtls_check.h verifies them pairwise.
//
// Level-based like WorkloadController; not thread-safe (one thread calls Reconcile()).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "e2e/kubesim/mtls_check.h"
#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"

namespace vmesh::kubesim {

inline constexpr const char* kLoadedRootAnnotation = "kubesim.vmesh.dev/loaded-root-fingerprint";
inline constexpr const char* kLoadedCaCertAnnotation = "kubesim.vmesh.dev/loaded-ca-cert-fingerprint";
inline constexpr const char* kTrustedRootAnnotation = "kubesim.vmesh.dev/trusted-root-fingerprint";

class IstioController {
 public:
  IstioController(const ResourceRegistry& registry, ObjectStore& store, std::string cluster_name);

  // One pass; never asks for a timed pass.
  std::optional<std::chrono::steady_clock::time_point> Reconcile();

 private:
  struct Loaded {
    std::string ns;
    std::string root_pem;
    std::string ca_cert_pem;
    std::string chain_pem;  // cert-chain.pem (the self-signed root without cacerts)
    uint64_t sequence = 0;  // order in which istiod pods were first seen
    bool hot_reload = true;
  };

  struct Cacerts {
    std::string root_pem;
    std::string ca_cert_pem;
    std::string chain_pem;
  };
  // root-cert.pem, ca-cert.pem and cert-chain.pem of the `cacerts` Secret in `ns`, if it has a root.
  std::optional<Cacerts> ReadCacerts(const std::string& ns) const;
  Result<std::string> SelfSignedRoot();
  void Annotate(const boost::json::object& pod, const std::map<std::string, std::string>& annotations);
  void MirrorRoot(const std::string& root_pem);

  // Copies: the registry may replace or remove its entries while kubesim runs.
  const ResourceType pods_;
  const ResourceType secrets_;
  const ResourceType config_maps_;
  const ResourceType namespaces_;
  ObjectStore& store_;
  std::string cluster_name_;
  std::map<std::string, Loaded> istiods_;  // by pod uid
  uint64_t next_sequence_ = 0;
  std::optional<std::string> self_signed_root_;
};

// SHA-256 (lowercase hex) of the first certificate in a PEM bundle, or "invalid".
std::string FirstCertificateFingerprint(const std::string& pem);

// Whether an istiod image (e.g. "docker.io/istio/pilot:1.20.3") hot-reloads cacerts under the same root:
// true for tags 1.19 and newer and for tags that are not versions.
bool IstiodHotReloads(const std::string& image);

}  // namespace vmesh::kubesim
