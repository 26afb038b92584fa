#include "common/api/limited_trust.h"

#include <gtest/gtest.h>

namespace vmesh::api {
namespace {

TEST(LimitedTrustNames, SecretNamesAndSpiffeIds) {
  EXPECT_EQ(GatewaySecretName(GatewayRole::kIngress), "vmesh-gateway-ingress");
  EXPECT_EQ(GatewaySecretName(GatewayRole::kEgress), "vmesh-gateway-egress");
  EXPECT_EQ(GatewayTrustDomain("fleet", "vm"), "vm.fleet.vmesh-gateway");
  EXPECT_EQ(GatewaySpiffeId("fleet", "vm", "c1", "istiod-istio-system-c1", GatewayRole::kEgress),
            "spiffe://vm.fleet.vmesh-gateway/cluster/c1/mesh/istiod-istio-system-c1/egress");
}

}  // namespace
}  // namespace vmesh::api
