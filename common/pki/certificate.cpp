#include "common/pki/certificate.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdint>
#include <mutex>
#include <utility>

#include "common/pki/x509_internal.h"

namespace vmesh::pki {
namespace {

constexpr std::string_view kPemBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kPemEnd = "-----END CERTIFICATE-----";

struct BasicConstraintsFree {
  void operator()(BASIC_CONSTRAINTS* p) const { BASIC_CONSTRAINTS_free(p); }
};
struct ExtendedKeyUsageFree {
  void operator()(EXTENDED_KEY_USAGE* p) const { EXTENDED_KEY_USAGE_free(p); }
};

// Criticality of the extension `nid`: -1 when absent.
int ExtensionCriticality(X509* cert, int nid) {
  int index = X509_get_ext_by_NID(cert, nid, -1);
  if (index < 0) return -1;
  return X509_EXTENSION_get_critical(X509_get_ext(cert, index));
}

std::vector<std::string> SansOfType(X509* cert, int type) {
  internal::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  return internal::SansOfType(names.get(), type);
}

std::string OctetsHex(const ASN1_OCTET_STRING* octets) {
  if (octets == nullptr) return {};
  return HexEncode(ASN1_STRING_get0_data(octets), static_cast<size_t>(ASN1_STRING_length(octets)));
}

BignumPtr SerialBignum(X509* cert) { return BignumPtr(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)); }

}  // namespace

// Why the lazy decoding: with OpenSSL 3.0, decoding a SubjectPublicKeyInfo goes through an OSSL_DECODER
// context built for every call, ~120-200 us, which is 5-8 times an ECDSA P-256 signature and 5% of an RSA-4096
// one. A certificate the issuer just built is usually only encoded and sent (the hub never uses the key of an
// intermediate it issued), so its key is decoded only if someone asks for it through get().
struct Certificate::State {
  X509Ptr built;            // as built or parsed
  bool key_decoded = true;  // built's public key is decoded
  std::once_flag once;
  X509Ptr reparsed;  // set by get() when !key_decoded: `built` parsed back from its DER
};

Certificate::Certificate(std::shared_ptr<State> state) : state_(std::move(state)) {}

Certificate Certificate::FromOpenSsl(X509Ptr cert) {
  auto state = std::make_shared<State>();
  ERR_set_mark();  // X509_get0_pubkey queues an error when the key is not decoded: drop just that
  state->key_decoded = X509_get0_pubkey(cert.get()) != nullptr;
  ERR_pop_to_mark();
  state->built = std::move(cert);
  return Certificate(std::move(state));
}

X509* Certificate::raw() const { return state_->built.get(); }

X509* Certificate::get() const {
  State& state = *state_;
  if (state.key_decoded) return state.built.get();
  std::call_once(state.once, [&state] {
    ERR_set_mark();
    unsigned char* der = nullptr;
    int len = i2d_X509(state.built.get(), &der);
    if (len > 0) {
      const unsigned char* p = der;
      state.reparsed.reset(d2i_X509(nullptr, &p, len));
    }
    OPENSSL_free(der);
    ERR_pop_to_mark();
  });
  // Only on allocation failure is there no reparsed copy; key operations then fail with an error.
  return state.reparsed ? state.reparsed.get() : state.built.get();
}

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  OpenSslErrorScope errors;
  BioPtr bio = MemoryBioFrom(pem);
  if (!bio) return MakeError("certificate PEM is too large");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError("cannot parse certificate PEM");
  return FromOpenSsl(std::move(cert));
}

Result<Certificate> Certificate::FromDer(std::string_view der) {
  OpenSslErrorScope errors;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return OpenSslError("cannot parse certificate DER");
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return MakeError("cannot parse certificate DER: trailing data after the certificate");
  }
  return FromOpenSsl(std::move(cert));
}

std::string Certificate::ToPem() const {
  OpenSslErrorScope errors;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), raw()) != 1) return {};
  return MemoryBioContents(bio.get());
}

