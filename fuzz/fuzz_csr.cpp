// Fuzz target: CSR parsing (common/pki/csr.h) as the hub runs it on what agents send — PKCS#10 in PEM
// (intermediate CA requests, bootstrap and identity renewal) or DER — then the signature check, the key and
// name accessors, and issuance from it (an intermediate, as hub/ca does, and a link identity, as hub/registration
// does) by a P-256 CA made once per process.
//
// Oracles besides the sanitizers: a parsed CSR re-encodes to DER that parses again to the same DER; issuance
// succeeds only for a CSR whose signature verifies.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/pki/csr.h"
#include "common/pki/issuer.h"

namespace {

using namespace vmesh;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_csr: %s\n", what.c_str());
  std::abort();
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) Fail(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}

struct Ca {
  pki::CaSigner signer;
  pki::TimePoint now;
};

const Ca& TheCa() {
  static const Ca* ca = [] {
    const auto now = std::chrono::system_clock::now();
    auto key = Must(pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256()), "CA key");
    auto root = Must(pki::IssueRootCa(key, {.organization = "fuzz", .common_name = "fuzz root"}, now), "root");
    return new Ca{Must(pki::CaSigner::Create(root, key), "signer"), now};
  }();
  return *ca;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Ca& ca = TheCa();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto csr = input.find("-----BEGIN") != std::string_view::npos ? pki::Csr::FromPem(input) : pki::Csr::FromDer(input);
  if (!csr.ok()) {
    if (csr.error().message.empty()) Fail("a parse error without a message");
    return 0;
  }
  const std::string der = csr->ToDer();
  auto again = pki::Csr::FromDer(der);
  if (!again.ok()) Fail("a parsed CSR's DER does not parse: " + again.error().message);
  if (again->ToDer() != der) Fail("a parsed CSR's DER changes when parsed again");
  (void)csr->ToPem();
  (void)csr->subject();
  (void)csr->subject_name();
  (void)csr->uri_sans();
  (void)csr->dns_sans();
  if (auto key = csr->public_key(); key.ok()) {
    (void)key->spec();
    (void)key->Fingerprint();
  }
  const bool signed_ok = csr->VerifySignature().ok();

  pki::IntermediateProfile intermediate;
  intermediate.organization = "fuzz";
  intermediate.common_name = "vmesh intermediate cluster-1/istiod-istio-system-cluster-1";
  intermediate.spiffe_uri = "spiffe://cluster.local/ns/istio-system/sa/istiod";
  auto cert = pki::IssueIntermediate(ca.signer, *csr, intermediate, ca.now);
  if (cert.ok() && !signed_ok) Fail("issued an intermediate for a CSR whose signature does not verify");

  pki::LeafProfile leaf;
  leaf.uri_sans = {"spiffe://hub/cluster/cluster-1"};
  leaf.client_auth = true;
  auto identity = pki::IssueLeaf(ca.signer, *csr, leaf, ca.now);
  if (identity.ok() && !signed_ok) Fail("issued an identity for a CSR whose signature does not verify");
  return 0;
}
