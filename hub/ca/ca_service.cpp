#include "hub/ca/ca_service.h"

#include "common/base/resource_names.h"
#include "common/pki/aead.h"
#include "common/pki/csr.h"
#include "common/pki/openssl_util.h"
#include "common/pki/secure_string.h"
#include "common/pki/verify.h"
#include "hub/controller/root_rotation.h"

namespace vmesh::hub {
namespace {

constexpr std::uint32_t kDefaultRootTtlDays = 365;
constexpr std::uint32_t kDefaultIntermediateTtlDays = 30;
constexpr int kDefaultRsaBits = 4096;

pki::KeySpec SpecFor(const api::v1::CommonCertOptions& o) {
  switch (o.key_algorithm()) {
    case api::v1::ECDSA_P256:
      return pki::KeySpec::EcdsaP256();
    case api::v1::ECDSA_P384:
      return pki::KeySpec::EcdsaP384();
    default:
      return pki::KeySpec::Rsa(o.rsa_key_size_bytes() == 0 ? kDefaultRsaBits
                                                           : static_cast<int>(o.rsa_key_size_bytes()));
  }
}

std::string OrgOr(const std::string& org) { return org.empty() ? "vmesh" : org; }

}  // namespace

std::string GatewayCaKey(const std::string& virtual_mesh) { return virtual_mesh + "/gateway-ca"; }

pki::KeySpec GatewayKeySpec() { return pki::KeySpec::EcdsaP256(); }

pki::KeySpec IntermediateKeySpec(const api::v1::CommonCertOptions& options) { return SpecFor(options); }

CaService::CaService(Store& store, std::optional<std::string> key_encryption_key, std::function<TimePoint()> clock)
    : store_(store), kek_(std::move(key_encryption_key)), clock_(std::move(clock)) {}

Result<RootCa> CaService::Build(const RootCaRecord& record) {
  auto cert = pki::Certificate::FromPem(record.certificate_pem);
  if (!cert.ok()) return cert.error().Wrap("root CA of " + record.virtual_mesh);
  // The unsealed PEM is wiped as soon as the key is parsed.
  pki::SecureString opened_pem;
  if (pki::IsSealed(record.key_pem)) {
    if (!kek_) {
      return MakeError("the root key of " + record.virtual_mesh +
                       " is encrypted: start the hub with --root-key-encryption-key-file");
    }
    auto opened = pki::Open(*kek_, record.key_pem, record.virtual_mesh);
    if (!opened.ok()) return opened.error().Wrap("root key of " + record.virtual_mesh);
    opened_pem = std::move(*opened);
  }
  auto key = pki::PrivateKey::FromPem(opened_pem.empty() ? std::string_view(record.key_pem) : opened_pem.view());
  opened_pem.Clear();
  if (!key.ok()) return key.error().Wrap("root key of " + record.virtual_mesh);
  std::vector<pki::Certificate> upstream;
  if (!record.chain_pem.empty()) {
    auto chain = pki::ParsePemBundle(record.chain_pem);
    if (!chain.ok()) return chain.error().Wrap("cert-chain.pem of " + record.virtual_mesh);
    upstream = std::move(*chain);
  }
  std::string anchor = upstream.empty() ? cert->ToPem() : upstream.back().ToPem();
  if (!upstream.empty()) upstream.pop_back();  // the anchor is not sent in chains
  auto signer = pki::CaSigner::Create(*cert, *key, upstream);
  if (!signer.ok()) return signer.error().Wrap("root CA of " + record.virtual_mesh);
  return RootCa{record.virtual_mesh, std::move(*signer), std::move(upstream), std::move(anchor), record.source};
}

Result<RootCa> CaService::LoadRoot(const std::string& virtual_mesh) {
  auto record = store_.GetRootCa(virtual_mesh);
  if (!record.ok()) return record.error();
  if (!record->has_value()) return MakeError("VirtualMesh " + virtual_mesh + " has no root CA yet");
  return Build(**record);
}

Result<RootCa> CaService::EnsureGeneratedRoot(const std::string& virtual_mesh,
                                              const api::v1::CommonCertOptions& generated) {
  auto existing = store_.GetRootCa(virtual_mesh);
  if (!existing.ok()) return existing.error();
  if (existing->has_value()) return Build(**existing);
  auto record = GenerateRotationRoot(virtual_mesh, generated);
  if (!record.ok()) return record.error();
  auto stored = store_.PutRootCaIfAbsent(*record);
  pki::Cleanse(record->key_pem);
  if (!stored.ok()) return stored.error();
  return Build(*stored);
}

Result<RootCaRecord> CaService::GenerateRotationRoot(const std::string& virtual_mesh,
                                                     const api::v1::CommonCertOptions& generated) {
  return GenerateCa(virtual_mesh, generated, "vmesh root CA " + virtual_mesh, "the root CA of " + virtual_mesh);
}

Result<RootCaRecord> CaService::GenerateCa(const std::string& store_key, const api::v1::CommonCertOptions& generated,
                                           const std::string& common_name, const std::string& what) {
  const pki::KeySpec spec = SpecFor(generated);
  auto key = pki::PrivateKey::Generate(spec);
  if (!key.ok()) return key.error().Wrap("key for " + what);
  const TimePoint now = clock_();
  const std::uint32_t days = generated.ttl_days() == 0 ? kDefaultRootTtlDays : generated.ttl_days();
  if (Status s = MaySign(what); !s.ok()) return s.error();
  auto cert = pki::IssueRootCa(
      *key,
      {.organization = OrgOr(generated.org_name()), .common_name = common_name, .ttl = std::chrono::hours(24) * days},
      now);
  if (!cert.ok()) return cert.error().Wrap(what);
  pki::SecureString key_pem(key->ToPem());
  if (kek_) {
    auto sealed = pki::Seal(*kek_, key_pem.view(), store_key);
    if (!sealed.ok()) return sealed.error();
    key_pem = pki::SecureString(std::move(*sealed));
  }
  return RootCaRecord{store_key, cert->ToPem(), "", key_pem.value(), "generated", now};
}

Result<RootCaRecord> CaService::PrepareImportedRoot(const std::string& virtual_mesh, const std::string& root_cert_pem,
                                                    const std::string& key_pem, const std::string& cert_chain_pem) {
  auto cert = pki::Certificate::FromPem(root_cert_pem);
  if (!cert.ok()) return cert.error().Wrap("root-cert.pem");
  if (!cert->is_ca()) return MakeError("root-cert.pem is not a CA certificate (basicConstraints CA:TRUE missing)");
  if (cert->path_len() && *cert->path_len() == 0) {
    return MakeError(
        "root-cert.pem has pathlen:0, so it cannot sign the per-mesh intermediate CAs; provide a CA "
        "without a path length limit (or with pathlen >= 1)");
  }
  auto key = pki::PrivateKey::FromPem(key_pem);
  if (!key.ok()) return key.error().Wrap("key.pem");
  if (Status s = pki::KeyMatchesCertificate(*key, *cert); !s.ok())
    return MakeError("key.pem does not match root-cert.pem");
  if (!cert_chain_pem.empty()) {
    auto chain = pki::ParsePemBundle(cert_chain_pem);
    if (!chain.ok()) return chain.error().Wrap("cert-chain.pem");
    std::vector<pki::Certificate> untrusted(chain->begin(), chain->end() - 1);
    auto verified = pki::VerifyChain(*cert, {chain->back()}, untrusted, clock_());
    if (!verified.ok()) return verified.error().Wrap("root-cert.pem does not chain to cert-chain.pem");
  }
  pki::SecureString stored_key(key->ToPem());
  if (kek_) {
    auto sealed = pki::Seal(*kek_, stored_key.view(), virtual_mesh);
    if (!sealed.ok()) return sealed.error();
    stored_key = pki::SecureString(std::move(*sealed));
  }
  return RootCaRecord{virtual_mesh, cert->ToPem(), cert_chain_pem, stored_key.value(), "secret", clock_()};
}

Result<RootCa> CaService::ImportRoot(const std::string& virtual_mesh, const std::string& root_cert_pem,
                                     const std::string& key_pem, const std::string& cert_chain_pem) {
  auto record = PrepareImportedRoot(virtual_mesh, root_cert_pem, key_pem, cert_chain_pem);
  if (!record.ok()) return record.error();
  auto existing = store_.GetRootCa(virtual_mesh);
  if (!existing.ok()) return existing.error();
  if (existing->has_value()) {
    pki::Cleanse(record->key_pem);
    if ((*existing)->certificate_pem != record->certificate_pem) {
      return MakeError("VirtualMesh " + virtual_mesh +
                       " already has a different root; replacing it is a root rotation (SPEC §5.5), which starts "
                       "when the VirtualMesh's root Secret changes");
    }
    return Build(**existing);
  }
  auto stored = store_.PutRootCaIfAbsent(*record);
  pki::Cleanse(record->key_pem);
  if (!stored.ok()) return stored.error();
  return Build(*stored);
}

Result<RootsInForce> CaService::LoadRootsInForce(const std::string& virtual_mesh) {
  auto current = LoadRoot(virtual_mesh);
  if (!current.ok()) return current.error();
  auto rotation = store_.GetRootRotation(virtual_mesh);
  if (!rotation.ok()) return rotation.error().Wrap("root rotation of " + virtual_mesh);
  RootsInForce out{*current, "", std::nullopt, current->signer.certificate().serial_hex(), ""};
  if (!rotation->has_value()) return out;
  auto next = Build((*rotation)->next);
  if (!next.ok()) return next.error().Wrap("the root " + virtual_mesh + " is being rotated to");
  const PhaseTrust trust = TrustOf(ParsePhase((*rotation)->phase));
  std::string bundle;
  if (trust.trust_old) bundle += current->trust_bundle_pem;
  if (trust.trust_new) bundle += next->trust_bundle_pem;
  out.next_serial = next->signer.certificate().serial_hex();
  out.signing = trust.sign_with_new ? std::move(*next) : std::move(*current);
  if (bundle != out.signing.trust_bundle_pem) {
    auto hash = pki::Sha256Hex(bundle);
    if (!hash.ok()) return hash.error();
    out.bundle_tag = hash->substr(0, 8);
  }
  out.signing.trust_bundle_pem = std::move(bundle);
  out.rotation = std::move(*rotation);
  return out;
}

Result<RootCa> CaService::SigningRoot(const std::string& virtual_mesh) {
  auto roots = LoadRootsInForce(virtual_mesh);
  if (!roots.ok()) return roots.error();
  return std::move(roots->signing);
}

Status CaService::MaySign(const std::string& what) const {
  if (!signing_guard_) return OkStatus();
  Status s = signing_guard_();
  if (s.ok()) return s;
  return MakeError("refusing to sign " + what + ": " + s.error().message, ErrorCode::kUnavailable);
}

Status CaService::CheckMeshOwner(const std::string& requesting_cluster, const api::v1::Mesh& mesh) const {
  const std::string& mesh_name = mesh.metadata().name();
  if (mesh.spec().cluster() != requesting_cluster) {
    return MakeError("cluster " + requesting_cluster + " may not request a certificate for mesh " + mesh_name +
                     ", which belongs to cluster " + mesh.spec().cluster());
  }
  // Defence in depth: the durable binding (Store::BindMeshIfAbsent), not only the request, says who owns it.
  auto owner = store_.GetMeshOwner(mesh_name);
  if (!owner.ok()) return owner.error().Wrap("owner of mesh " + mesh_name);
  if (!owner->has_value() || **owner != requesting_cluster) {
    return MakeError(
        "cluster " + requesting_cluster + " may not request a certificate for mesh " + mesh_name +
        (owner->has_value() ? ", which is bound to cluster " + **owner : ", which is bound to no cluster"));
  }
  return OkStatus();
}

Result<IssuedIntermediate> CaService::IssueIntermediate(const RootCa& root, const IntermediateRequest& request) {
  const api::v1::MeshSpec& mesh = request.mesh.spec();
  const std::string& mesh_name = request.mesh.metadata().name();
  if (Status s = CheckMeshOwner(request.requesting_cluster, request.mesh); !s.ok()) return s.error();
  if (request.virtual_mesh != root.virtual_mesh) {
    return MakeError("the root of " + root.virtual_mesh + " cannot sign for VirtualMesh " + request.virtual_mesh);
  }
  auto csr = pki::Csr::FromPem(request.csr_pem);
  if (!csr.ok()) return csr.error().Wrap("CSR for mesh " + mesh_name);
  const std::string trust_domain = mesh.trust_domain().empty() ? "cluster.local" : mesh.trust_domain();
  const std::string ns = mesh.installation_namespace().empty() ? "istio-system" : mesh.installation_namespace();
  const std::string sa = mesh.istiod_service_account().empty() ? "istiod" : mesh.istiod_service_account();
  const std::uint32_t days = request.options.ttl_days() == 0 ? kDefaultIntermediateTtlDays : request.options.ttl_days();
  pki::IntermediateProfile profile{
      .organization = OrgOr(request.options.org_name().empty() ? root.signer.certificate().subject_name().organization
                                                               : request.options.org_name()),
      .common_name = "vmesh intermediate " + mesh.cluster() + "/" + mesh_name,
      .spiffe_uri = IstiodSpiffeId(trust_domain, ns, sa),
      .ttl = intermediate_ttl_ ? *intermediate_ttl_ : std::chrono::seconds(std::chrono::hours(24) * days),
      .required_key = SpecFor(request.options)};
  const TimePoint now = clock_();
  if (Status s = MaySign("an intermediate for mesh " + mesh_name); !s.ok()) return s.error();
  auto cert = pki::IssueIntermediate(root.signer, *csr, profile, now);
  if (!cert.ok()) return cert.error().Wrap("intermediate for mesh " + mesh_name);
  auto key = cert->public_key();
  if (Status s = store_.RecordIssuedCertificate({cert->serial_hex(), request.virtual_mesh, mesh_name, mesh.cluster(),
                                                 cert->not_before(), cert->not_after(),
                                                 key.ok() ? key->Fingerprint() : "", now});
      !s.ok()) {
    return s.error();
  }
  IssuedIntermediate out;
  // cert-chain.pem minus the anchor: the intermediate, then (when the signer is an enterprise intermediate
  // rather than the anchor itself) the signer and the certificates above it.
  out.certificate_chain_pem = cert->ToPem();
  const std::string signer_pem = root.signer.certificate().ToPem();
  if (signer_pem != root.trust_bundle_pem) {
    out.certificate_chain_pem += signer_pem;
    for (const auto& c : root.upstream) out.certificate_chain_pem += c.ToPem();
  }
  out.root_pem = root.trust_bundle_pem;
  out.serial = cert->serial_hex();
  out.not_after = cert->not_after();
  return out;
}

Result<RootCa> CaService::LoadGatewayCa(const std::string& virtual_mesh) {
  auto record = store_.GetRootCa(GatewayCaKey(virtual_mesh));
  if (!record.ok()) return record.error();
  if (!record->has_value()) return MakeError("VirtualMesh " + virtual_mesh + " has no gateway CA yet");
  auto ca = Build(**record);
  if (!ca.ok()) return ca.error();
  ca->virtual_mesh = virtual_mesh;
  return ca;
}

Result<RootCa> CaService::EnsureGatewayCa(const std::string& virtual_mesh) {
  const std::string key = GatewayCaKey(virtual_mesh);
  auto existing = store_.GetRootCa(key);
  if (!existing.ok()) return existing.error();
  if (!existing->has_value()) {
    api::v1::CommonCertOptions options;
    options.set_key_algorithm(api::v1::ECDSA_P256);
    auto record = GenerateCa(key, options, "vmesh gateway CA " + virtual_mesh, "the gateway CA of " + virtual_mesh);
    if (!record.ok()) return record.error();
    auto stored = store_.PutRootCaIfAbsent(*record);
    pki::Cleanse(record->key_pem);
    if (!stored.ok()) return stored.error();
  }
  return LoadGatewayCa(virtual_mesh);
}

Result<IssuedGatewayCertificate> CaService::IssueGatewayCertificate(const RootCa& ca,
                                                                    const GatewayCertRequest& request) {
  const api::v1::MeshSpec& mesh = request.mesh.spec();
  const std::string& mesh_name = request.mesh.metadata().name();
  const std::string role(api::GatewayRoleName(request.role));
  if (Status s = CheckMeshOwner(request.requesting_cluster, request.mesh); !s.ok()) return s.error();
  if (request.virtual_mesh != ca.virtual_mesh) {
    return MakeError("the gateway CA of " + ca.virtual_mesh + " cannot sign for VirtualMesh " + request.virtual_mesh);
  }
  const bool has_gateway =
      request.role == api::GatewayRole::kIngress ? mesh.east_west_gateways_size() > 0 : mesh.egress_gateways_size() > 0;
  if (!has_gateway) {
    return MakeError("mesh " + mesh_name + " of cluster " + mesh.cluster() + " has no " +
                     (request.role == api::GatewayRole::kIngress ? "east-west gateway" : "egress gateway") +
                     ", so it gets no " + role + " gateway certificate");
  }
  auto csr = pki::Csr::FromPem(request.csr_pem);
  if (!csr.ok()) return csr.error().Wrap(role + " gateway CSR for mesh " + mesh_name);
  const auto vm = ParseObjectKey(request.virtual_mesh);
  pki::LeafProfile profile{.subject = {.common_name = "vmesh " + role + " gateway " + mesh.cluster() + "/" + mesh_name,
                                       .organization = "vmesh"},
                           .uri_sans = {api::GatewaySpiffeId(vm.ns, vm.name, mesh.cluster(), mesh_name, request.role)},
                           .server_auth = true,
                           .client_auth = true,
                           .ttl = intermediate_ttl_
                                      ? *intermediate_ttl_
                                      : std::chrono::seconds(std::chrono::hours(24) * kDefaultIntermediateTtlDays),
                           .required_key = GatewayKeySpec()};
  const TimePoint now = clock_();
  if (Status s = MaySign("the " + role + " gateway certificate of mesh " + mesh_name); !s.ok()) return s.error();
  auto cert = pki::IssueLeaf(ca.signer, *csr, profile, now);
  if (!cert.ok()) return cert.error().Wrap(role + " gateway certificate for mesh " + mesh_name);
  auto key = cert->public_key();
  if (Status s = store_.RecordIssuedCertificate({cert->serial_hex(), request.virtual_mesh, mesh_name + "/" + role,
                                                 mesh.cluster(), cert->not_before(), cert->not_after(),
                                                 key.ok() ? key->Fingerprint() : "", now});
      !s.ok()) {
    return s.error();
  }
  return IssuedGatewayCertificate{cert->ToPem(), ca.trust_bundle_pem, cert->serial_hex(), cert->not_after()};
}

}  // namespace vmesh::hub