std::string Certificate::ToDer() const {
  OpenSslErrorScope errors;
  unsigned char* der = nullptr;
  int len = i2d_X509(raw(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string Certificate::Fingerprint() const {
  Result<std::string> hex = Sha256Hex(ToDer());
  return hex.ok() ? *hex : std::string();
}

int Certificate::version() const { return static_cast<int>(X509_get_version(raw())) + 1; }

std::string Certificate::serial_hex() const {
  OpenSslErrorScope errors;
  BignumPtr bn = SerialBignum(raw());
  if (!bn) return {};
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return {};
  std::string out(hex);
  OPENSSL_free(hex);
  size_t start = out[0] == '-' ? 1 : 0;
  size_t first_nonzero = out.find_first_not_of('0', start);
  out.erase(start, (first_nonzero == std::string::npos ? out.size() - 1 : first_nonzero) - start);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int Certificate::serial_bits() const {
  OpenSslErrorScope errors;
  BignumPtr bn = SerialBignum(raw());
  return bn ? BN_num_bits(bn.get()) : 0;
}

bool Certificate::serial_negative() const {
  return ASN1_STRING_type(X509_get0_serialNumber(raw())) == V_ASN1_NEG_INTEGER;
}

std::string Certificate::subject() const { return internal::NameToString(X509_get_subject_name(raw())); }
std::string Certificate::issuer() const { return internal::NameToString(X509_get_issuer_name(raw())); }
DistinguishedName Certificate::subject_name() const { return internal::NameFields(X509_get_subject_name(raw())); }
DistinguishedName Certificate::issuer_name() const { return internal::NameFields(X509_get_issuer_name(raw())); }

std::vector<std::string> Certificate::uri_sans() const {
  OpenSslErrorScope errors;
  return SansOfType(raw(), GEN_URI);
}
std::vector<std::string> Certificate::dns_sans() const {
  OpenSslErrorScope errors;
  return SansOfType(raw(), GEN_DNS);
}
std::vector<std::string> Certificate::ip_sans() const {
  OpenSslErrorScope errors;
  return SansOfType(raw(), GEN_IPADD);
}

TimePoint Certificate::not_before() const {
  return internal::Asn1TimeToTimePoint(X509_get0_notBefore(raw())).value_or(TimePoint::max());
}
TimePoint Certificate::not_after() const {
  return internal::Asn1TimeToTimePoint(X509_get0_notAfter(raw())).value_or(TimePoint::min());
}
bool Certificate::IsValidAt(TimePoint at) const { return not_before() <= at && at <= not_after(); }

bool Certificate::has_basic_constraints() const { return ExtensionCriticality(raw(), NID_basic_constraints) >= 0; }
bool Certificate::basic_constraints_critical() const { return ExtensionCriticality(raw(), NID_basic_constraints) == 1; }

bool Certificate::is_ca() const {
  OpenSslErrorScope errors;
  std::unique_ptr<BASIC_CONSTRAINTS, BasicConstraintsFree> bc(
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(raw(), NID_basic_constraints, nullptr, nullptr)));
  return bc && bc->ca != 0;
}

std::optional<int> Certificate::path_len() const {
  OpenSslErrorScope errors;
  std::unique_ptr<BASIC_CONSTRAINTS, BasicConstraintsFree> bc(
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(raw(), NID_basic_constraints, nullptr, nullptr)));
  if (!bc || bc->pathlen == nullptr) return std::nullopt;
  long value = ASN1_INTEGER_get(bc->pathlen);
  if (value < 0 || value > INT32_MAX) return std::nullopt;
  return static_cast<int>(value);
}

bool Certificate::has_key_usage() const { return ExtensionCriticality(raw(), NID_key_usage) >= 0; }
bool Certificate::key_usage_critical() const { return ExtensionCriticality(raw(), NID_key_usage) == 1; }

uint32_t Certificate::key_usage() const {
  OpenSslErrorScope errors;
  Asn1StringPtr bits(static_cast<ASN1_BIT_STRING*>(X509_get_ext_d2i(raw(), NID_key_usage, nullptr, nullptr)));
  if (!bits) return 0;
  uint32_t out = 0;
  for (int bit = 0; bit <= 8; ++bit) {
    if (ASN1_BIT_STRING_get_bit(bits.get(), bit) == 1) out |= 1u << bit;
  }
  return out;
}

bool Certificate::has_extended_key_usage() const { return ExtensionCriticality(raw(), NID_ext_key_usage) >= 0; }

std::vector<std::string> Certificate::extended_key_usage() const {
  OpenSslErrorScope errors;
  std::unique_ptr<EXTENDED_KEY_USAGE, ExtendedKeyUsageFree> eku(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(raw(), NID_ext_key_usage, nullptr, nullptr)));
  std::vector<std::string> out;
  if (!eku) return out;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    const ASN1_OBJECT* obj = sk_ASN1_OBJECT_value(eku.get(), i);
    int nid = OBJ_obj2nid(obj);
    if (nid != NID_undef) {
      out.emplace_back(OBJ_nid2sn(nid));
      continue;
    }
    char oid[128] = {0};
    OBJ_obj2txt(oid, sizeof(oid), obj, 1);
    out.emplace_back(oid);
  }
  return out;
}

std::string Certificate::subject_key_id() const {
  OpenSslErrorScope errors;
  return OctetsHex(X509_get0_subject_key_id(raw()));
}

std::string Certificate::authority_key_id() const {
  OpenSslErrorScope errors;
  return OctetsHex(X509_get0_authority_key_id(raw()));
}

bool Certificate::IsSelfSigned() const {
  OpenSslErrorScope errors;
  X509* cert = get();
  if (X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) != 0) return false;
  EVP_PKEY* key = X509_get0_pubkey(cert);
  return key != nullptr && X509_verify(cert, key) == 1;
}

std::string Certificate::signature_algorithm() const {
  int nid = X509_get_signature_nid(raw());
  const char* name = nid == NID_undef ? nullptr : OBJ_nid2ln(nid);
  return name != nullptr ? name : "unknown";
}

Result<PublicKey> Certificate::public_key() const {
  OpenSslErrorScope errors;
  EvpPkeyPtr key(X509_get_pubkey(get()));
  if (!key) return OpenSslError("cannot decode the certificate's public key");
  return PublicKey::FromOpenSsl(std::move(key));
}

Result<std::vector<Certificate>> ParsePemBundle(std::string_view pem) {
  std::vector<Certificate> out;
  size_t pos = 0;
  while ((pos = pem.find(kPemBegin, pos)) != std::string_view::npos) {
    size_t end = pem.find(kPemEnd, pos);
    std::string where = "certificate #" + std::to_string(out.size() + 1) + " of the PEM bundle";
    if (end == std::string_view::npos) return MakeError(where + " has no END line (truncated?)");
    end += kPemEnd.size();
    Result<Certificate> cert = Certificate::FromPem(pem.substr(pos, end - pos));
    if (!cert.ok()) return cert.error().Wrap(where);
    out.push_back(std::move(cert).value());
    pos = end;
  }
  if (out.empty()) return MakeError("PEM bundle contains no certificate");
  return out;
}

std::string ToPemBundle(const std::vector<Certificate>& certs) {
  std::string out;
  for (const Certificate& cert : certs) out += cert.ToPem();
  return out;
}

}  // namespace vmesh::pki
