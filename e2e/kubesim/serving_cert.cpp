#include "e2e/kubesim/serving_cert.h"

#include "common/pki/csr.h"
#include "common/pki/issuer.h"
#include "common/pki/key.h"

namespace vmesh::kubesim {

Result<ServingCertificates> GenerateServingCertificates(const std::string& cluster_name) {
  using namespace vmesh::pki;
  const auto now = Clock::now();
  auto ca_key = PrivateKey::Generate(KeySpec::EcdsaP256());
  if (!ca_key.ok()) return ca_key.error();
  RootCaProfile ca_profile;
  ca_profile.organization = "kubesim";
  ca_profile.common_name = "kubesim CA " + cluster_name;
  auto ca = IssueRootCa(*ca_key, ca_profile, now);
  if (!ca.ok()) return ca.error();
  auto signer = CaSigner::Create(*ca, *ca_key);
  if (!signer.ok()) return signer.error();

  auto key = PrivateKey::Generate(KeySpec::EcdsaP256());
  if (!key.ok()) return key.error();
  auto csr = Csr::Create(*key, CsrRequest{});
  if (!csr.ok()) return csr.error();
  LeafProfile leaf;
  leaf.subject.common_name = "kubesim";
  leaf.ip_sans = {"127.0.0.1"};
  leaf.dns_sans = {"localhost"};
  leaf.server_auth = true;
  leaf.ttl = std::chrono::days(365);
  auto cert = IssueLeaf(*signer, *csr, leaf, now);
  if (!cert.ok()) return cert.error();
  return ServingCertificates{ca->ToPem(), cert->ToPem() + ca->ToPem(), key->ToPem()};
}

}  // namespace vmesh::kubesim
