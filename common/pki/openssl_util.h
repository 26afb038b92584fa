// Owning pointers to OpenSSL objects and helpers for OpenSSL's (thread-local) error queue.
//
// Used by common/pki itself and by code that hands pki objects to OpenSSL directly (e.g. TLS contexts).
// Every function here is thread-safe: the error queue is per thread and nothing else is shared.
#pragma once

#include <openssl/types.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace vmesh::pki {

// Frees an OpenSSL object with the matching *_free function; one overload per type held by an owning pointer.
struct OpenSslFree {
  void operator()(EVP_PKEY* p) const;
  void operator()(EVP_PKEY_CTX* p) const;
  void operator()(EVP_MD_CTX* p) const;
  void operator()(X509* p) const;
  void operator()(X509_REQ* p) const;
  void operator()(X509_NAME* p) const;
  void operator()(X509_EXTENSION* p) const;
  void operator()(X509_STORE* p) const;
  void operator()(X509_STORE_CTX* p) const;
  void operator()(BIO* p) const;
  void operator()(BIGNUM* p) const;
  void operator()(ASN1_STRING* p) const;  // also ASN1_INTEGER, ASN1_OCTET_STRING, ASN1_TIME, ...
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslFree>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslFree>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OpenSslFree>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslFree>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslFree>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslFree>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslFree>;
using BioPtr = std::unique_ptr<BIO, OpenSslFree>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslFree>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, OpenSslFree>;

// Returns Error{"<context>: <OpenSSL errors>"}, draining this thread's OpenSSL error queue so that stale
// errors never show up in a later, unrelated message. With an empty queue the message is just <context>.
Error OpenSslError(std::string_view context);

// Clears this thread's OpenSSL error queue when constructed and again when destroyed, so that a public
// pki function neither reports errors left over by earlier code nor leaves any behind (OpenSSL also queues
// errors on paths that end well, e.g. the end of a PEM bundle).
class OpenSslErrorScope {
 public:
  OpenSslErrorScope();
  ~OpenSslErrorScope();
  OpenSslErrorScope(const OpenSslErrorScope&) = delete;
  OpenSslErrorScope& operator=(const OpenSslErrorScope&) = delete;
};

// A read-only memory BIO over `data` (not copied: `data` must outlive the BIO).
BioPtr MemoryBioFrom(std::string_view data);

// The bytes written so far into a memory BIO.
std::string MemoryBioContents(BIO* bio);

// Lowercase hex, two digits per byte, no separators.
std::string HexEncode(const unsigned char* data, size_t size);
inline std::string HexEncode(std::string_view bytes) {
  return HexEncode(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

// SHA-256 of `bytes`, as lowercase hex.
Result<std::string> Sha256Hex(std::string_view bytes);

}  // namespace vmesh::pki
