#include "common/api/secret.h"

#include <algorithm>
#include <map>

#include "common/api/validation.h"
#include "common/pki/certificate.h"
#include "common/pki/key.h"
#include "common/pki/verify.h"

namespace vmesh::api {
namespace {

using Errors = std::vector<FieldError>;

constexpr size_t kMaxKeyChars = 253;

void Add(Errors& out, std::string path, std::string message) {
  FieldError error;
  error.path = std::move(path);
  error.message = std::move(message);
  out.push_back(std::move(error));
}

// Where the user put `key`: stringData wins over data, so it is named when it holds the key.
std::string FieldOf(const v1::Secret& secret, std::string_view key) {
  const std::string k(key);
  return (secret.string_data().count(k) ? "stringData[" : "data[") + k + "]";
}

size_t Count(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string_view::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

std::optional<std::string> KeyProblem(std::string_view key) {
  if (key.empty()) return "empty key: name the entry, e.g. root-cert.pem";
  if (key.size() > kMaxKeyChars) return "key is longer than 253 characters";
  if (key == "." || key == "..") return "key may not be \".\" or \"..\"";
  for (char c : key) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return QuoteValue(key) + " is not a valid key: use letters, digits, '-', '_' and '.'";
  }
  return std::nullopt;
}

std::vector<std::string> SortedKeys(const v1::Secret& secret) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : secret.data()) keys.push_back(k);
  for (const auto& [k, v] : secret.string_data()) {
    if (!secret.data().count(k)) keys.push_back(k);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace

std::optional<std::string> SecretValue(const v1::Secret& secret, std::string_view key) {
  const std::string k(key);
  if (auto it = secret.string_data().find(k); it != secret.string_data().end()) return it->second;
  if (auto it = secret.data().find(k); it != secret.data().end()) return it->second;
  return std::nullopt;
}

void MergeStringData(v1::Secret* secret) {
  for (const auto& [k, v] : secret->string_data()) (*secret->mutable_data())[k] = v;
  secret->clear_string_data();
}

bool IsRootCaSecret(const v1::Secret& secret) {
  return secret.type() == kRootCaSecretType || SecretValue(secret, kRootCertKey) || SecretValue(secret, kRootKeyKey);
}

std::vector<FieldError> ValidateRootCaSecret(const v1::Secret& secret) {
  Errors out;
  const auto cert_pem = SecretValue(secret, kRootCertKey);
  const auto key_pem = SecretValue(secret, kRootKeyKey);
  const auto chain_pem = SecretValue(secret, kCertChainKey);
  if (!cert_pem) {
    Add(out, "data",
        "missing root-cert.pem: a root CA secret needs root-cert.pem (the CA certificate, PEM) and key.pem");
  }
  if (!key_pem) {
    Add(out, "data", "missing key.pem: a root CA secret needs key.pem (the private key of root-cert.pem, PEM)");
  }

  std::optional<pki::Certificate> cert;
  if (cert_pem) {
    const std::string field = FieldOf(secret, kRootCertKey);
    auto certs = pki::ParsePemBundle(*cert_pem);
    if (!certs.ok()) {
      Add(out, field, "not a PEM certificate: " + certs.error().message);
    } else if (certs->size() != 1) {
      Add(out, field,
          "holds " + std::to_string(certs->size()) +
              " certificates: put only the signing CA here and the certificates above it in cert-chain.pem");
    } else {
      cert = certs->front();
      if (!cert->is_ca()) {
        Add(out, field,
            "is not a CA certificate (basicConstraints CA:TRUE is missing): the hub signs intermediate CAs with it");
      } else if (cert->path_len() && *cert->path_len() == 0) {
        Add(out, field,
            "has pathlen:0, so it cannot sign the per-mesh intermediate CAs: use a CA without a path length limit "
            "(or pathlen >= 1)");
      } else if (cert->has_key_usage() && !(cert->key_usage() & pki::KeyUsage::kKeyCertSign)) {
        Add(out, field, "keyUsage lacks keyCertSign, so it cannot sign certificates");
      }
    }
  }

  if (key_pem) {
    const std::string field = FieldOf(secret, kRootKeyKey);
    auto key = pki::PrivateKey::FromPem(*key_pem);
    if (!key.ok()) {
      Add(out, field, "not a usable private key: " + key.error().message);
    } else if (cert && !pki::KeyMatchesCertificate(*key, *cert).ok()) {
      Add(out, field,
          "does not match root-cert.pem (it is the private key of another certificate): provide the key of the "
          "certificate in root-cert.pem");
    }
  }

  if (chain_pem) {
    const std::string field = FieldOf(secret, kCertChainKey);
    auto chain = pki::ParsePemBundle(*chain_pem);
    if (!chain.ok()) {
      Add(out, field, "not a PEM certificate bundle: " + chain.error().message);
    } else if (cert) {
      // Signatures and CA constraints only: check at a moment every certificate involved is valid, if any.
      pki::TimePoint at = cert->not_before();
      for (const auto& c : *chain) at = std::max(at, c.not_before());
      std::vector<pki::Certificate> untrusted(chain->begin(), chain->end() - 1);
      auto verified = pki::VerifyChain(*cert, {chain->back()}, untrusted, at);
      if (!verified.ok()) {
        Add(out, field,
            "root-cert.pem does not chain to the last certificate of cert-chain.pem (" + verified.error().message +
                "): list the issuer of root-cert.pem first and the enterprise root last");
      }
    }
  }
  return out;
}

std::vector<FieldError> ValidateSecret(const v1::Secret& secret) {
  Errors out = ValidateObjectMeta(secret.metadata(), "my-root");
  for (const auto& key : SortedKeys(secret)) {
    if (auto problem = KeyProblem(key)) Add(out, FieldOf(secret, key), *problem);
  }
  if (IsRootCaSecret(secret)) {
    Errors root = ValidateRootCaSecret(secret);
    out.insert(out.end(), root.begin(), root.end());
  }
  if (!secret.metadata().name().empty()) {
    std::string object = std::string(kSecretKind) + " ";
    if (!secret.metadata().namespace_().empty()) object += secret.metadata().namespace_() + "/";
    object += secret.metadata().name();
    for (auto& e : out) e.object = object;
  }
  return out;
}

bool IsPublicSecretValue(std::string_view value) {
  const size_t begins = Count(value, "-----BEGIN ");
  if (begins == 0 || begins != Count(value, "-----BEGIN CERTIFICATE-----")) return false;
  return pki::ParsePemBundle(value).ok();
}

v1::Secret RedactSecret(const v1::Secret& secret) {
  v1::Secret out = secret;
  MergeStringData(&out);
  std::vector<std::string> redacted;
  for (auto& [k, v] : *out.mutable_data()) {
    if (IsPublicSecretValue(v)) continue;
    v.clear();
    redacted.push_back(k);
  }
  auto& annotations = *out.mutable_metadata()->mutable_annotations();
  annotations.erase(std::string(kRedactedAnnotation));
  if (!redacted.empty()) {
    std::sort(redacted.begin(), redacted.end());
    std::string list;
    for (const auto& k : redacted) list += (list.empty() ? "" : ",") + k;
    annotations[std::string(kRedactedAnnotation)] = list;
  }
  return out;
}

std::string SecretKeysList(const v1::Secret& secret) {
  std::string out;
  for (const auto& k : SortedKeys(secret)) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace vmesh::api
