#include "common/sync/sync.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace vmesh::sync {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Resource Kube(const std::string& name, const std::string& json) {
  Resource r;
  r.set_name(name);
  r.mutable_kube_object()->set_json(json);
  return r;
}

std::vector<std::string> Names(const ResourceUpdate& u) {
  std::vector<std::string> out;
  for (const auto& r : u.upserts()) out.push_back(r.name());
  return out;
}

// An agent that applies everything (unless told to fail a name) and records what it applied.
struct FakeAgent {
  ResourceReceiver receiver;
  std::map<std::string, std::string> cluster;  // name -> json
  std::set<std::string> fail;
  int applies = 0;

  Ack Handle(const ResourceUpdate& u) {
    return receiver.Apply(
        u,
        [&](const Resource& r) -> Status {
          if (fail.count(r.name())) return MakeError("admission webhook denied " + r.name());
          cluster[r.name()] = r.kube_object().json();
          ++applies;
          return OkStatus();
        },
        [&](const std::string& name) -> Status {
          cluster.erase(name);
          return OkStatus();
        });
  }
};

TEST(Sync, InitialSyncSendsEverythingOnceThenNothing) {
  ResourceSender hub;
  hub.SetDesired({Kube("a", "1"), Kube("b", "2"), Kube("c", "3")});
  FakeAgent agent;
  EXPECT_FALSE(hub.NextUpdate()) << "no session yet";
  hub.Resume(agent.receiver.MakeHello("c1", "v1"));
  auto u = hub.NextUpdate();
  ASSERT_TRUE(u);
  EXPECT_THAT(Names(*u), ElementsAre("a", "b", "c"));
  EXPECT_FALSE(hub.NextUpdate()) << "one update in flight at a time";
  Ack ack = agent.Handle(*u);
  EXPECT_TRUE(ack.accepted());
  ASSERT_TRUE(hub.HandleAck(ack).ok());
  EXPECT_TRUE(hub.InSync());
  EXPECT_FALSE(hub.NextUpdate());
  EXPECT_EQ(agent.cluster.size(), 3u);
}

TEST(Sync, OneChangeSendsOneResource) {
  ResourceSender hub;
  FakeAgent agent;
  hub.SetDesired({Kube("a", "1"), Kube("b", "2"), Kube("c", "3")});
  hub.Resume(agent.receiver.MakeHello("c1", "v1"));
  ASSERT_TRUE(hub.HandleAck(agent.Handle(*hub.NextUpdate())).ok());

  hub.Upsert(Kube("b", "2-changed"));
  auto u = hub.NextUpdate();
  ASSERT_TRUE(u);
  EXPECT_THAT(Names(*u), ElementsAre("b"));
  EXPECT_THAT(u->removals(), IsEmpty());
  ASSERT_TRUE(hub.HandleAck(agent.Handle(*u)).ok());
  EXPECT_EQ(agent.cluster["b"], "2-changed");

  hub.Upsert(Kube("a", "1"));  // same content: nothing to do
  EXPECT_FALSE(hub.NextUpdate());

  hub.Remove("c");
  u = hub.NextUpdate();
  ASSERT_TRUE(u);
  EXPECT_THAT(Names(*u), IsEmpty());
  EXPECT_THAT(u->removals(), ElementsAre("c"));
  ASSERT_TRUE(hub.HandleAck(agent.Handle(*u)).ok());
  EXPECT_FALSE(agent.cluster.count("c"));
  EXPECT_TRUE(hub.InSync());
}

TEST(Sync, ReconnectWithNothingChangedSendsAndAppliesNothing) {
  ResourceSender hub;
  FakeAgent agent;
  hub.SetDesired({Kube("a", "1"), Kube("b", "2")});
  hub.Resume(agent.receiver.MakeHello("c1", "v1"));
  ASSERT_TRUE(hub.HandleAck(agent.Handle(*hub.NextUpdate())).ok());
  const auto sent = hub.resources_sent();

  // The agent restarts from what it persisted; the hub restarts from its desired state.
  ResourceReceiver restarted(agent.receiver.held(), agent.receiver.system_version());
  ResourceSender new_hub;
  new_hub.SetDesired({Kube("a", "1"), Kube("b", "2")});
  hub.Disconnected();
  new_hub.Resume(restarted.MakeHello("c1", "v1"));
  EXPECT_FALSE(new_hub.NextUpdate());
  EXPECT_TRUE(new_hub.InSync());
  hub.Resume(restarted.MakeHello("c1", "v1"));
  EXPECT_FALSE(hub.NextUpdate());
  EXPECT_EQ(hub.resources_sent(), sent);
}

