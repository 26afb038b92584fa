#include "e2e/kubesim/workload_controller.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "e2e/kubesim/cluster_setup.h"
#include "e2e/kubesim/defaulting.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

class WorkloadControllerTest : public ::testing::Test {
 protected:
  WorkloadControllerTest() : controller_(registry_, store_, Options()) {
    EXPECT_TRUE(CreateSystemNamespaces(store_).ok());
  }

  WorkloadController::Options Options() {
    WorkloadController::Options options;
    options.pod_ready_delay = milliseconds(1000);
    options.clock = [this] { return now_; };
    return options;
  }

  const ResourceType& Type(const char* group, const char* resource) { return *registry_.Find(group, "v1", resource); }

  void CreateDeployment(const std::string& name, int replicas, const std::string& image) {
    json::object d = json::parse(R"({"metadata":{"name":")" + name + R"("},"spec":{"replicas":)" +
                                 std::to_string(replicas) + R"(,"selector":{"matchLabels":{"app":")" + name +
                                 R"("}},"template":{"metadata":{"labels":{"app":")" + name +
                                 R"("}},"spec":{"containers":[{"name":"c","image":")" + image + R"("}]}}}})")
                         .as_object();
    ApplyDefaults(Type("apps", "deployments"), d);
    ASSERT_TRUE(store_.Create(Type("apps", "deployments"), "default", std::move(d)).ok());
  }

  void SetImage(const std::string& name, const std::string& image) {
    auto updated = store_.Mutate(Type("apps", "deployments"), "default", name, [&](const json::object& d) {
      json::object next = d;
      next["spec"]
          .as_object()["template"]
          .as_object()["spec"]
          .as_object()["containers"]
          .as_array()[0]
          .as_object()["image"] = image;
      return ApiResult<json::object>(next);
    });
    ASSERT_TRUE(updated.ok());
  }

  // Runs passes until nothing changes, as the runner does after store changes.
  void Settle() {
    for (int i = 0; i < 20; ++i) {
      uint64_t before = store_.resource_version();
      controller_.Reconcile();
      if (store_.resource_version() == before) return;
    }
    ADD_FAILURE() << "the controller did not settle";
  }

  std::vector<json::object> Pods() {
    std::vector<json::object> pods;
    auto list = store_.List(Type("", "pods"), "default", {});
    for (const auto& p : list->items) pods.push_back(*p);
    return pods;
  }

  std::vector<json::object> ReplicaSets() {
    std::vector<json::object> sets;
    auto list = store_.List(Type("apps", "replicasets"), "default", {});
    for (const auto& rs : list->items) sets.push_back(*rs);
    return sets;
  }

  json::object Deployment(const std::string& name) {
    return **store_.Get(Type("apps", "deployments"), "default", name);
  }

  ResourceRegistry registry_ = MakeBuiltinRegistry();
  ObjectStore store_;
  std::chrono::steady_clock::time_point now_{};
  WorkloadController controller_;
};

TEST_F(WorkloadControllerTest, DeploymentGetsAReplicaSetAndReadyPods) {
  CreateDeployment("web", 3, "nginx:1");
  Settle();
  auto sets = ReplicaSets();
  ASSERT_EQ(sets.size(), 1u);
  const std::string hash(sets[0].at("metadata").at("labels").at("pod-template-hash").as_string());
  EXPECT_EQ(sets[0].at("metadata").at("name").as_string(), "web-" + hash);
  EXPECT_EQ(sets[0].at("metadata").at("ownerReferences").at(0).at("uid"), Deployment("web").at("metadata").at("uid"));
  EXPECT_EQ(sets[0].at("spec").at("replicas"), 3);

  auto pods = Pods();
  ASSERT_EQ(pods.size(), 3u);
  for (const auto& pod : pods) {
    EXPECT_EQ(pod.at("metadata").at("labels"), json::parse(R"({"app":"web","pod-template-hash":")" + hash + "\"}"));
    EXPECT_EQ(pod.at("status").at("phase"), "Pending");
    EXPECT_EQ(pod.at("spec").at("containers").at(0).at("image"), "nginx:1");
  }
  json::object status = Deployment("web").at("status").as_object();
  EXPECT_EQ(status.at("updatedReplicas"), 3);
  EXPECT_FALSE(status.contains("readyReplicas"));

  // Not ready until the delay has passed; the controller asks to be called back then.
  auto next = controller_.Reconcile();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, now_ + milliseconds(1000));
  now_ += milliseconds(1000);
  Settle();
  std::set<std::string> ips;
  for (const auto& pod : Pods()) {
    EXPECT_EQ(pod.at("status").at("phase"), "Running");
    ips.insert(std::string(pod.at("status").at("podIP").as_string()));
  }
  EXPECT_EQ(ips.size(), 3u);
  status = Deployment("web").at("status").as_object();
  EXPECT_EQ(status.at("readyReplicas"), 3);
  EXPECT_EQ(status.at("availableReplicas"), 3);
  EXPECT_EQ(status.at("observedGeneration"), 1);
  EXPECT_EQ(status.at("conditions").at(1).at("reason"), "NewReplicaSetAvailable");
  EXPECT_EQ(Deployment("web").at("metadata").at("annotations").at("deployment.kubernetes.io/revision"), "1");

  // Level-based: with nothing new, a pass writes nothing.
  uint64_t rv = store_.resource_version();
  EXPECT_FALSE(controller_.Reconcile().has_value());
  EXPECT_EQ(store_.resource_version(), rv);
}

