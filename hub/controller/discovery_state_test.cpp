#include "hub/controller/discovery_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vmesh::hub {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

link::v1::DiscoveryReport Full(const std::string& cluster, std::vector<std::string> services) {
  link::v1::DiscoveryReport r;
  r.set_full_state(true);
  auto* m = r.add_meshes();
  m->mutable_metadata()->set_name("istiod-istio-system-" + cluster);
  m->mutable_spec()->set_cluster(cluster);
  for (const auto& s : services) {
    auto* d = r.add_destinations();
    d->mutable_spec()->set_cluster(cluster);
    d->mutable_spec()->set_namespace_("bookinfo");
    d->mutable_spec()->set_name(s);
  }
  return r;
}

TEST(DiscoveryState, FullStateThenDeltasReportOnlyWhatChanged) {
  DiscoveryState state;
  auto first = state.Apply("c1", Full("c1", {"reviews", "ratings"}));
  EXPECT_THAT(first.meshes, ElementsAre("istiod-istio-system-c1"));
  EXPECT_THAT(first.destinations, ElementsAre("c1/bookinfo/ratings", "c1/bookinfo/reviews"));

  EXPECT_TRUE(state.Apply("c1", Full("c1", {"reviews", "ratings"})).empty()) << "same state: no change";

  link::v1::DiscoveryReport delta;
  auto* d = delta.add_destinations();
  d->mutable_spec()->set_cluster("c1");
  d->mutable_spec()->set_namespace_("bookinfo");
  d->mutable_spec()->set_name("details");
  delta.add_removed_destinations("bookinfo/ratings");
  auto changes = state.Apply("c1", delta);
  EXPECT_THAT(changes.meshes, IsEmpty());
  EXPECT_THAT(changes.destinations, ElementsAre("c1/bookinfo/details", "c1/bookinfo/ratings"));
  EXPECT_EQ(state.Destinations("c1").size(), 2u);

  // A new full state (e.g. after a reconnect) drops what it no longer lists.
  auto resync = state.Apply("c1", Full("c1", {"reviews"}));
  EXPECT_THAT(resync.destinations, ElementsAre("c1/bookinfo/details"));
}

TEST(DiscoveryState, ClustersAreSeparateAndForgettable) {
  DiscoveryState state;
  state.Apply("c1", Full("c1", {"reviews"}));
  state.Apply("c2", Full("c2", {"reviews"}));
  ASSERT_EQ(state.Meshes("c2").size(), 1u);
  EXPECT_EQ(state.Meshes("c2")[0].metadata().name(), "istiod-istio-system-c2");
  auto gone = state.ForgetCluster("c2");
  EXPECT_THAT(gone.meshes, ElementsAre("istiod-istio-system-c2"));
  EXPECT_THAT(state.Clusters(), ElementsAre("c1"));
  EXPECT_TRUE(state.Meshes("c2").empty());
  EXPECT_EQ(state.Destinations("c1").size(), 1u);
}

TEST(DiscoveryState, CountAfterIsWhatApplyWouldLeave) {
  DiscoveryState state;
  auto full = Full("c1", {"reviews", "ratings"});
  EXPECT_EQ(state.CountAfter("c1", full), std::make_pair(std::size_t{1}, std::size_t{2}));
  state.Apply("c1", full);
  link::v1::DiscoveryReport delta;
  auto* d = delta.add_destinations();  // one new, one update, one removal
  d->mutable_spec()->set_namespace_("bookinfo");
  d->mutable_spec()->set_name("details");
  *delta.add_destinations() = full.destinations(0);
  delta.add_removed_destinations("bookinfo/ratings");
  delta.add_removed_destinations("bookinfo/nothing");
  const auto predicted = state.CountAfter("c1", delta);
  EXPECT_EQ(predicted, std::make_pair(std::size_t{1}, std::size_t{2}));
  state.Apply("c1", delta);
  EXPECT_EQ(state.Destinations("c1").size(), predicted.second);
  EXPECT_EQ(state.CountAfter("c2", delta).second, 2u) << "an unknown cluster starts empty";
}

}  // namespace
}  // namespace vmesh::hub
