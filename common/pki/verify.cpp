#include "common/pki/verify.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>

#include "common/base/time.h"
#include "common/pki/x509_internal.h"

namespace vmesh::pki {
namespace {

// Owns the stack but not the certificates in it (they belong to the caller's Certificate objects).
struct BorrowedX509StackFree {
  void operator()(STACK_OF(X509) * p) const { sk_X509_free(p); }
};

}  // namespace

Result<std::vector<Certificate>> VerifyChain(const Certificate& cert, const std::vector<Certificate>& trust_bundle,
                                             const std::vector<Certificate>& untrusted, TimePoint at,
                                             const VerifyOptions& options) {
  OpenSslErrorScope errors;
  const std::string what = "certificate " + cert.subject();
  if (trust_bundle.empty()) return MakeError(what + " cannot be verified: the trust bundle is empty");

  X509StorePtr store(X509_STORE_new());
  if (!store) return OpenSslError("out of memory");
  for (const Certificate& root : trust_bundle) {
    if (X509_STORE_add_cert(store.get(), root.get()) != 1) {
      // A duplicate root in the bundle is harmless; anything else is not.
      if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
        return OpenSslError("cannot add " + root.subject() + " to the trust store");
      }
      ERR_clear_error();
    }
  }
  std::unique_ptr<STACK_OF(X509), BorrowedX509StackFree> chain_in(sk_X509_new_null());
  if (!chain_in) return OpenSslError("out of memory");
  for (const Certificate& c : untrusted) {
    if (sk_X509_push(chain_in.get(), c.get()) <= 0) return OpenSslError("out of memory");
  }

  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), chain_in.get()) != 1) {
    return OpenSslError("cannot set up chain verification");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, Clock::to_time_t(at));
  if (options.x509_strict) X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT);

  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    X509* at_fault = X509_STORE_CTX_get_current_cert(ctx.get());
    std::string message = what + " does not verify at " + FormatRfc3339(at) + ": " +
                          X509_verify_cert_error_string(err) + " (depth " + std::to_string(depth);
    if (at_fault != nullptr) message += ", " + internal::NameToString(X509_get_subject_name(at_fault));
    message += ")";
    return MakeError(message);
  }

  std::vector<Certificate> verified;
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* c = sk_X509_value(chain, i);
    X509_up_ref(c);
    verified.push_back(Certificate::FromOpenSsl(X509Ptr(c)));
  }
  return verified;
}

Status KeyMatchesCertificate(const PrivateKey& key, const Certificate& cert) {
  OpenSslErrorScope errors;
  EVP_PKEY* cert_key = X509_get0_pubkey(cert.get());
  if (cert_key == nullptr) return OpenSslError("certificate " + cert.subject() + " has no decodable public key");
  if (EVP_PKEY_eq(cert_key, key.get()) == 1) return OkStatus();
  Result<PublicKey> cert_public = cert.public_key();
  std::string cert_type = cert_public.ok() ? cert_public->spec().ToString() : "an unsupported type";
  return MakeError("the " + key.spec().ToString() + " private key does not match certificate " + cert.subject() +
                   " (whose key is " + cert_type + ")");
}

}  // namespace vmesh::pki
