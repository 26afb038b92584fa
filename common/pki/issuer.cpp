#include "common/pki/issuer.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <utility>

#include "common/base/time.h"
#include "common/pki/x509_internal.h"

namespace vmesh::pki {
namespace {

using std::chrono::seconds;

// Everything an issuer decides about a certificate.
struct CertContent {
  DistinguishedName subject;
  internal::SanSet sans;
  bool ca = false;
  std::optional<int> path_len;
  uint32_t key_usage = 0;
  std::vector<int> extended_key_usage;  // NIDs
  seconds ttl{0};
};

struct BasicConstraintsFree {
  void operator()(BASIC_CONSTRAINTS* p) const { BASIC_CONSTRAINTS_free(p); }
};
struct AuthorityKeyIdFree {
  void operator()(AUTHORITY_KEYID* p) const { AUTHORITY_KEYID_free(p); }
};
struct ExtendedKeyUsageFree {
  void operator()(EXTENDED_KEY_USAGE* p) const { sk_ASN1_OBJECT_pop_free(p, ASN1_OBJECT_free); }
};

Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslError("cannot draw a random serial number");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);  // positive, exactly 128 bits long
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError("cannot set the serial number");
  }
  return OkStatus();
}

Status SetTime(ASN1_TIME* field, TimePoint time, std::string_view what) {
  if (ASN1_TIME_set(field, Clock::to_time_t(time)) == nullptr) {
    return OpenSslError("cannot encode " + std::string(what) + " " + FormatRfc3339(time));
  }
  return OkStatus();
}

Status AddExtension(X509* cert, int nid, void* value, bool critical, std::string_view what) {
  if (X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("cannot add " + std::string(what) + " extension");
  }
  return OkStatus();
}

// SHA-1 over the subjectPublicKey BIT STRING (RFC 5280 §4.2.1.2, method 1), as `openssl` does for "hash".
Result<Asn1StringPtr> KeyIdentifier(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_pubkey_digest(cert, EVP_sha1(), md, &len) != 1) return OpenSslError("cannot hash the public key");
  Asn1StringPtr id(ASN1_OCTET_STRING_new());
  if (!id || ASN1_OCTET_STRING_set(id.get(), md, static_cast<int>(len)) != 1) return OpenSslError("out of memory");
  return id;
}

Status AddExtensions(X509* cert, X509* issuer_cert, const CertContent& content) {
  std::unique_ptr<BASIC_CONSTRAINTS, BasicConstraintsFree> bc(BASIC_CONSTRAINTS_new());
  if (!bc) return OpenSslError("out of memory");
  bc->ca = content.ca ? 0xff : 0;
  if (content.path_len.has_value()) {
    bc->pathlen = ASN1_INTEGER_new();
    if (bc->pathlen == nullptr || ASN1_INTEGER_set(bc->pathlen, *content.path_len) != 1) {
      return OpenSslError("out of memory");
    }
  }
  if (Status s = AddExtension(cert, NID_basic_constraints, bc.get(), true, "basicConstraints"); !s.ok()) return s;

  Asn1StringPtr usage(ASN1_BIT_STRING_new());
  if (!usage) return OpenSslError("out of memory");
  for (int bit = 0; bit <= 8; ++bit) {
    if ((content.key_usage & (1u << bit)) != 0 && ASN1_BIT_STRING_set_bit(usage.get(), bit, 1) != 1) {
      return OpenSslError("out of memory");
    }
  }
  if (Status s = AddExtension(cert, NID_key_usage, usage.get(), true, "keyUsage"); !s.ok()) return s;

  if (!content.extended_key_usage.empty()) {
    std::unique_ptr<EXTENDED_KEY_USAGE, ExtendedKeyUsageFree> eku(sk_ASN1_OBJECT_new_null());
    if (!eku) return OpenSslError("out of memory");
    for (int nid : content.extended_key_usage) {
      ASN1_OBJECT* obj = OBJ_nid2obj(nid);
      if (obj == nullptr || sk_ASN1_OBJECT_push(eku.get(), obj) <= 0) return OpenSslError("out of memory");
    }
    if (Status s = AddExtension(cert, NID_ext_key_usage, eku.get(), false, "extendedKeyUsage"); !s.ok()) return s;
  }

  Result<Asn1StringPtr> ski = KeyIdentifier(cert);
  if (!ski.ok()) return ski.error();
  if (Status s = AddExtension(cert, NID_subject_key_identifier, ski->get(), false, "subjectKeyIdentifier"); !s.ok()) {
    return s;
  }

  // The issuer's keyIdentifier: its SKI, or (for a user-provided CA without one) the hash of its key.
  std::unique_ptr<AUTHORITY_KEYID, AuthorityKeyIdFree> aki(AUTHORITY_KEYID_new());
  if (!aki) return OpenSslError("out of memory");
  if (issuer_cert == nullptr) {
    aki->keyid = ASN1_OCTET_STRING_dup(ski->get());
  } else if (const ASN1_OCTET_STRING* issuer_ski = X509_get0_subject_key_id(issuer_cert); issuer_ski != nullptr) {
    aki->keyid = ASN1_OCTET_STRING_dup(issuer_ski);
  } else {
    Result<Asn1StringPtr> issuer_hash = KeyIdentifier(issuer_cert);
    if (!issuer_hash.ok()) return issuer_hash.error();
    aki->keyid = issuer_hash->release();
  }
  if (aki->keyid == nullptr) return OpenSslError("out of memory");
  if (Status s = AddExtension(cert, NID_authority_key_identifier, aki.get(), false, "authorityKeyIdentifier");
      !s.ok()) {
    return s;
  }

  if (!content.sans.empty()) {
    Result<internal::GeneralNamesPtr> names = internal::BuildGeneralNames(content.sans);
    if (!names.ok()) return names.error();
    // RFC 5280 §4.2.1.6: critical when the subject is empty.
    bool critical = X509_NAME_entry_count(X509_get_subject_name(cert)) == 0;
    if (Status s = AddExtension(cert, NID_subject_alt_name, names->get(), critical, "subjectAltName"); !s.ok()) {
      return s;
    }
  }
  return OkStatus();
}