TEST(Sync, ReconnectSendsOnlyWhatChangedMeanwhile) {
  ResourceSender hub;
  FakeAgent agent;
  hub.SetDesired({Kube("a", "1"), Kube("b", "2"), Kube("c", "3")});
  hub.Resume(agent.receiver.MakeHello("c1", "v1"));
  ASSERT_TRUE(hub.HandleAck(agent.Handle(*hub.NextUpdate())).ok());
  hub.Disconnected();
  hub.Upsert(Kube("a", "1-new"));
  hub.Remove("c");
  hub.Upsert(Kube("d", "4"));
  EXPECT_FALSE(hub.NextUpdate()) << "nothing is sent without a session";
  hub.Resume(agent.receiver.MakeHello("c1", "v1"));
  auto u = hub.NextUpdate();
  ASSERT_TRUE(u);
  EXPECT_THAT(Names(*u), ElementsAre("a", "d"));
  EXPECT_THAT(u->removals(), ElementsAre("c"));
  agent.applies = 0;
  ASSERT_TRUE(hub.HandleAck(agent.Handle(*u)).ok());
  EXPECT_EQ(agent.applies, 2);
  EXPECT_TRUE(hub.InSync());
}

TEST(Sync, UpdateLostInFlightIsResentAfterResume) {
  ResourceSender hub;
  FakeAgent agent;
  hub.SetDesired({Kube("a", "1")});
  hub.Resume(agent.receiver.MakeHello("c1", "v1"));
  ASSERT_TRUE(hub.NextUpdate());
  hub.Disconnected();  // the frame never arrived
  hub.Resume(agent.receiver.MakeHello("c1", "v1"));
  auto u = hub.NextUpdate();
  ASSERT_TRUE(u);
  EXPECT_THAT(Names(*u), ElementsAre("a"));
}

TEST(Sync, RejectedResourceIsNotResentUntilChangedOrRetried) {
  ResourceSender hub;
  FakeAgent agent;
  agent.fail = {"bad"};
  hub.SetDesired({Kube("good", "1"), Kube("bad", "x")});
  hub.Resume(agent.receiver.MakeHello("c1", "v1"));
  Ack ack = agent.Handle(*hub.NextUpdate());
  EXPECT_FALSE(ack.accepted());
  ASSERT_EQ(ack.errors_size(), 1);
  EXPECT_EQ(ack.errors(0).name(), "bad");
  ASSERT_TRUE(hub.HandleAck(ack).ok());
  EXPECT_EQ(hub.agent_versions().count("good"), 1u);
  EXPECT_EQ(hub.agent_versions().count("bad"), 0u);
  EXPECT_EQ(hub.rejected().at("bad"), "admission webhook denied bad");
  EXPECT_FALSE(hub.NextUpdate()) << "no resend loop";

  hub.RetryRejected();
  auto retry = hub.NextUpdate();
  ASSERT_TRUE(retry);
  EXPECT_THAT(Names(*retry), ElementsAre("bad"));
  agent.fail.clear();
  ASSERT_TRUE(hub.HandleAck(agent.Handle(*retry)).ok());
  EXPECT_TRUE(hub.rejected().empty());
  EXPECT_TRUE(hub.InSync());

  agent.fail = {"good"};
  hub.Upsert(Kube("good", "2"));
  ASSERT_TRUE(hub.HandleAck(agent.Handle(*hub.NextUpdate())).ok());
  EXPECT_FALSE(hub.NextUpdate());
  agent.fail.clear();
  hub.Upsert(Kube("good", "3"));  // a new version is sent without waiting for a retry
  auto fixed = hub.NextUpdate();
  ASSERT_TRUE(fixed);
  EXPECT_THAT(Names(*fixed), ElementsAre("good"));
}

TEST(Sync, StaleOrUnknownNoncesAreErrors) {
  ResourceSender hub;
  FakeAgent agent;
  hub.SetDesired({Kube("a", "1")});
  hub.Resume(agent.receiver.MakeHello("c1", "v1"));
  Ack none;
  none.set_nonce("1");
  auto u = hub.NextUpdate();
  Ack wrong = agent.Handle(*u);
  wrong.set_nonce("999");
  EXPECT_FALSE(hub.HandleAck(wrong).ok());
  ASSERT_TRUE(hub.HandleAck(agent.Handle(*u)).ok());
  EXPECT_FALSE(hub.HandleAck(none).ok()) << "nothing in flight";
}

TEST(Sync, ReceiverSkipsResourcesItAlreadyHolds) {
  ResourceSender hub;
  hub.Upsert(Kube("a", "1"));
  hub.Resume(Hello());
  ResourceUpdate u = *hub.NextUpdate();
  FakeAgent agent;
  agent.Handle(u);
  agent.Handle(u);  // duplicate delivery
  EXPECT_EQ(agent.applies, 1);
  EXPECT_EQ(agent.receiver.applied(), 1u);
}

TEST(Sync, ContentVersionIsStableAndIgnoresNameAndVersion) {
  Resource a = Kube("a", "{\"x\":1}");
  Resource b = Kube("b", "{\"x\":1}");
  b.set_version("whatever");
  EXPECT_EQ(ContentVersion(a), ContentVersion(b));
  EXPECT_NE(ContentVersion(a), ContentVersion(Kube("a", "{\"x\":2}")));
  EXPECT_EQ(ContentVersion(a).size(), 20u);
}

