// SPEC §13 / issue "shared trust end to end" benchmark: three kubesim clusters with their agents and one hub on
// loopback; the time from `apply` of a VirtualMesh with shared trust to ACCEPTED (every mesh's intermediate
// issued from the agent's in-cluster key and installed as cacerts), for RSA-4096 and ECDSA P-256 intermediates.
// Each run uses a new VirtualMesh (a new root). Prints JSON.
//
// Agents run for --warmup-seconds (default 10) before the first apply, as in production where they run long
// before a VirtualMesh is applied (an agent keeps a spare RSA-4096 key ready; --warmup-seconds 0 measures a
// cold start, where the first RSA apply waits for key generation).
//
// Usage: vmesh_trust_bench [--runs N] [--warmup-seconds S]
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/harness/fleet.h"

namespace {

using namespace vmesh;
using Clock = std::chrono::steady_clock;

std::string StateOf(const e2e::HubProcess& hub, const std::string& name) {
  auto answer = hub.Api("GET", "/v1/objects/virtualmeshes?name=" + name);
  if (answer.status != 200) return "";
  boost::system::error_code ec;
  auto v = boost::json::parse(answer.body, ec);
  if (ec || !v.is_object()) return "";
  const auto* status = v.as_object().if_contains("status");
  if (!status || !status->is_object()) return "PENDING";
  const auto* state = status->as_object().if_contains("state");
  return state ? std::string(state->as_string()) : "PENDING";
}

std::string Manifest(const std::string& name, const std::string& intermediate) {
  std::string m = "apiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: {name: " + name +
                  ", namespace: vmesh}\nspec:\n  meshes:\n";
  for (int i = 1; i <= 3; ++i)
    m += "  - {name: istiod-istio-system-cluster-" + std::to_string(i) + ", namespace: vmesh}\n";
  m += "  mtlsConfig:\n    autoRestartPods: false\n    shared:\n      rootCertificateAuthority: {generated: "
       "{keyAlgorithm: ECDSA_P256}}\n      intermediateCertOptions: " +
       intermediate + "\n";
  return m;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3;
  int warmup = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--warmup-seconds") warmup = std::max(0, std::atoi(argv[i + 1]));
  }
  auto binaries = e2e::Binaries::FromBuild();
  e2e::HubProcess hub(binaries);
  if (auto s = hub.Init(); !s.ok()) return std::cerr << s.error().message << "\n", 1;
  if (auto s = hub.Serve({"--status-interval", "1s", "--log-level", "warn"}); !s.ok()) {
    return std::cerr << s.error().message << "\n", 1;
  }
  std::vector<std::unique_ptr<e2e::ClusterUnderTest>> clusters;
  for (int i = 1; i <= 3; ++i) {
    clusters.push_back(std::make_unique<e2e::ClusterUnderTest>(binaries, "cluster-" + std::to_string(i), i));
    if (auto s = clusters.back()->StartKubesim({"istio.yaml"}); !s.ok()) return std::cerr << s.error().message, 1;
    auto bundle = hub.Register("cluster-" + std::to_string(i));
    if (!bundle.ok()) return std::cerr << bundle.error().message << "\n", 1;
    if (auto s = clusters.back()->StartAgent(*bundle, {"--log-level", "warn"}); !s.ok()) return 1;
  }
  bool discovered = e2e::WaitFor(
      [&] {
        auto answer = hub.Api("GET", "/v1/objects/meshes");
        return answer.body.find("istiod-istio-system-cluster-3") != std::string::npos &&
               answer.body.find("istiod-istio-system-cluster-1") != std::string::npos &&
               answer.body.find("istiod-istio-system-cluster-2") != std::string::npos;
      },
      std::chrono::seconds(60));
  if (!discovered) return std::cerr << "meshes not discovered\n" << hub.Log(), 1;

  std::this_thread::sleep_for(std::chrono::seconds(warmup));
  boost::json::object out;
  out["benchmark"] = "apply_to_accepted_3_clusters";
  out["warmup_seconds"] = warmup;
  int n = 0;
  for (const auto& [label, options] : std::vector<std::pair<std::string, std::string>>{
           {"rsa4096", "{keyAlgorithm: RSA, rsaKeySizeBytes: 4096}"}, {"ecdsa_p256", "{keyAlgorithm: ECDSA_P256}"}}) {
    std::vector<double> seconds;
    for (int r = 0; r < runs; ++r) {
      const std::string name = "bench-" + std::to_string(++n);
      auto t0 = Clock::now();
      auto applied = hub.Api("POST", "/v1/apply", Manifest(name, options));
      if (applied.status != 200) return std::cerr << "apply: " << applied.body << "\n", 1;
      bool accepted = e2e::WaitFor([&] { return StateOf(hub, name) == "ACCEPTED"; }, std::chrono::seconds(120));
      double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
      if (!accepted) return std::cerr << name << " not ACCEPTED\n" << hub.Log(), 1;
      seconds.push_back(elapsed);
      // Free the meshes for the next run.
      hub.Api("DELETE", "/v1/objects/virtualmeshes?namespace=vmesh&name=" + name);
      e2e::WaitFor([&] { return StateOf(hub, name).empty(); }, std::chrono::seconds(10));
    }
    boost::json::array all;
    for (double s : seconds) all.push_back(s);
    out[label + "_seconds"] = all;
    out[label + "_median_seconds"] = Median(seconds);
  }
  std::cout << boost::json::serialize(out) << std::endl;
  return 0;
}
