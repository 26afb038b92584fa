// Micro-benchmarks of common/pki (SPEC §13: "CSR signing on the hub: >= 90% of `openssl speed` for the same key
// type on one core"). bench/pki/run.sh runs this next to `openssl speed` and prints the comparison as JSON.
//
//   IssueIntermediate/<key>             what the hub does per CSR: verify the CSR's signature, build the
//                                       certificate, sign it with the root key (root and CSR keys of type
//                                       <key>; ecdsap256_root_rsa4096_csr mixes them)
//   VerifyCsr/<csr key>                 the CSR signature check alone
//   IssueRootCa/<key>                   build + sign without any CSR check (a self-signed root)
//   GenerateKey/<key>                   key generation (agents do this per rotation)
//
// Keys used as fixtures are generated once, outside the timed loops.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <utility>

#include "common/pki/csr.h"
#include "common/pki/issuer.h"
#include "common/pki/key.h"

namespace vmesh::pki {
namespace {

// One fixture key per (spec, role) so the root and the CSR never share a key.
const PrivateKey& FixtureKey(const KeySpec& spec, int role) {
  static std::map<std::pair<std::string, int>, PrivateKey>* keys =
      new std::map<std::pair<std::string, int>, PrivateKey>();
  auto id = std::make_pair(spec.ToString(), role);
  auto it = keys->find(id);
  if (it == keys->end()) {
    Result<PrivateKey> key = PrivateKey::Generate(spec);
    if (!key.ok()) {
      std::cerr << "fixture key: " << key.error().message << "\n";
      std::abort();
    }
    it = keys->emplace(id, std::move(key).value()).first;
  }
  return it->second;
}

constexpr int kRootRole = 0;
constexpr int kAgentRole = 1;

Result<CaSigner> MakeRoot(const KeySpec& spec) {
  const PrivateKey& key = FixtureKey(spec, kRootRole);
  Result<Certificate> cert =
      IssueRootCa(key, RootCaProfile{"vmesh", "vmesh root CA bench/vm", std::chrono::days(365)}, Clock::now());
  if (!cert.ok()) return cert.error();
  return CaSigner::Create(*cert, key);
}

Result<Csr> MakeAgentCsr(const KeySpec& spec) {
  CsrRequest request;
  request.subject.common_name = "istiod";
  return Csr::Create(FixtureKey(spec, kAgentRole), request);
}

void IssueIntermediate(benchmark::State& state, KeySpec root_spec, KeySpec csr_spec) {
  Result<CaSigner> root = MakeRoot(root_spec);
  Result<Csr> csr = MakeAgentCsr(csr_spec);
  if (!root.ok() || !csr.ok()) {
    state.SkipWithError("fixture setup failed");
    return;
  }
  IntermediateProfile profile;
  profile.common_name = "vmesh intermediate cluster-1/istiod-istio-system";
  profile.spiffe_uri = "spiffe://cluster.local/ns/istio-system/sa/istiod";
  TimePoint now = Clock::now();
  for (auto _ : state) {
    Result<Certificate> cert = IssueIntermediate(*root, *csr, profile, now);
    if (!cert.ok()) {
      state.SkipWithError(cert.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(cert);
  }
  state.SetItemsProcessed(state.iterations());
}

void VerifyCsr(benchmark::State& state, KeySpec csr_spec) {
  Result<Csr> csr = MakeAgentCsr(csr_spec);
  if (!csr.ok()) {
    state.SkipWithError("fixture setup failed");
    return;
  }
  for (auto _ : state) {
    Status ok = csr->VerifySignature();
    if (!ok.ok()) {
      state.SkipWithError(ok.error().message.c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void IssueRoot(benchmark::State& state, KeySpec spec) {
  const PrivateKey& key = FixtureKey(spec, kRootRole);
  RootCaProfile profile{"vmesh", "vmesh root CA bench/vm", std::chrono::days(365)};
  TimePoint now = Clock::now();
  for (auto _ : state) {
    Result<Certificate> cert = IssueRootCa(key, profile, now);
    if (!cert.ok()) {
      state.SkipWithError(cert.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(cert);
  }
  state.SetItemsProcessed(state.iterations());
}

void GenerateKey(benchmark::State& state, KeySpec spec) {
  for (auto _ : state) {
    Result<PrivateKey> key = PrivateKey::Generate(spec);
    if (!key.ok()) {
      state.SkipWithError(key.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(key);
  }
  state.SetItemsProcessed(state.iterations());
}

const KeySpec kRsa2048 = KeySpec::Rsa(2048);
const KeySpec kRsa4096 = KeySpec::Rsa(4096);
const KeySpec kP256 = KeySpec::EcdsaP256();
const KeySpec kP384 = KeySpec::EcdsaP384();

// The names are parsed by bench/pki/run.sh.
BENCHMARK_CAPTURE(IssueIntermediate, rsa4096, kRsa4096, kRsa4096)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(IssueIntermediate, ecdsap256, kP256, kP256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(IssueIntermediate, ecdsap256_root_rsa4096_csr, kP256, kRsa4096)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(VerifyCsr, rsa4096, kRsa4096)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(VerifyCsr, ecdsap256, kP256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(IssueRoot, rsa4096, kRsa4096)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(IssueRoot, ecdsap256, kP256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(GenerateKey, rsa2048, kRsa2048)->Unit(benchmark::kMillisecond)->MinTime(2.0);
// RSA key generation time varies a lot from key to key (prime search); average over more keys.
BENCHMARK_CAPTURE(GenerateKey, rsa4096, kRsa4096)->Unit(benchmark::kMillisecond)->MinTime(4.0);
BENCHMARK_CAPTURE(GenerateKey, ecdsap256, kP256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(GenerateKey, ecdsap384, kP384)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vmesh::pki

BENCHMARK_MAIN();
