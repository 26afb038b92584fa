// The in-process fake under the informer: the same list/watch/resume/relist paths informer_test.cpp drives
// through a kubesim process, here without a process, a socket or a sleep (client_test.cpp checks that the fake
// answers requests as the HTTP client against kubesim does).
#include "common/kube/fake_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "common/kube/informer.h"
#include "common/kube/run_task.h"

namespace vmesh::kube {
namespace {

namespace asio = boost::asio;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ConfigMapYaml(const std::string& name) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: default}\n";
}

class FakeKubeClientTest : public ::testing::Test {
 protected:
  void Make(FakeKubeClientOptions options = {}) {
    auto fake = MakeFakeKubeClient(std::move(options));
    ASSERT_TRUE(fake.ok()) << fake.error().message;
    fake_ = std::move(*fake);
  }

  void RunInformer(Informer& informer, std::function<bool()> keep_going) {
    asio::io_context io;
    asio::co_spawn(io, informer.Run(std::move(keep_going)), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io.run();
  }

  void SetFaults(const std::string& body) {
    auto r = RunTask(fake_->Request("POST", "/kubesim/faults", body));
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->ok()) << r->Describe();
  }

  FakeKubeClientPtr fake_;
};

TEST_F(FakeKubeClientTest, InformerListsThenFollowsChanges) {
  Make();
  ASSERT_TRUE(fake_->Seed(ConfigMapYaml("before")).ok());
  std::vector<std::string> events;
  int lists = 0;
  Informer informer(*fake_, {.collection = ResourcePath("v1", "configmaps", "default")},
                    {.on_list =
                         [&](const auto& objects) {
                           ++lists;
                           EXPECT_TRUE(objects.count("default/before"));
                           ASSERT_TRUE(fake_->Seed(ConfigMapYaml("after")).ok());
                         },
                     .on_event = [&](const WatchEvent& e) { events.push_back(e.type + " " + ObjectKeyOf(e.object)); }});
  RunInformer(informer, [&] { return events.empty(); });
  EXPECT_EQ(lists, 1);
  EXPECT_THAT(events, ElementsAre("ADDED default/after"));
  EXPECT_EQ(informer.cache().size(), 2u);
}

TEST_F(FakeKubeClientTest, InformerRelistsWhenTheVersionIsGone) {
  Make({.event_log_capacity = 3});
  int lists = 0;
  Informer informer(*fake_, {.collection = ResourcePath("v1", "configmaps", "default")},
                    {.on_list = [&](const auto& objects) {
                      if (++lists == 1) {
                        for (int i = 0; i < 6; ++i)
                          ASSERT_TRUE(fake_->Seed(ConfigMapYaml("cm" + std::to_string(i))).ok());
                      } else {
                        EXPECT_EQ(objects.size(), 6u) << "the relist sees everything";
                      }
                    }});
  RunInformer(informer, [&] { return lists < 2; });
  EXPECT_EQ(informer.stats().relists_after_gone, 1);
}

TEST_F(FakeKubeClientTest, InformerResumesAfterDroppedWatchesWithoutLosingEvents) {
  Make();
  SetFaults(R"({"dropWatchAfterEvents": 1})");
  std::vector<std::string> events;
  Informer informer(*fake_,
                    {.collection = ResourcePath("v1", "configmaps", "default"),
                     .initial_backoff = std::chrono::milliseconds(1),
                     .max_backoff = std::chrono::milliseconds(1)},
                    {.on_list =
                         [&](const auto&) {
                           for (int i = 0; i < 3; ++i)
                             ASSERT_TRUE(fake_->Seed(ConfigMapYaml("f" + std::to_string(i))).ok());
                         },
                     .on_event = [&](const WatchEvent& e) { events.push_back(e.type + " " + ObjectKeyOf(e.object)); }});
  RunInformer(informer, [&] { return events.size() < 3; });
  EXPECT_THAT(events, ElementsAre("ADDED default/f0", "ADDED default/f1", "ADDED default/f2"));
  EXPECT_EQ(informer.stats().lists, 1) << "resumed from the last version, no relist";
  EXPECT_GE(informer.stats().watches, 3) << "every watch was cut after one event";
}

TEST_F(FakeKubeClientTest, InformerRelistsWhenTheNextWatchIsExpired) {
  Make();
  SetFaults(R"({"expireNextWatch": true})");
  int lists = 0;
  Informer informer(*fake_, {.collection = ResourcePath("v1", "configmaps", "default")},
                    {.on_list = [&](const auto&) { ++lists; }});
  RunInformer(informer, [&] { return lists < 2; });
  EXPECT_EQ(informer.stats().relists_after_gone, 1);
}

TEST_F(FakeKubeClientTest, InformerRetriesServerErrors) {
  Make();
  ASSERT_TRUE(fake_->Seed(ConfigMapYaml("a") + "---\n" + ConfigMapYaml("b")).ok());
  SetFaults(R"({"errorRate": 0.5, "seed": 7})");
  Informer informer(*fake_,
                    {.collection = ResourcePath("v1", "configmaps", "default"),
                     .initial_backoff = std::chrono::milliseconds(1),
                     .max_backoff = std::chrono::milliseconds(1)},
                    {});
  RunInformer(informer, [&] { return informer.stats().lists == 0; });
  EXPECT_EQ(informer.stats().lists, 1);
  EXPECT_EQ(informer.cache().size(), 2u);
}

TEST_F(FakeKubeClientTest, CloseWatchesEndsOpenWatchesAsADroppedConnection) {
  Make();
  std::optional<Status> ended;
  int events = 0;
  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        ended = co_await fake_->Watch(ResourcePath("v1", "configmaps", "default") + "?watch=1", [&](const WatchEvent&) {
          // The first event: the watch is up; now the "connection" goes away.
          ++events;
          fake_->CloseWatches();
          return true;
        });
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await fake_->Create(ResourcePath("v1", "configmaps", "default"),
                               boost::json::parse(R"({"apiVersion":"v1","kind":"ConfigMap",
                                                                   "metadata":{"name":"x","namespace":"default"}})"));
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(ended.has_value());
  ASSERT_FALSE(ended->ok());
  EXPECT_THAT(ended->error().message, HasSubstr("connection closed"));
  EXPECT_EQ(events, 1);
}

TEST_F(FakeKubeClientTest, WatchOfAnUnknownResourceIsTheApiServersError) {
  Make();
  Status s = RunTask(
      fake_->Watch("/apis/networking.istio.io/v1beta1/serviceentries?watch=1", [](const WatchEvent&) { return true; }));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("404"));
}

}  // namespace
}  // namespace vmesh::kube
