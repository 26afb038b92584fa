// Whether workloads could complete mutual TLS with each other, from what kubesim's Istio simulation
// (istio_controller.h) recorded on each sidecar pod: the roots it trusts and the CA chain it presents. SPEC §5.5
// demands that no request fail during a root rotation; an e2e test samples CheckMutualTls() over every cluster's
// pods at every step of one.
//
// A pair (A, B) completes mTLS when A's presented chain verifies against B's trusted roots and B's against A's.
// Verification is OpenSSL's (pki::VerifyChain: signatures, CA flags, validity at `now`), not a comparison of
// fingerprints. Pure functions; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace vmesh::kubesim {

inline constexpr const char* kTrustedRootsAnnotation = "kubesim.vmesh.dev/trusted-roots";
inline constexpr const char* kPresentedChainAnnotation = "kubesim.vmesh.dev/presented-chain";

struct WorkloadTrust {
  std::string cluster;
  std::string pod;                  // "<namespace>/<name>"
  std::string trusted_roots_pem;    // the roots it accepts peers under
  std::string presented_chain_pem;  // the CA chain its certificate is issued under: intermediate first, root last
};

// The trust recorded on a pod object, or nullopt when the simulation has not given it one yet (it serves no mTLS).
std::optional<WorkloadTrust> WorkloadTrustOf(const boost::json::object& pod, const std::string& cluster);

struct MtlsFailure {
  std::string client;  // "<cluster>/<namespace>/<name>"
  std::string server;
  std::string reason;  // which side refused which chain, with OpenSSL's error
};

struct MtlsReport {
  int workloads = 0;
  int pairs = 0;  // pairs of workloads in different clusters checked
  std::vector<MtlsFailure> failures;
};

// Every pair of workloads in different clusters, each direction verified.
MtlsReport CheckMutualTls(const std::vector<WorkloadTrust>& workloads, std::chrono::system_clock::time_point now);

}  // namespace vmesh::kubesim
