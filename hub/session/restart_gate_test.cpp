#include "hub/session/restart_gate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vmesh::hub {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RestartGate, OpensWhenTheLastAwaitedClusterArrives) {
  RestartGate gate;
  EXPECT_TRUE(gate.open()) << "nothing awaited";
  gate.Await({"c1", "c2"});
  EXPECT_FALSE(gate.open());
  EXPECT_FALSE(gate.Arrived("c3")) << "not awaited";
  EXPECT_FALSE(gate.Arrived("c1"));
  EXPECT_FALSE(gate.open());
  EXPECT_FALSE(gate.Arrived("c1")) << "arriving twice counts once";
  EXPECT_TRUE(gate.Arrived("c2"));
  EXPECT_TRUE(gate.open());
  EXPECT_FALSE(gate.Arrived("c2")) << "opened once";
  EXPECT_THAT(gate.Expire(), IsEmpty()) << "the grace period ending later changes nothing";
}

TEST(RestartGate, TheGracePeriodOpensItNamingTheMissingClusters) {
  RestartGate gate;
  gate.Await({"c1", "c2", "c3"});
  gate.Arrived("c2");
  EXPECT_THAT(gate.Expire(), ElementsAre("c1", "c3"));
  EXPECT_TRUE(gate.open());
  EXPECT_FALSE(gate.Arrived("c1")) << "open already";
}

}  // namespace
}  // namespace vmesh::hub
