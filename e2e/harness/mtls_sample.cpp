#include "e2e/harness/mtls_sample.h"

#include <boost/json.hpp>

namespace vmesh::e2e {

std::string MtlsSample::Describe() const {
  std::string out = std::to_string(report.workloads) + " workloads, " + std::to_string(report.pairs) + " pairs, " +
                    std::to_string(report.failures.size()) + " failed";
  if (!error.empty()) out += "; error: " + error;
  for (size_t i = 0; i < report.failures.size() && i < 3; ++i) out += "\n  " + report.failures[i].reason;
  return out;
}

MtlsSample SampleMutualTls(const std::vector<std::unique_ptr<ClusterUnderTest>>& clusters) {
  MtlsSample sample;
  std::vector<kubesim::WorkloadTrust> workloads;
  for (const auto& c : clusters) {
    auto out = c->Kubectl({"get", "pods", "-A", "-l", "security.istio.io/tlsMode=istio", "-o", "json"});
    boost::json::value list = out.exit_code == 0 ? ParseJson(out.output) : boost::json::value();
    const boost::json::value* items = JsonAt(list, {"items"});
    if (items == nullptr || !items->is_array()) {
      sample.error += (sample.error.empty() ? "" : "; ") + c->name() + ": kubectl get pods failed: " + out.output;
      continue;
    }
    for (const auto& pod : items->get_array()) {
      if (!pod.is_object()) continue;
      if (auto w = kubesim::WorkloadTrustOf(pod.get_object(), c->name())) workloads.push_back(std::move(*w));
    }
  }
  sample.report = kubesim::CheckMutualTls(workloads, std::chrono::system_clock::now());
  return sample;
}

}  // namespace vmesh::e2e
