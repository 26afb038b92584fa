#include "common/pki/openssl_util.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <climits>

namespace vmesh::pki {

void OpenSslFree::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
void OpenSslFree::operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
void OpenSslFree::operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
void OpenSslFree::operator()(X509* p) const { X509_free(p); }
void OpenSslFree::operator()(X509_REQ* p) const { X509_REQ_free(p); }
void OpenSslFree::operator()(X509_NAME* p) const { X509_NAME_free(p); }
void OpenSslFree::operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
void OpenSslFree::operator()(X509_STORE* p) const { X509_STORE_free(p); }
void OpenSslFree::operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
void OpenSslFree::operator()(BIO* p) const { BIO_free_all(p); }
void OpenSslFree::operator()(BIGNUM* p) const { BN_free(p); }
void OpenSslFree::operator()(ASN1_STRING* p) const { ASN1_STRING_free(p); }

Error OpenSslError(std::string_view context) {
  std::string message(context);
  std::string details;
  const char* data = nullptr;
  int flags = 0;
  // Oldest error first: that is usually the root cause, later entries add context.
  for (unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags); code != 0;
       code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!details.empty()) details += "; ";
    details += buf;
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      details += " (";
      details += data;
      details += ")";
    }
  }
  if (!details.empty()) message += ": " + details;
  return Error{std::move(message)};
}

OpenSslErrorScope::OpenSslErrorScope() { ERR_clear_error(); }
OpenSslErrorScope::~OpenSslErrorScope() { ERR_clear_error(); }

BioPtr MemoryBioFrom(std::string_view data) {
  // BIO_new_mem_buf takes an int length; larger inputs are not PEM we want to parse anyway.
  if (data.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string MemoryBioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<size_t>(size));
}

std::string HexEncode(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0f]);
  }
  return out;
}

Result<std::string> Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &md_len, EVP_sha256(), nullptr) != 1) {
    return OpenSslError("SHA-256 digest failed");
  }
  return HexEncode(md, md_len);
}

}  // namespace vmesh::pki
