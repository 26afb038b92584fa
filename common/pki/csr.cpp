#include "common/pki/csr.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <utility>

#include "common/pki/x509_internal.h"

namespace vmesh::pki {
namespace {

struct ExtensionStackFree {
  void operator()(STACK_OF(X509_EXTENSION) * p) const { sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free); }
};
using ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionStackFree>;

std::vector<std::string> RequestedSans(X509_REQ* req, int type) {
  OpenSslErrorScope errors;
  ExtensionStackPtr exts(X509_REQ_get_extensions(req));
  if (!exts) return {};
  internal::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr)));
  return internal::SansOfType(names.get(), type);
}

}  // namespace

Csr::Csr(X509ReqPtr req) : req_(std::move(req)) {}

// X509_REQ has no reference count, so a copy is a deep copy.
Csr::Csr(const Csr& other) : req_(X509_REQ_dup(other.req_.get())) {}

Csr& Csr::operator=(const Csr& other) {
  if (this != &other) req_.reset(X509_REQ_dup(other.req_.get()));
  return *this;
}

Result<Csr> Csr::Create(const PrivateKey& key, const CsrRequest& request) {
  OpenSslErrorScope errors;
  X509ReqPtr req(X509_REQ_new());
  if (!req) return OpenSslError("cannot create CSR");
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) return OpenSslError("cannot create CSR");

  Result<X509NamePtr> name = internal::BuildName(request.subject);
  if (!name.ok()) return name.error().Wrap("CSR subject");
  if (X509_REQ_set_subject_name(req.get(), name->get()) != 1) return OpenSslError("cannot set CSR subject");
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1) return OpenSslError("cannot set CSR public key");

  internal::SanSet sans{request.uri_sans, request.dns_sans, {}};
  if (!sans.empty()) {
    Result<internal::GeneralNamesPtr> names = internal::BuildGeneralNames(sans);
    if (!names.ok()) return names.error().Wrap("CSR");
    ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
    X509_EXTENSION* san = X509V3_EXT_i2d(NID_subject_alt_name, 0, names->get());
    if (!exts || san == nullptr || sk_X509_EXTENSION_push(exts.get(), san) <= 0) {
      X509_EXTENSION_free(san);
      return OpenSslError("cannot encode CSR subjectAltName");
    }
    if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) return OpenSslError("cannot add CSR extensions");
  }

  if (X509_REQ_sign(req.get(), key.get(), internal::SignatureDigest(key.algorithm())) <= 0) {
    return OpenSslError("cannot sign CSR");
  }
  return Csr(std::move(req));
}

Result<Csr> Csr::FromPem(std::string_view pem) {
  OpenSslErrorScope errors;
  BioPtr bio = MemoryBioFrom(pem);
  if (!bio) return MakeError("CSR PEM is too large");
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return OpenSslError("cannot parse CSR PEM");
  return Csr(std::move(req));
}

Result<Csr> Csr::FromDer(std::string_view der) {
  OpenSslErrorScope errors;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req) return OpenSslError("cannot parse CSR DER");
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return MakeError("cannot parse CSR DER: trailing data after the CSR");
  }
  return Csr(std::move(req));
}

std::string Csr::ToPem() const {
  OpenSslErrorScope errors;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req_.get()) != 1) return {};
  return MemoryBioContents(bio.get());
}

std::string Csr::ToDer() const {
  OpenSslErrorScope errors;
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req_.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

Status Csr::VerifySignature() const {
  OpenSslErrorScope errors;
  EVP_PKEY* key = X509_REQ_get0_pubkey(req_.get());
  if (key == nullptr) return OpenSslError("CSR public key cannot be decoded");
  int rc = X509_REQ_verify(req_.get(), key);
  if (rc != 1) return OpenSslError("CSR signature does not verify with the CSR's public key");
  return OkStatus();
}

Result<PublicKey> Csr::public_key() const {
  OpenSslErrorScope errors;
  EvpPkeyPtr key(X509_REQ_get_pubkey(req_.get()));
  if (!key) return OpenSslError("CSR public key cannot be decoded");
  Result<PublicKey> out = PublicKey::FromOpenSsl(std::move(key));
  if (!out.ok()) return out.error().Wrap("CSR public key");
  return out;
}

std::string Csr::subject() const { return internal::NameToString(X509_REQ_get_subject_name(req_.get())); }
DistinguishedName Csr::subject_name() const { return internal::NameFields(X509_REQ_get_subject_name(req_.get())); }
std::vector<std::string> Csr::uri_sans() const { return RequestedSans(req_.get(), GEN_URI); }
std::vector<std::string> Csr::dns_sans() const { return RequestedSans(req_.get(), GEN_DNS); }

}  // namespace vmesh::pki
