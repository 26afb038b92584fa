// Secrets (apiVersion v1, kind Secret) as the hub takes them: today the user-provided root CA of a VirtualMesh
// (SPEC §4, §5.1: `rootCertificateAuthority.secret`), which `vmeshctl create root-secret` builds from PEM files.
//
// A root-CA Secret — type vmesh.dev/root-ca, or any Secret holding root-cert.pem or key.pem — holds
// root-cert.pem (the CA that signs the per-mesh intermediates), key.pem (its private key, unencrypted PKCS#8 or
// traditional) and optionally cert-chain.pem (the certificates above root-cert.pem up to and including the
// enterprise root, when root-cert.pem is itself an intermediate of an enterprise PKI).
//
// Errors name the field the value came from, `data[key.pem]` or `stringData[key.pem]`, and say what to do.
// Pure functions: no I/O, no clock (expiry is the hub's to check), safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/api/field_error.h"
#include "vmesh/api/v1/secret.pb.h"

namespace vmesh::api {

inline constexpr std::string_view kCoreApiVersion = "v1";
inline constexpr std::string_view kSecretKind = "Secret";
inline constexpr std::string_view kRootCaSecretType = "vmesh.dev/root-ca";
inline constexpr std::string_view kRootCertKey = "root-cert.pem";
inline constexpr std::string_view kRootKeyKey = "key.pem";
inline constexpr std::string_view kCertChainKey = "cert-chain.pem";
// Set on Secrets the API returns: the data keys whose values were withheld (comma-separated, sorted).
inline constexpr std::string_view kRedactedAnnotation = "vmesh.dev/redacted";

// The value of `key`: stringData wins over data, as it does when Kubernetes merges them. nullopt when absent.
std::optional<std::string> SecretValue(const v1::Secret& secret, std::string_view key);

// Merges stringData into data (stringData wins) and clears stringData: the form the hub stores.
void MergeStringData(v1::Secret* secret);

// True when the Secret is meant as a VirtualMesh root: type vmesh.dev/root-ca, or it holds root-cert.pem or
// key.pem.
bool IsRootCaSecret(const v1::Secret& secret);

// Everything that can be decided from the Secret alone: metadata, data keys ([-._a-zA-Z0-9]+, at most 253
// characters), and for a root-CA Secret the checks of ValidateRootCaSecret. `object` is "Secret <ns>/<name>".
std::vector<FieldError> ValidateSecret(const v1::Secret& secret);

// The root-CA checks alone: root-cert.pem and key.pem present; root-cert.pem is exactly one PEM certificate,
// a CA (basicConstraints CA:TRUE) that may sign CAs (no pathlen:0, keyCertSign when keyUsage is present);
// key.pem is a supported unencrypted private key and matches root-cert.pem; cert-chain.pem, when present,
// parses and root-cert.pem chains through it to its last certificate (signatures only; validity periods are
// the hub's to check). No other keys are refused.
std::vector<FieldError> ValidateRootCaSecret(const v1::Secret& secret);

// True when a value may be shown: one or more PEM certificates and nothing else of substance (no private key).
bool IsPublicSecretValue(std::string_view value);

// The Secret as the API returns it: stringData dropped; every data value that is not public (IsPublicSecretValue)
// emptied and its key listed in the annotation vmesh.dev/redacted. Keys never leave the hub.
v1::Secret RedactSecret(const v1::Secret& secret);

// "key.pem, root-cert.pem": the data keys (after MergeStringData), sorted.
std::string SecretKeysList(const v1::Secret& secret);

}  // namespace vmesh::api
