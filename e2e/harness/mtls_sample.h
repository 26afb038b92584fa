// One sample of the pairwise mTLS check (e2e/kubesim/mtls_check.h) over a fleet's clusters: every sidecar pod's
// recorded trust, read with kubectl, then every pair of workloads in different clusters verified both ways with
// OpenSSL. Root rotation tests (SPEC §5.5) take one at every step and require zero failed pairs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "e2e/harness/fleet.h"
#include "e2e/kubesim/mtls_check.h"

namespace vmesh::e2e {

struct MtlsSample {
  kubesim::MtlsReport report;
  std::string error;  // a cluster could not be read ("" when every one was)
  // The first failures and the error, for a test's failure message.
  std::string Describe() const;
};

MtlsSample SampleMutualTls(const std::vector<std::unique_ptr<ClusterUnderTest>>& clusters);

}  // namespace vmesh::e2e
