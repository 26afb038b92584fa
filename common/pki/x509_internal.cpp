#include "common/pki/x509_internal.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include <cstdint>

#include "common/base/time.h"
#include "common/base/utf8.h"

namespace vmesh::pki::internal {
namespace {

std::string LastEntry(const X509_NAME* name, int nid) {
  int index = -1;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0; i = X509_NAME_get_index_by_NID(name, nid, i)) {
    index = i;
  }
  if (index < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  ERR_set_mark();
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  ERR_pop_to_mark();
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

Status AddEntry(X509_NAME* name, int nid, std::string_view field, const std::string& value, size_t max_len) {
  if (value.empty()) return OkStatus();
  if (!IsValidUtf8(value)) return MakeError(std::string(field) + " is not valid UTF-8");
  if (Utf8Length(value) > max_len) {
    return MakeError(std::string(field) + " \"" + value + "\" is longer than " + std::to_string(max_len) +
                     " characters");
  }
  if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return OpenSslError("cannot set " + std::string(field) + " \"" + value + "\"");
  }
  return OkStatus();
}

Status AddGeneralName(GENERAL_NAMES* names, int type, ASN1_STRING* value) {
  GENERAL_NAME* gn = GENERAL_NAME_new();
  if (gn == nullptr) {
    ASN1_STRING_free(value);
    return OpenSslError("out of memory");
  }
  GENERAL_NAME_set0_value(gn, type, value);
  if (sk_GENERAL_NAME_push(names, gn) <= 0) {
    GENERAL_NAME_free(gn);
    return OpenSslError("out of memory");
  }
  return OkStatus();
}

bool IsPrintableAsciiWithoutSpace(std::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::string IpToString(const ASN1_STRING* value) {
  char text[INET6_ADDRSTRLEN] = {0};
  const unsigned char* bytes = ASN1_STRING_get0_data(value);
  int len = ASN1_STRING_length(value);
  if (len == 4 && inet_ntop(AF_INET, bytes, text, sizeof(text)) != nullptr) return text;
  if (len == 16 && inet_ntop(AF_INET6, bytes, text, sizeof(text)) != nullptr) return text;
  return "<invalid IP address of " + std::to_string(len) + " bytes>";
}

}  // namespace

// The accessors below may run in the middle of other pki code: they drop only the errors they queue
// themselves (ERR_set_mark / ERR_pop_to_mark), never earlier ones.

std::optional<TimePoint> Asn1TimeToTimePoint(const ASN1_TIME* time) {
  struct tm tm = {};
  ERR_set_mark();
  bool ok = time != nullptr && ASN1_TIME_to_tm(time, &tm) == 1;
  ERR_pop_to_mark();
  if (!ok) return std::nullopt;
  return UtcTimePoint(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const EVP_MD* SignatureDigest(KeyAlgorithm algorithm) {
  return algorithm == KeyAlgorithm::kEcdsaP384 ? EVP_sha384() : EVP_sha256();
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  // RFC 2253 without the multi-byte escaping, so UTF-8 stays readable.
  ERR_set_mark();
  bool ok = X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0;
  ERR_pop_to_mark();
  return ok ? MemoryBioContents(bio.get()) : std::string();
}

DistinguishedName NameFields(const X509_NAME* name) {
  return DistinguishedName{LastEntry(name, NID_commonName), LastEntry(name, NID_organizationName),
                           LastEntry(name, NID_organizationalUnitName)};
}

Result<X509NamePtr> BuildName(const DistinguishedName& dn) {
  X509NamePtr name(X509_NAME_new());
  if (!name) return OpenSslError("out of memory");
  // Upper bounds from RFC 5280 Appendix A (ub-common-name, ub-organization-name, ub-organizational-unit-name).
  if (Status s = AddEntry(name.get(), NID_organizationName, "O", dn.organization, 64); !s.ok()) return s.error();
  if (Status s = AddEntry(name.get(), NID_organizationalUnitName, "OU", dn.organizational_unit, 64); !s.ok()) {
    return s.error();
  }
  if (Status s = AddEntry(name.get(), NID_commonName, "CN", dn.common_name, 64); !s.ok()) return s.error();
  return name;
}

Status ValidateUriSan(std::string_view uri) {
  if (uri.empty()) return MakeError("SAN URI is empty");
  if (!IsPrintableAsciiWithoutSpace(uri)) {
    return MakeError("SAN URI \"" + std::string(uri) + "\" must be printable ASCII without spaces");
  }
  size_t colon = uri.find(':');
  bool scheme_ok = colon != std::string_view::npos && colon > 0;
  for (size_t i = 0; scheme_ok && i < colon; ++i) {
    char c = uri[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    scheme_ok = alpha || (i > 0 && other);
  }
  if (!scheme_ok || colon + 1 == uri.size()) {
    return MakeError("SAN URI \"" + std::string(uri) + "\" is not an absolute URI (e.g. spiffe://domain/path)");
  }
  return OkStatus();
}

Status ValidateDnsSan(std::string_view dns) {
  std::string_view rest = dns;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  bool ok = !rest.empty() && dns.size() <= 253;
  size_t label_len = 0;
  for (size_t i = 0; ok && i < rest.size(); ++i) {
    char c = rest[i];
    if (c == '.') {
      ok = label_len > 0 && rest[i - 1] != '-';
      label_len = 0;
      continue;
    }
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    ok = (alnum || (c == '-' && label_len > 0)) && ++label_len <= 63;
  }
  ok = ok && label_len > 0 && rest.back() != '-';
  if (!ok) return MakeError("SAN DNS name \"" + std::string(dns) + "\" is not a valid host name");
  return OkStatus();
}

Result<GeneralNamesPtr> BuildGeneralNames(const SanSet& sans) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return OpenSslError("out of memory");
  for (const std::string& uri : sans.uris) {
    if (Status s = ValidateUriSan(uri); !s.ok()) return s.error();
    ASN1_IA5STRING* value = ASN1_IA5STRING_new();
    if (value == nullptr || ASN1_STRING_set(value, uri.data(), static_cast<int>(uri.size())) != 1) {
      ASN1_IA5STRING_free(value);
      return OpenSslError("out of memory");
    }
    if (Status s = AddGeneralName(names.get(), GEN_URI, value); !s.ok()) return s.error();
  }
  for (const std::string& dns : sans.dns_names) {
    if (Status s = ValidateDnsSan(dns); !s.ok()) return s.error();
    ASN1_IA5STRING* value = ASN1_IA5STRING_new();
    if (value == nullptr || ASN1_STRING_set(value, dns.data(), static_cast<int>(dns.size())) != 1) {
      ASN1_IA5STRING_free(value);
      return OpenSslError("out of memory");
    }
    if (Status s = AddGeneralName(names.get(), GEN_DNS, value); !s.ok()) return s.error();
  }
  for (const std::string& ip : sans.ip_addresses) {
    ASN1_OCTET_STRING* value = a2i_IPADDRESS(ip.c_str());
    if (value == nullptr || ip.find('\0') != std::string::npos) {
      ASN1_OCTET_STRING_free(value);
      ERR_clear_error();
      return MakeError("SAN IP address \"" + ip + "\" is not an IPv4 or IPv6 address");
    }
    if (Status s = AddGeneralName(names.get(), GEN_IPADD, value); !s.ok()) return s.error();
  }
  return names;
}

std::vector<std::string> SansOfType(const GENERAL_NAMES* names, int type) {
  std::vector<std::string> out;
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    int gn_type = 0;
    const ASN1_STRING* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(gn, &gn_type));
    if (gn_type != type || value == nullptr) continue;
    if (type == GEN_IPADD) {
      out.push_back(IpToString(value));
      continue;
    }
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<size_t>(ASN1_STRING_length(value)));
  }
  return out;
}

}  // namespace vmesh::pki::internal
