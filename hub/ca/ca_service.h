// The hub's certificate authority for VirtualMeshes (SPEC §5.1, §5.2, §10).
//
// One root per VirtualMesh, generated once and persisted (a hub restart never regenerates it), or taken
// from a user-provided secret (root-cert.pem + key.pem, optional cert-chain.pem when the "root" is itself an
// intermediate of an enterprise PKI). Root keys are stored in the hub's 0600 SQLite store, sealed with
// AES-256-GCM when a key-encryption key is configured.
//
// Intermediates are issued from CSRs: the CSR's signature is verified, the requesting cluster must own the
// mesh (the discovered mesh says so and the store binds the mesh name to it, Store::GetMeshOwner), and the content is
// decided here (only the public key comes from the CSR). Every issuance is recorded (serial, mesh, cluster, validity,
// public-key fingerprint — never a private key).
//
// Thread-safe: the Store serializes; roots are immutable once loaded.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "common/pki/issuer.h"
#include "hub/store/store.h"
#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace vmesh::hub {

struct RootCa {
  std::string virtual_mesh;
  pki::CaSigner signer;
  // Certificates between the signer and the trust anchor (signer's issuer first); empty for a real root.
  std::vector<pki::Certificate> upstream;
  // The trust anchor, PEM: what goes into root-cert.pem.
  std::string trust_bundle_pem;
  std::string source;  // "generated" or "secret"
};

struct IntermediateRequest {
  std::string virtual_mesh;        // "<namespace>/<name>"
  std::string requesting_cluster;  // from the connection's identity, never from the message
  api::v1::Mesh mesh;              // the discovered mesh the certificate is for
  std::string csr_pem;
  // shared.intermediateCertOptions (ttlDays, keyAlgorithm, rsaKeySizeBytes, orgName).
  api::v1::CommonCertOptions options;
};

struct IssuedIntermediate {
  // The intermediate, then the upstream certificates (not the trust anchor): cert-chain.pem minus the root.
  std::string certificate_chain_pem;
  std::string root_pem;
  std::string serial;
  TimePoint not_after;
};

// The roots of a VirtualMesh as they stand now (SPEC §5.5): without a rotation, its root; during one, the root
// that signs in the rotation's phase, with the phase's trust bundle (old, old + new, or new).
struct RootsInForce {
  // Signs intermediates now; its trust_bundle_pem is what root-cert.pem must hold now.
  RootCa signing;
  // "" unless trust_bundle_pem is not the signing root's own anchor: a short hash of the bundle (RootInfo::bundle_tag).
  std::string bundle_tag;
  std::optional<RootRotationRecord> rotation;
  std::string root_serial;  // the VirtualMesh's root (the old one during a rotation)
  std::string next_serial;  // the root rotated to ("" without a rotation)
};

// The key an intermediate must have per intermediateCertOptions (default RSA 4096).
pki::KeySpec IntermediateKeySpec(const api::v1::CommonCertOptions& options);

class CaService {
 public:
  // `key_encryption_key`: 32 bytes, or nullopt to store root keys unsealed (the store file is 0600).
  CaService(Store& store, std::optional<std::string> key_encryption_key, std::function<TimePoint()> clock);

  // The VirtualMesh's generated root, created per `generated` (RSA rsaKeySizeBytes bits, default 4096, or
  // ECDSA per keyAlgorithm; ttlDays default 365; O=orgName default "vmesh"; CN "vmesh root CA <ns>/<name>")
  // on first use and loaded afterwards.
  Result<RootCa> EnsureGeneratedRoot(const std::string& virtual_mesh, const api::v1::CommonCertOptions& generated);

  // A user-provided root from a secret's data. Fails naming what is wrong (not PEM, not a CA, key does not
  // match, chain does not link). Stored on first use; a different one later is refused (that is a root
  // rotation, SPEC §5.5).
  Result<RootCa> ImportRoot(const std::string& virtual_mesh, const std::string& root_cert_pem,
                            const std::string& key_pem, const std::string& cert_chain_pem);

  // The stored root of a VirtualMesh.
  Result<RootCa> LoadRoot(const std::string& virtual_mesh);

  // --- Root rotation (SPEC §5.5) ---
  // The root that signs now and the trust bundle of the rotation phase, if a rotation is in progress.
  Result<RootsInForce> LoadRootsInForce(const std::string& virtual_mesh);
  // What CSRs are signed with now: LoadRootsInForce(virtual_mesh).signing.
  Result<RootCa> SigningRoot(const std::string& virtual_mesh);
  // A new generated root for a rotation, per `generated` like EnsureGeneratedRoot, not stored (the caller starts
  // the rotation with it: Store::StartRootRotation). Its key is sealed when a key-encryption key is configured.
  Result<RootCaRecord> GenerateRotationRoot(const std::string& virtual_mesh,
                                            const api::v1::CommonCertOptions& generated);
  // A user-provided root checked like ImportRoot, as a record for a rotation (not stored).
  Result<RootCaRecord> PrepareImportedRoot(const std::string& virtual_mesh, const std::string& root_cert_pem,
                                           const std::string& key_pem, const std::string& cert_chain_pem);

  Result<IssuedIntermediate> IssueIntermediate(const RootCa& root, const IntermediateRequest& request);

  // Overrides the intermediates' lifetime (intermediateCertOptions.ttlDays) for every VirtualMesh: short-lived
  // set-ups and tests that watch rotation. Call before issuing (not synchronized).
  void set_intermediate_ttl(std::chrono::seconds ttl) { intermediate_ttl_ = ttl; }

  // Fencing (docs/hub-on-kubernetes.md): asked immediately before every signature (a generated root's
  // self-signature, every intermediate). When it fails, nothing is signed and the call fails with kUnavailable:
  // "refusing to sign <what>: <the guard's reason>". Call before issuing (not synchronized); none: always sign.
  void set_signing_guard(std::function<Status()> guard) { signing_guard_ = std::move(guard); }

 private:
  Result<RootCa> Build(const RootCaRecord& record);
  Status MaySign(const std::string& what) const;

  Store& store_;
  std::optional<std::string> kek_;
  std::function<TimePoint()> clock_;
  std::optional<std::chrono::seconds> intermediate_ttl_;
  std::function<Status()> signing_guard_;
};

}  // namespace vmesh::hub
