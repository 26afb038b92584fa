// The informer against a real kubesim: initial list, events, and a relist after 410 Gone.
#include "common/kube/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "common/base/test_paths.h"
#include "e2e/kubesim/test_cluster.h"

namespace vmesh::kube {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

class InformerTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args = {}) {
    Status s = cluster_.Start(vmesh::testpaths::BinaryDir() + "/e2e/kubesim/kubesim", "c1", args);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto config = LoadKubeconfig(cluster_.kubeconfig());
    ASSERT_TRUE(config.ok()) << config.error().message;
    client_ = std::move(*MakeKubeClient(*config));
  }
  void Kubectl(std::vector<std::string> args) {
    auto out = cluster_.Kubectl(args);
    ASSERT_EQ(out.exit_code, 0) << out.output;
  }
  void Run(Informer& informer, std::function<bool()> keep_going) {
    asio::io_context io;
    asio::co_spawn(io, informer.Run(std::move(keep_going)), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io.run();
  }

  kubesim::TestCluster cluster_;
  KubeClientPtr client_;
};

TEST_F(InformerTest, ListsThenFollowsChanges) {
  Start();
  Kubectl({"create", "configmap", "before", "-n", "default"});
  std::vector<std::string> events;
  int lists = 0;
  Informer informer(*client_, {.collection = ResourcePath("v1", "configmaps", "default")},
                    {.on_list =
                         [&](const auto& objects) {
                           ++lists;
                           EXPECT_TRUE(objects.count("default/before"));
                           // Changes made after the list arrive as events.
                           Kubectl({"create", "configmap", "after", "-n", "default"});
                           Kubectl({"delete", "configmap", "before", "-n", "default"});
                         },
                     .on_event = [&](const WatchEvent& e) { events.push_back(e.type + " " + ObjectKeyOf(e.object)); }});
  Run(informer, [&] { return events.size() < 2; });
  EXPECT_EQ(lists, 1);
  EXPECT_THAT(events, ::testing::ElementsAre("ADDED default/after", "DELETED default/before"));
  EXPECT_TRUE(informer.cache().count("default/after"));
  EXPECT_FALSE(informer.cache().count("default/before"));
}

TEST_F(InformerTest, RelistsWhenTheVersionIsGone) {
  // A tiny event log: by the time the watch starts, the listed version has fallen out of it.
  Start({"--event-log-capacity", "3"});
  int lists = 0;
  Informer informer(*client_, {.collection = ResourcePath("v1", "configmaps", "default")},
                    {.on_list = [&](const auto& objects) {
                      if (++lists == 1) {
                        for (int i = 0; i < 6; ++i)
                          Kubectl({"create", "configmap", "cm" + std::to_string(i), "-n", "default"});
                      } else {
                        EXPECT_EQ(objects.size(), 6u) << "the relist sees everything";
                      }
                    }});
  Run(informer, [&] { return lists < 2; });
  EXPECT_EQ(informer.stats().relists_after_gone, 1);
  EXPECT_EQ(informer.cache().size(), 6u);
}

// Follows `count` configmaps created after the first list; returns the event lines seen.
std::vector<std::string> FollowCreates(kubesim::TestCluster& cluster, KubeClient& client, Informer** out_informer,
                                       int count, std::function<void(Informer&)> check) {
  std::vector<std::string> events;
  int lists = 0;
  Informer informer(
      client,
      {.collection = ResourcePath("v1", "configmaps", "default"),
       .initial_backoff = std::chrono::milliseconds(20),
       .max_backoff = std::chrono::milliseconds(200)},
      {.on_list =
           [&](const auto&) {
             if (++lists > 1) return;
             for (int i = 0; i < count; ++i) {
               auto r = cluster.Kubectl({"create", "configmap", "f" + std::to_string(i), "-n", "default"});
               EXPECT_EQ(r.exit_code, 0) << r.output;
             }
           },
       .on_event = [&](const WatchEvent& e) { events.push_back(e.type + " " + ObjectKeyOf(e.object)); }});
  asio::io_context io;
  asio::co_spawn(io, informer.Run([&] { return events.size() < static_cast<size_t>(count); }),
                 [](std::exception_ptr e) {
                   if (e) std::rethrow_exception(e);
                 });
  io.run();
  check(informer);
  return events;
}