// The key a certificate is issued for: either a key we hold (self-signed roots), or the SubjectPublicKeyInfo of
// a verified CSR, which is copied verbatim.
struct SubjectKey {
  EVP_PKEY* key = nullptr;
  const X509_PUBKEY* spki = nullptr;
};

// Copies algorithm, parameters and key bits of `from` into the certificate's SubjectPublicKeyInfo.
//
// Why not X509_set_pubkey(): with OpenSSL 3.0 it DER-encodes the key through an OSSL_ENCODER and decodes it
// again through an OSSL_DECODER, ~200 us per certificate (more than 5 ECDSA P-256 signatures, 5% of an
// RSA-4096 one). Copying the bytes costs nothing; the key is decoded only if the returned Certificate's
// get() is ever called (see certificate.cpp).
Status CopySubjectPublicKeyInfo(X509* cert, const X509_PUBKEY* from) {
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  X509_ALGOR* algor = nullptr;
  if (X509_PUBKEY_get0_param(&algorithm, &bits, &bits_len, &algor, from) != 1 || algor == nullptr) {
    return OpenSslError("cannot read the CSR's SubjectPublicKeyInfo");
  }
  const ASN1_OBJECT* unused = nullptr;
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(&unused, &param_type, &param, algor);
  void* param_copy = nullptr;
  if (param_type == V_ASN1_OBJECT) {  // EC: the named curve
    param_copy = OBJ_dup(static_cast<const ASN1_OBJECT*>(param));
    if (param_copy == nullptr) return OpenSslError("out of memory");
  } else if (param_type != V_ASN1_NULL && param_type != V_ASN1_UNDEF) {  // RSA: NULL
    return MakeError("unsupported public key parameters (ASN.1 type " + std::to_string(param_type) + ")");
  }
  ASN1_OBJECT* algorithm_copy = OBJ_dup(algorithm);
  auto* bits_copy = static_cast<unsigned char*>(OPENSSL_memdup(bits, static_cast<size_t>(bits_len)));
  if (algorithm_copy == nullptr || bits_copy == nullptr ||
      X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), algorithm_copy, param_type, param_copy, bits_copy, bits_len) !=
          1) {
    ASN1_OBJECT_free(algorithm_copy);
    if (param_type == V_ASN1_OBJECT) ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(param_copy));
    OPENSSL_free(bits_copy);
    return OpenSslError("cannot set the public key");
  }
  return OkStatus();
}