TEST_F(WorkloadControllerTest, TemplateChangeRollsEveryPod) {
  CreateDeployment("web", 2, "nginx:1");
  Settle();
  now_ += milliseconds(1000);
  Settle();
  std::set<std::string> old_names;
  for (const auto& pod : Pods()) old_names.insert(std::string(pod.at("metadata").at("name").as_string()));

  SetImage("web", "nginx:2");
  Settle();
  // New pods exist but are not ready: the old ones stay.
  EXPECT_EQ(Pods().size(), 4u);
  EXPECT_EQ(ReplicaSets().size(), 2u);
  EXPECT_EQ(Deployment("web").at("status").at("conditions").at(1).at("reason"), "ReplicaSetUpdated");

  now_ += milliseconds(1000);
  Settle();
  auto pods = Pods();
  ASSERT_EQ(pods.size(), 2u);
  for (const auto& pod : pods) {
    EXPECT_FALSE(old_names.contains(std::string(pod.at("metadata").at("name").as_string())));
    EXPECT_EQ(pod.at("spec").at("containers").at(0).at("image"), "nginx:2");
  }
  json::object status = Deployment("web").at("status").as_object();
  EXPECT_EQ(status.at("replicas"), 2);
  EXPECT_EQ(status.at("updatedReplicas"), 2);
  EXPECT_EQ(status.at("availableReplicas"), 2);
  EXPECT_EQ(status.at("observedGeneration"), 2);
  EXPECT_EQ(Deployment("web").at("metadata").at("annotations").at("deployment.kubernetes.io/revision"), "2");
  for (const auto& rs : ReplicaSets()) {
    const bool current = rs.at("spec").at("template").at("spec").at("containers").at(0).at("image") == "nginx:2";
    EXPECT_EQ(rs.at("spec").at("replicas"), current ? 2 : 0);
  }
}

TEST_F(WorkloadControllerTest, ScalingAndGarbageCollection) {
  CreateDeployment("web", 3, "nginx:1");
  Settle();
  ASSERT_TRUE(store_
                  .Mutate(Type("apps", "deployments"), "default", "web",
                          [](const json::object& d) {
                            json::object next = d;
                            next["spec"].as_object()["replicas"] = 1;
                            return ApiResult<json::object>(next);
                          })
                  .ok());
  Settle();
  EXPECT_EQ(Pods().size(), 1u);

  // A bare pod is made Running by the kubelet but not collected: it has no owner.
  ASSERT_TRUE(store_
                  .Create(Type("", "pods"), "default",
                          json::parse(R"({"metadata":{"name":"bare"},
      "spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                              .as_object())
                  .ok());
  ASSERT_TRUE(store_.Delete(Type("apps", "deployments"), "default", "web").ok());
  Settle();
  EXPECT_TRUE(ReplicaSets().empty());
  now_ += milliseconds(1000);
  Settle();
  auto pods = Pods();
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].at("metadata").at("name"), "bare");
  EXPECT_EQ(pods[0].at("status").at("phase"), "Running");
}

