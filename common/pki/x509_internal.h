// Helpers shared by the common/pki implementation files. Not part of the library's API: only
// common/pki/*.cpp include this header.
#pragma once

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/pki/certificate.h"
#include "common/pki/distinguished_name.h"
#include "common/pki/key.h"

namespace vmesh::pki::internal {

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;

// Converts an ASN1_TIME (UTCTime or GeneralizedTime) to a time point; nullopt if it cannot be decoded.
std::optional<TimePoint> Asn1TimeToTimePoint(const ASN1_TIME* time);

// The digest vmesh signs with for a key: SHA-384 for P-384 (matching the curve's strength), else SHA-256.
const EVP_MD* SignatureDigest(KeyAlgorithm algorithm);

// RFC 2253 rendering of `name` ("CN=...,O=...").
std::string NameToString(const X509_NAME* name);
DistinguishedName NameFields(const X509_NAME* name);

// Builds an X509_NAME with O, OU, CN (in that order, so it prints as "CN=...,OU=...,O=..."); empty fields are
// left out. Fails for values that are too long for X.509 (CN and O: 64 characters) or not valid UTF-8.
Result<X509NamePtr> BuildName(const DistinguishedName& dn);

// Checks that a SAN URI is printable ASCII without spaces and has a scheme ("spiffe://...").
Status ValidateUriSan(std::string_view uri);
// Checks that a SAN DNS name is a hostname (letters, digits, '-', '.'), optionally with a leading "*.".
Status ValidateDnsSan(std::string_view dns);

struct SanSet {
  std::vector<std::string> uris;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // IPv4 or IPv6 text form

  bool empty() const { return uris.empty() && dns_names.empty() && ip_addresses.empty(); }
};

// Validates and encodes the SANs; fails naming the offending entry.
Result<GeneralNamesPtr> BuildGeneralNames(const SanSet& sans);

// Reads the SANs of one type (GEN_URI, GEN_DNS, GEN_IPADD) from a GENERAL_NAMES list.
std::vector<std::string> SansOfType(const GENERAL_NAMES* names, int type);

}  // namespace vmesh::pki::internal