// Builds and signs a certificate for `subject`. `issuer` is null for a self-signed certificate, in which case
// `signing_key` must be `subject.key`.
Result<Certificate> BuildCertificate(const Certificate* issuer, const PrivateKey& signing_key, SubjectKey subject,
                                     const CertContent& content, TimePoint now) {
  if (content.ttl <= seconds(0)) return MakeError("validity must be positive");
  TimePoint now_s = std::chrono::floor<seconds>(now);
  TimePoint not_before = now_s - kClockSkewAllowance;
  TimePoint not_after = now_s + content.ttl;
  if (issuer != nullptr) {
    not_before = std::max(not_before, issuer->not_before());
    not_after = std::min(not_after, issuer->not_after());
  }
  if (not_after <= not_before) {
    return MakeError("empty validity period: notBefore " + FormatRfc3339(not_before) + ", notAfter " +
                     FormatRfc3339(not_after));
  }

  X509Ptr cert(X509_new());
  if (!cert) return OpenSslError("out of memory");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpenSslError("cannot set version");
  if (Status s = SetRandomSerial(cert.get()); !s.ok()) return s.error();

  Result<X509NamePtr> subject_name = internal::BuildName(content.subject);
  if (!subject_name.ok()) return subject_name.error().Wrap("subject");
  if (X509_set_subject_name(cert.get(), subject_name->get()) != 1) return OpenSslError("cannot set subject");
  X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer->get()) : subject_name->get();
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1) return OpenSslError("cannot set issuer");

  if (Status s = SetTime(X509_getm_notBefore(cert.get()), not_before, "notBefore"); !s.ok()) return s.error();
  if (Status s = SetTime(X509_getm_notAfter(cert.get()), not_after, "notAfter"); !s.ok()) return s.error();
  if (subject.spki != nullptr) {
    if (Status s = CopySubjectPublicKeyInfo(cert.get(), subject.spki); !s.ok()) return s.error();
  } else if (X509_set_pubkey(cert.get(), subject.key) != 1) {
    return OpenSslError("cannot set the public key");
  }

  if (Status s = AddExtensions(cert.get(), issuer != nullptr ? issuer->get() : nullptr, content); !s.ok()) {
    return s.error();
  }
  if (X509_sign(cert.get(), signing_key.get(), internal::SignatureDigest(signing_key.algorithm())) <= 0) {
    return OpenSslError("cannot sign certificate");
  }
  return Certificate::FromOpenSsl(std::move(cert));
}

// The issuer must be usable at `now` (SPEC §5.2: "never beyond the root's notAfter").
Status CheckIssuerValidAt(const CaSigner& issuer, TimePoint now) {
  const Certificate& cert = issuer.certificate();
  if (now > cert.not_after()) {
    return MakeError("issuer " + cert.subject() + " expired at " + FormatRfc3339(cert.not_after()));
  }
  if (now < cert.not_before()) {
    return MakeError("issuer " + cert.subject() + " is not valid before " + FormatRfc3339(cert.not_before()));
  }
  return OkStatus();
}

// Verifies the CSR's proof of possession and returns its (supported, and if asked, exactly specified) key.
Result<PublicKey> CheckedCsrKey(const Csr& csr, const std::optional<KeySpec>& required) {
  if (Status s = csr.VerifySignature(); !s.ok()) return s.error();
  Result<PublicKey> key = csr.public_key();
  if (!key.ok()) return key.error();
  if (required.has_value()) {
    KeySpec want = *required;
    if (want.algorithm != KeyAlgorithm::kRsa) want.rsa_bits = 0;
    KeySpec got = key->spec();
    if (got.algorithm != want.algorithm || got.rsa_bits != want.rsa_bits) {
      return MakeError("CSR key is " + got.ToString() + ", expected " + want.ToString());
    }
  }
  return key;
}

constexpr uint32_t kCaKeyUsage = KeyUsage::kKeyCertSign | KeyUsage::kCrlSign | KeyUsage::kDigitalSignature;

}  // namespace

// ---- CaSigner ----

CaSigner::CaSigner(Certificate certificate, PrivateKey key, std::vector<Certificate> chain)
    : certificate_(std::move(certificate)), key_(std::move(key)), chain_(std::move(chain)) {}

Result<CaSigner> CaSigner::Create(Certificate certificate, PrivateKey key, std::vector<Certificate> chain) {
  OpenSslErrorScope errors;
  const std::string name = certificate.subject();
  if (!certificate.is_ca()) {
    return MakeError("certificate " + name + " is not a CA (basicConstraints CA:TRUE missing), it cannot sign");
  }
  if (certificate.has_key_usage() && (certificate.key_usage() & KeyUsage::kKeyCertSign) == 0) {
    return MakeError("certificate " + name + " has no keyCertSign key usage, it cannot sign certificates");
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(certificate.get()), key.get()) != 1) {
    ERR_clear_error();
    return MakeError("the private key does not match certificate " + name);
  }
  const Certificate* child = &certificate;
  for (size_t i = 0; i < chain.size(); ++i) {
    if (X509_check_issued(chain[i].get(), child->get()) != X509_V_OK) {
      return MakeError("chain certificate #" + std::to_string(i + 1) + " (" + chain[i].subject() + ") did not issue " +
                       child->subject());
    }
    child = &chain[i];
  }
  return CaSigner(std::move(certificate), std::move(key), std::move(chain));
}