// Random desired-state churn, lost updates and reconnects always converge: the agent ends up holding exactly
// the desired set with the desired content.
TEST(Sync, RandomChurnConverges) {
  std::mt19937 rng(42);
  ResourceSender hub;
  FakeAgent agent;
  std::map<std::string, std::string> desired;
  hub.Resume(agent.receiver.MakeHello("c1", "v1"));
  for (int step = 0; step < 2000; ++step) {
    int action = rng() % 10;
    std::string name = "r" + std::to_string(rng() % 20);
    if (action < 4) {
      std::string json = std::to_string(rng() % 5);
      desired[name] = json;
      hub.Upsert(Kube(name, json));
    } else if (action < 6) {
      desired.erase(name);
      hub.Remove(name);
    } else if (action < 9) {
      if (auto u = hub.NextUpdate()) ASSERT_TRUE(hub.HandleAck(agent.Handle(*u)).ok());
    } else {
      hub.Disconnected();
      hub.Resume(agent.receiver.MakeHello("c1", "v1"));
    }
  }
  while (auto u = hub.NextUpdate()) ASSERT_TRUE(hub.HandleAck(agent.Handle(*u)).ok());
  EXPECT_TRUE(hub.InSync());
  EXPECT_EQ(agent.cluster, desired);
}

TEST(Sync, PreVersionedDesiredSetBehavesLikeSetDesired) {
  ResourceSender plain;
  ResourceSender versioned;
  plain.SetDesired({Kube("a", "1"), Kube("b", "2")});
  Resource a = Kube("a", "1");
  a.set_version(ContentVersion(a));
  versioned.SetDesiredVersioned({a, Kube("b", "2")});  // "b" has no version: computed
  FakeAgent agent;
  plain.Resume(agent.receiver.MakeHello("c1", "v1"));
  auto u = plain.NextUpdate();
  ASSERT_TRUE(u);
  ASSERT_TRUE(plain.HandleAck(agent.Handle(*u)).ok());
  versioned.Resume(agent.receiver.MakeHello("c1", "v1"));
  EXPECT_TRUE(versioned.InSync()) << "same versions as SetDesired computes";
  EXPECT_FALSE(versioned.NextUpdate());
}

// SetDesiredShared changes only what differs and NextUpdate looks only at that: the updates are exactly those of a
// sender given the whole set each time (SetDesired), through random churn, rejections, retries and reconnects.
TEST(Sync, SharedDesiredSetsSendWhatWholeSetsSend) {
  std::mt19937 rng(7);
  ResourceSender whole;
  ResourceSender shared;
  FakeAgent agent_whole;
  FakeAgent agent_shared;
  whole.Resume(agent_whole.receiver.MakeHello("c1", "v1"));
  shared.Resume(agent_shared.receiver.MakeHello("c1", "v1"));
  std::map<std::string, SharedResource> current;  // what `shared` was given last: unchanged entries stay the same
  for (int step = 0; step < 400; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const int op = static_cast<int>(rng() % 10);
    if (op < 6) {  // a new desired set: some entries added, changed or dropped
      for (int k = 0; k < 3; ++k) {
        const std::string name = "r" + std::to_string(rng() % 12);
        if (rng() % 3 == 0) {
          current.erase(name);
        } else {
          Resource r = Kube(name, std::to_string(rng() % 4));
          r.set_version(ContentVersion(r));
          current[name] = std::make_shared<const Resource>(std::move(r));
        }
      }
      std::vector<Resource> copies;
      std::vector<SharedResource> list;
      for (const auto& [name, r] : current) {
        copies.push_back(*r);
        list.push_back(r);
      }
      if (rng() % 4 == 0) std::reverse(list.begin(), list.end());  // order does not matter
      whole.SetDesired(std::move(copies));
      shared.SetDesiredShared(list);
    } else if (op < 7) {  // the agent fails one name from now on, or no longer
      const std::string name = "r" + std::to_string(rng() % 12);
      for (FakeAgent* a : {&agent_whole, &agent_shared}) {
        if (!a->fail.erase(name)) a->fail.insert(name);
      }
    } else if (op < 8) {
      whole.RetryRejected();
      shared.RetryRejected();
    } else if (op < 9) {  // a reconnect, the update in flight lost
      whole.Disconnected();
      shared.Disconnected();
      whole.Resume(agent_whole.receiver.MakeHello("c1", "v1"));
      shared.Resume(agent_shared.receiver.MakeHello("c1", "v1"));
    }
    auto a = whole.NextUpdate();
    auto b = shared.NextUpdate();
    ASSERT_EQ(a.has_value(), b.has_value());
    if (!a) continue;
    EXPECT_EQ(a->SerializeAsString(), b->SerializeAsString());
    if (rng() % 5 == 0) continue;  // no answer yet
    ASSERT_TRUE(whole.HandleAck(agent_whole.Handle(*a)).ok());
    ASSERT_TRUE(shared.HandleAck(agent_shared.Handle(*b)).ok());
    EXPECT_EQ(whole.InSync(), shared.InSync());
    EXPECT_EQ(whole.rejected(), shared.rejected());
  }
  EXPECT_EQ(agent_whole.cluster, agent_shared.cluster);
}

}  // namespace
}  // namespace vmesh::sync