TEST_F(WorkloadControllerTest, StatefulSetPodsComeUpInOrderAndRollFromTheTop) {
  json::object sts = json::parse(R"({"metadata":{"name":"db"},"spec":{"replicas":3,"selector":{"matchLabels":
      {"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"c","image":"pg:1"}]}}}})")
                         .as_object();
  ApplyDefaults(Type("apps", "statefulsets"), sts);
  ASSERT_TRUE(store_.Create(Type("apps", "statefulsets"), "default", std::move(sts)).ok());
  auto names = [this] {
    std::vector<std::string> out;
    for (const auto& pod : Pods()) out.emplace_back(pod.at("metadata").at("name").as_string());
    return out;
  };
  Settle();
  EXPECT_EQ(names(), std::vector<std::string>{"db-0"});  // OrderedReady: one at a time
  for (int i = 0; i < 3; ++i) {
    now_ += milliseconds(1000);
    Settle();
  }
  EXPECT_EQ(names(), (std::vector<std::string>{"db-0", "db-1", "db-2"}));
  const auto status = [this] {
    return store_.Get(Type("apps", "statefulsets"), "default", "db").value()->at("status").as_object();
  };
  EXPECT_EQ(status().at("readyReplicas"), 3);
  EXPECT_EQ(status().at("currentRevision"), status().at("updateRevision"));

  auto updated = store_.Mutate(Type("apps", "statefulsets"), "default", "db", [](const json::object& current) {
    json::object next = current;
    next["spec"]
        .as_object()["template"]
        .as_object()["spec"]
        .as_object()["containers"]
        .as_array()[0]
        .as_object()["image"] = "pg:2";
    return ApiResult<json::object>(next);
  });
  ASSERT_TRUE(updated.ok());
  Settle();
  // The highest ordinal goes first.
  EXPECT_EQ(names(), (std::vector<std::string>{"db-0", "db-1", "db-2"}));
  EXPECT_EQ(Pods()[2].at("spec").at("containers").at(0).at("image"), "pg:2");
  EXPECT_EQ(Pods()[0].at("spec").at("containers").at(0).at("image"), "pg:1");
  EXPECT_NE(status().at("currentRevision"), status().at("updateRevision"));
  for (int i = 0; i < 3; ++i) {
    now_ += milliseconds(1000);
    Settle();
  }
  for (const auto& pod : Pods()) EXPECT_EQ(pod.at("spec").at("containers").at(0).at("image"), "pg:2");
  EXPECT_EQ(status().at("currentRevision"), status().at("updateRevision"));
  EXPECT_EQ(status().at("updatedReplicas"), 3);
}

TEST_F(WorkloadControllerTest, DaemonSetRunsOnePodAndReplacesIt) {
  json::object ds = json::parse(R"({"metadata":{"name":"agent"},"spec":{"selector":{"matchLabels":{"app":"a"}},
      "template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"a:1"}]}}}})")
                        .as_object();
  ApplyDefaults(Type("apps", "daemonsets"), ds);
  ASSERT_TRUE(store_.Create(Type("apps", "daemonsets"), "default", std::move(ds)).ok());
  Settle();
  now_ += milliseconds(1000);
  Settle();
  ASSERT_EQ(Pods().size(), 1u);
  const std::string first(Pods()[0].at("metadata").at("name").as_string());
  auto status = store_.Get(Type("apps", "daemonsets"), "default", "agent").value()->at("status");
  EXPECT_EQ(status.at("numberAvailable"), 1);
  EXPECT_EQ(status.at("updatedNumberScheduled"), 1);

  ASSERT_TRUE(store_
                  .Mutate(Type("apps", "daemonsets"), "default", "agent",
                          [](const json::object& current) {
                            json::object next = current;
                            next["spec"].as_object()["template"].as_object()["metadata"].as_object()["annotations"] =
                                json::object{{"kubectl.kubernetes.io/restartedAt", "now"}};
                            return ApiResult<json::object>(next);
                          })
                  .ok());
  Settle();
  ASSERT_EQ(Pods().size(), 1u);
  EXPECT_NE(Pods()[0].at("metadata").at("name").as_string(), first);
  ASSERT_TRUE(store_.Delete(Type("apps", "daemonsets"), "default", "agent").ok());
  Settle();
  EXPECT_TRUE(Pods().empty());
}

TEST(PodTemplateHashTest, IgnoresKeyOrderAndSeesChanges) {
  auto a = json::parse(R"({"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"i"}]}})");
  auto b = json::parse(R"({"spec":{"containers":[{"image":"i","name":"c"}]},"metadata":{"labels":{"app":"x"}}})");
  auto c = json::parse(R"({"metadata":{"labels":{"app":"x"},"annotations":{"kubectl.kubernetes.io/restartedAt":"t"}},
      "spec":{"containers":[{"name":"c","image":"i"}]}})");
  EXPECT_EQ(PodTemplateHash(a), PodTemplateHash(b));
  EXPECT_NE(PodTemplateHash(a), PodTemplateHash(c));
  EXPECT_EQ(PodTemplateHash(a).find_first_of("aeiou013"), std::string::npos);
}

}  // namespace
}  // namespace vmesh::kubesim
