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
    client_ = std::move(*Client::Create(*config));
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
  std::unique_ptr<Client> client_;
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

TEST_F(InformerTest, RetriesWhileTheServerIsUnreachable) {
  ClusterConfig config;
  config.server = "http://127.0.0.1:1";
  auto client = Client::Create(config);
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
