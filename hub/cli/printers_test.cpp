#include "hub/cli/printers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vmesh::cli {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

TEST(Printers, TableColumnsAlignWithoutTrailingSpaces) {
  EXPECT_EQ(FormatTable({"NAME", "STATE"}, {{"cluster-1", "CONNECTED"}, {"c2", "DISCONNECTED"}}),
            "NAME       STATE\n"
            "cluster-1  CONNECTED\n"
            "c2         DISCONNECTED\n");
}

TEST(Printers, Ages) {
  EXPECT_EQ(Age(kNow - 45s, kNow), "45s");
  EXPECT_EQ(Age(kNow - 5min, kNow), "5m");
  EXPECT_EQ(Age(kNow - 3h, kNow), "3h");
  EXPECT_EQ(Age(kNow - 24h * 12, kNow), "12d");
  EXPECT_EQ(Age(kNow + 5s, kNow), "0s");
}

TEST(Printers, ClusterList) {
  api::v1::Cluster c;
  c.mutable_metadata()->set_name("cluster-1");
  c.mutable_status()->set_state(api::v1::CONNECTED);
  c.mutable_status()->set_agent_version("0.1.0");
  c.mutable_status()->mutable_connected_since()->set_seconds(1'800'000'000 - 600);
  c.mutable_status()->mutable_last_heartbeat()->set_seconds(1'800'000'000 - 5);
  std::string table = ClusterTable({c}, kNow);
  EXPECT_THAT(table, HasSubstr("cluster-1  CONNECTED  0.1.0  10m"));
  EXPECT_THAT(table, HasSubstr("5s ago"));
}

TEST(Printers, DescribeShowsStatePerMeshCertificatesAndWhatToDo) {
  api::v1::VirtualMesh vm;
  vm.mutable_metadata()->set_name("vm1");
  vm.mutable_metadata()->set_namespace_("vmesh");
  vm.mutable_metadata()->set_generation(3);
  vm.mutable_spec()->add_meshes()->set_name("istiod-istio-system-c1");
  vm.mutable_status()->set_observed_generation(3);
  vm.mutable_status()->set_state(api::v1::PENDING);
  auto& m = (*vm.mutable_status()->mutable_meshes())["istiod-istio-system-c1.vmesh"];
  m.set_state(api::v1::ACCEPTED);
  m.mutable_certificate()->set_serial("0123456789abcdef0123");
  m.mutable_certificate()->mutable_not_after()->set_seconds(1'802'000'000);
  m.set_federated_destinations(4);
  m.set_applied_outputs(9);
  m.set_agent_connected(true);
  m.add_pending_restarts("Deployment/bookinfo/reviews");
  std::string text = DescribeVirtualMesh(vm, kNow);
  EXPECT_THAT(text, HasSubstr("State:        PENDING"));
  EXPECT_THAT(text, HasSubstr("Generation:   3 (status describes 3)"));
  EXPECT_THAT(text, HasSubstr("istiod-istio-system-c1.vmesh  ACCEPTED  0123456789abcdef"));
  EXPECT_THAT(text, HasSubstr("name: istiod-istio-system-c1"));
  EXPECT_THAT(text, HasSubstr("vmeshctl mesh restart istiod-istio-system-c1): Deployment/bookinfo/reviews"));
}

}  // namespace
}  // namespace vmesh::cli
