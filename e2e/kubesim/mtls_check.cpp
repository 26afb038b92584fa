#include "e2e/kubesim/mtls_check.h"

#include <map>
#include <utility>

#include "common/base/json_fields.h"
#include "common/pki/certificate.h"
#include "common/pki/verify.h"

namespace vmesh::kubesim {

std::optional<WorkloadTrust> WorkloadTrustOf(const boost::json::object& pod, const std::string& cluster) {
  WorkloadTrust w;
  w.cluster = cluster;
  w.pod = jsonf::StrAt(pod, {"metadata", "namespace"}) + "/" + jsonf::StrAt(pod, {"metadata", "name"});
  w.trusted_roots_pem = jsonf::StrAt(pod, {"metadata", "annotations", kTrustedRootsAnnotation});
  w.presented_chain_pem = jsonf::StrAt(pod, {"metadata", "annotations", kPresentedChainAnnotation});
  if (w.trusted_roots_pem.empty() || w.presented_chain_pem.empty()) return std::nullopt;
  return w;
}

namespace {

// Why `verifier_roots` does not accept `chain_pem`, or "" when it does.
std::string Refusal(const std::string& chain_pem, const std::string& verifier_roots,
                    std::chrono::system_clock::time_point now) {
  auto chain = pki::ParsePemBundle(chain_pem);
  if (!chain.ok() || chain->empty()) return "the presented chain does not parse";
  auto roots = pki::ParsePemBundle(verifier_roots);
  if (!roots.ok() || roots->empty()) return "the trusted roots do not parse";
  std::vector<pki::Certificate> untrusted(chain->begin() + 1, chain->end());
  auto verified = pki::VerifyChain(chain->front(), *roots, untrusted, now);
  return verified.ok() ? "" : verified.error().message;
}

}  // namespace

MtlsReport CheckMutualTls(const std::vector<WorkloadTrust>& workloads, std::chrono::system_clock::time_point now) {
  MtlsReport report;
  report.workloads = static_cast<int>(workloads.size());
  // Many workloads share a chain and a bundle: verify each combination once.
  std::map<std::pair<std::string, std::string>, std::string> verdicts;
  auto refusal = [&](const WorkloadTrust& presenter, const WorkloadTrust& verifier) -> const std::string& {
    auto key = std::make_pair(presenter.presented_chain_pem, verifier.trusted_roots_pem);
    auto it = verdicts.find(key);
    if (it == verdicts.end()) it = verdicts.emplace(key, Refusal(key.first, key.second, now)).first;
    return it->second;
  };
  for (size_t i = 0; i < workloads.size(); ++i) {
    for (size_t j = i + 1; j < workloads.size(); ++j) {
      const WorkloadTrust& a = workloads[i];
      const WorkloadTrust& b = workloads[j];
      if (a.cluster == b.cluster) continue;
      ++report.pairs;
      const std::string an = a.cluster + "/" + a.pod;
      const std::string bn = b.cluster + "/" + b.pod;
      if (const std::string& r = refusal(b, a); !r.empty()) {
        report.failures.push_back({an, bn, an + " does not accept the chain of " + bn + ": " + r});
      } else if (const std::string& r2 = refusal(a, b); !r2.empty()) {
        report.failures.push_back({an, bn, bn + " does not accept the chain of " + an + ": " + r2});
      }
    }
  }
  return report;
}

}  // namespace vmesh::kubesim