// ---- Profiles ----

Result<Certificate> IssueRootCa(const PrivateKey& key, const RootCaProfile& profile, TimePoint now) {
  OpenSslErrorScope errors;
  if (profile.common_name.empty()) return MakeError("root CA: common name is required");
  CertContent content;
  content.subject = DistinguishedName{profile.common_name, profile.organization, ""};
  content.ca = true;
  content.key_usage = kCaKeyUsage;
  content.ttl = profile.ttl;
  Result<Certificate> cert = BuildCertificate(nullptr, key, SubjectKey{key.get(), nullptr}, content, now);
  if (!cert.ok()) return cert.error().Wrap("root CA " + profile.common_name);
  return cert;
}

Result<Certificate> IssueIntermediate(const CaSigner& issuer, const Csr& csr, const IntermediateProfile& profile,
                                      TimePoint now) {
  OpenSslErrorScope errors;
  const std::string what = "intermediate CA " + (profile.common_name.empty() ? "(no name)" : profile.common_name);
  if (profile.common_name.empty()) return MakeError(what + ": common name is required");
  if (profile.spiffe_uri.empty()) return MakeError(what + ": SPIFFE URI is required");
  if (std::optional<int> issuer_path_len = issuer.certificate().path_len(); issuer_path_len == 0) {
    return MakeError(what + ": issuer " + issuer.certificate().subject() +
                     " has pathlen:0 and cannot issue CA certificates");
  }
  if (Status s = CheckIssuerValidAt(issuer, now); !s.ok()) return s.error().Wrap(what);
  Result<PublicKey> key = CheckedCsrKey(csr, profile.required_key);
  if (!key.ok()) return key.error().Wrap(what);

  CertContent content;
  content.subject = DistinguishedName{profile.common_name, profile.organization, ""};
  content.sans.uris = {profile.spiffe_uri};
  content.ca = true;
  content.path_len = 0;
  content.key_usage = kCaKeyUsage;
  content.ttl = profile.ttl;
  Result<Certificate> cert = BuildCertificate(&issuer.certificate(), issuer.key(),
                                              SubjectKey{nullptr, X509_REQ_get_X509_PUBKEY(csr.get())}, content, now);
  if (!cert.ok()) return cert.error().Wrap(what);
  return cert;
}

Result<Certificate> IssueLeaf(const CaSigner& issuer, const Csr& csr, const LeafProfile& profile, TimePoint now) {
  OpenSslErrorScope errors;
  std::string what = "certificate";
  if (!profile.uri_sans.empty()) {
    what += " " + profile.uri_sans.front();
  } else if (!profile.dns_sans.empty()) {
    what += " " + profile.dns_sans.front();
  } else if (!profile.subject.common_name.empty()) {
    what += " " + profile.subject.common_name;
  }
  if (profile.uri_sans.empty() && profile.dns_sans.empty() && profile.ip_sans.empty()) {
    return MakeError(what + ": at least one SAN (URI, DNS name or IP address) is required");
  }
  if (!profile.server_auth && !profile.client_auth) {
    return MakeError(what + ": at least one of serverAuth and clientAuth is required");
  }
  if (Status s = CheckIssuerValidAt(issuer, now); !s.ok()) return s.error().Wrap(what);
  Result<PublicKey> key = CheckedCsrKey(csr, profile.required_key);
  if (!key.ok()) return key.error().Wrap(what);

  CertContent content;
  content.subject = profile.subject;
  content.sans = internal::SanSet{profile.uri_sans, profile.dns_sans, profile.ip_sans};
  content.ca = false;
  content.key_usage = KeyUsage::kDigitalSignature;
  // RSA key exchange (TLS 1.2 RSA suites) needs keyEncipherment; ECDSA keys never encipher.
  if (key->algorithm() == KeyAlgorithm::kRsa) content.key_usage |= KeyUsage::kKeyEncipherment;
  if (profile.server_auth) content.extended_key_usage.push_back(NID_server_auth);
  if (profile.client_auth) content.extended_key_usage.push_back(NID_client_auth);
  content.ttl = profile.ttl;
  Result<Certificate> cert = BuildCertificate(&issuer.certificate(), issuer.key(),
                                              SubjectKey{nullptr, X509_REQ_get_X509_PUBKEY(csr.get())}, content, now);
  if (!cert.ok()) return cert.error().Wrap(what);
  return cert;
}

}  // namespace vmesh::pki
