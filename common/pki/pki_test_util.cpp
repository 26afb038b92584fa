#include "common/pki/pki_test_util.h"

#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace vmesh::pki::test {

TimePoint FixedNow() {
  // 2030-06-01T12:00:00Z
  return TimePoint(std::chrono::seconds(1906545600));
}

const PrivateKey& CachedKey(const KeySpec& spec) {
  static std::mutex mu;
  static std::map<std::pair<int, int>, PrivateKey>* keys = new std::map<std::pair<int, int>, PrivateKey>();
  std::lock_guard<std::mutex> lock(mu);
  auto id = std::make_pair(static_cast<int>(spec.algorithm), spec.algorithm == KeyAlgorithm::kRsa ? spec.rsa_bits : 0);
  auto it = keys->find(id);
  if (it == keys->end()) {
    Result<PrivateKey> key = PrivateKey::Generate(spec);
    if (!key.ok()) throw std::runtime_error("test key generation failed: " + key.error().message);
    it = keys->emplace(id, std::move(key).value()).first;
  }
  return it->second;
}

CaSigner MakeRoot(const KeySpec& spec, TimePoint now, std::chrono::seconds ttl, std::string_view common_name) {
  const PrivateKey& key = CachedKey(spec);
  Result<Certificate> cert = IssueRootCa(key, RootCaProfile{"vmesh", std::string(common_name), ttl}, now);
  if (!cert.ok()) throw std::runtime_error("test root: " + cert.error().message);
  Result<CaSigner> signer = CaSigner::Create(*cert, key);
  if (!signer.ok()) throw std::runtime_error("test root signer: " + signer.error().message);
  return std::move(signer).value();
}

IntermediateProfile TestIntermediateProfile() {
  IntermediateProfile profile;
  profile.organization = "vmesh";
  profile.common_name = "vmesh intermediate cluster-1/istiod-istio-system";
  profile.spiffe_uri = "spiffe://cluster.local/ns/istio-system/sa/istiod";
  return profile;
}

Csr MakeCsr(const PrivateKey& key, std::string_view cn, std::string_view uri) {
  CsrRequest request;
  request.subject.common_name = std::string(cn);
  if (!uri.empty()) request.uri_sans.emplace_back(uri);
  Result<Csr> csr = Csr::Create(key, request);
  if (!csr.ok()) throw std::runtime_error("test CSR: " + csr.error().message);
  return std::move(csr).value();
}

CaSigner MakeIntermediate(const CaSigner& root, const KeySpec& spec, TimePoint now) {
  const PrivateKey& key = CachedKey(spec);
  Result<Certificate> cert = IssueIntermediate(root, MakeCsr(key), TestIntermediateProfile(), now);
  if (!cert.ok()) throw std::runtime_error("test intermediate: " + cert.error().message);
  Result<CaSigner> signer = CaSigner::Create(*cert, key, {root.certificate()});
  if (!signer.ok()) throw std::runtime_error("test intermediate signer: " + signer.error().message);
  return std::move(signer).value();
}

std::string DerToPem(std::string_view der, std::string_view label) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  std::string name(label);
  PEM_write_bio(bio.get(), name.c_str(), "", reinterpret_cast<const unsigned char*>(der.data()),
                static_cast<long>(der.size()));
  return MemoryBioContents(bio.get());
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool HaveOpensslCli() { return RunCommand("openssl version").exit_code == 0; }

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "vmesh-pki-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Write(std::string_view name, std::string_view content) const {
  std::filesystem::path file = path_ / name;
  std::ofstream out(file, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return file.string();
}

}  // namespace vmesh::pki::test
