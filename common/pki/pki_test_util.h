// Helpers for the common/pki tests (linked into the pki_*_test binaries only).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/pki/certificate.h"
#include "common/pki/csr.h"
#include "common/pki/issuer.h"
#include "common/pki/key.h"

namespace vmesh::pki::test {

// A fixed "now" (2030-06-01T12:00:00Z) so that validity arithmetic in tests is deterministic.
TimePoint FixedNow();

// A key of `spec`, generated at most once per test process (RSA 4096 takes a second or more) and shared by
// every caller in the process. Thread-safe.
const PrivateKey& CachedKey(const KeySpec& spec);

// A fresh root CA signer: "vmesh root CA vmesh/test" with a CachedKey(spec), valid from `now` for `ttl`.
CaSigner MakeRoot(const KeySpec& spec, TimePoint now, std::chrono::seconds ttl = std::chrono::days(365),
                  std::string_view common_name = "vmesh root CA vmesh/test");

// The intermediate profile of the tests: cluster-1/istiod-istio-system,
// spiffe://cluster.local/ns/istio-system/sa/istiod.
IntermediateProfile TestIntermediateProfile();

// A CSR for `key` asking for `cn` and `uri` (which issuers must ignore).
Csr MakeCsr(const PrivateKey& key, std::string_view cn = "evil", std::string_view uri = "spiffe://evil/ns/x/sa/y");

// An intermediate CA signer under `root` for a CachedKey(spec) (the key the tests use as "the agent's").
CaSigner MakeIntermediate(const CaSigner& root, const KeySpec& spec, TimePoint now);

// `der` as a PEM block with the given label ("CERTIFICATE", "CERTIFICATE REQUEST").
std::string DerToPem(std::string_view der, std::string_view label);

// Runs `command` through /bin/sh, capturing stdout and stderr together.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::string& command);

// True if the `openssl` command-line tool is on PATH (the CLI cross-checks skip otherwise).
bool HaveOpensslCli();

// A temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `content` to <dir>/<name> and returns the full path.
  std::string Write(std::string_view name, std::string_view content) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace vmesh::pki::test