TEST_F(InformerTest, ResumesAfterDroppedWatchesWithoutLosingEvents) {
  Start({"--fault-drop-watch-after-events", "1"});
  auto events = FollowCreates(cluster_, *client_, nullptr, 3, [](Informer& informer) {
    EXPECT_GE(informer.stats().watches, 3) << "every watch was cut after one event";
    EXPECT_EQ(informer.stats().lists, 1) << "resumed from the last version, no relist";
  });
  EXPECT_THAT(events, ::testing::ElementsAre("ADDED default/f0", "ADDED default/f1", "ADDED default/f2"));
}

TEST_F(InformerTest, RelistsWhenTheNextWatchIsExpired) {
  Start({"--fault-expire-next-watch"});
  int lists = 0;
  Informer informer(*client_, {.collection = ResourcePath("v1", "configmaps", "default")},
                    {.on_list = [&](const auto&) { ++lists; }});
  Run(informer, [&] { return lists < 2; });
  EXPECT_EQ(informer.stats().relists_after_gone, 1);
  EXPECT_EQ(lists, 2);
}

TEST_F(InformerTest, RetriesServerErrorsAndToleratesLatency) {
  Start();
  Kubectl({"create", "configmap", "a", "-n", "default"});
  Kubectl({"create", "configmap", "b", "-n", "default"});
  // From now on half of the requests fail with 500/429 (deterministically for the seed) and all are slow.
  asio::io_context io;
  std::optional<Result<ApiResponse>> set;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        set.emplace(
            co_await client_->Request("POST", "/kubesim/faults", R"({"errorRate": 0.5, "seed": 7, "latencyMs": 20})"));
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  ASSERT_TRUE(set->ok() && (*set)->ok()) << (set->ok() ? (*set)->Describe() : set->error().message);
  Informer informer(*client_,
                    {.collection = ResourcePath("v1", "configmaps", "default"),
                     .initial_backoff = std::chrono::milliseconds(10),
                     .max_backoff = std::chrono::milliseconds(50)},
                    {});
  int lists_seen = 0;
  Run(informer, [&] { return informer.stats().lists == 0 && ++lists_seen < 200; });
  EXPECT_EQ(informer.stats().lists, 1);
  EXPECT_EQ(informer.cache().size(), 2u);
}

TEST_F(InformerTest, WorksOverTlsWithABearerToken) {
  Start({"--tls", "--token", "s3cret"});
  auto config = LoadKubeconfig(cluster_.kubeconfig());
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->server.rfind("https://", 0), 0u);
  EXPECT_EQ(config->token, "s3cret");
  auto events = FollowCreates(cluster_, *client_, nullptr, 1, [](Informer&) {});
  EXPECT_THAT(events, ::testing::ElementsAre("ADDED default/f0"));
  // A wrong token is refused with the server's Status.
  config->token = "wrong";
  auto wrong = std::move(*MakeKubeClient(*config));
  asio::io_context io;
  std::optional<Result<ApiResponse>> r;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { r.emplace(co_await wrong->Get("/api/v1/namespaces")); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  ASSERT_TRUE(r->ok()) << r->error().message;
  EXPECT_EQ((*r)->status, 401);
}

TEST_F(InformerTest, RetriesWhileTheServerIsUnreachable) {
  ClusterConfig config;
  config.server = "http://127.0.0.1:1";
  auto client = MakeKubeClient(config);
  Informer informer(**client,
                    {.collection = "/api/v1/configmaps",
                     .initial_backoff = std::chrono::milliseconds(5),
                     .max_backoff = std::chrono::milliseconds(20)},
                    {});
  int checks = 0;
  Run(informer, [&] { return ++checks < 5; });
  EXPECT_GE(informer.stats().retries, 3);
  EXPECT_EQ(informer.stats().lists, 0);
}

}  // namespace
}  // namespace vmesh::kube
