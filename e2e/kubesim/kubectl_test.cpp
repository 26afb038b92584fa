// The real kubectl against a kubesim child process: what SPEC §11 means by "faithful enough".
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <regex>
#include <thread>

#include "common/base/test_paths.h"
#include "e2e/kubesim/test_cluster.h"

namespace vmesh::kubesim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kAppManifest = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web}
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:IMAGE_TAG
        ports:
        - containerPort: 80
)";

constexpr const char* kPods = R"(apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, labels: {app: web, tier: front}}
spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, labels: {app: db}}
spec: {containers: [{name: db, image: postgres}]}
)";

std::string AppManifest(const std::string& tag) {
  return std::regex_replace(kAppManifest, std::regex("IMAGE_TAG"), tag);
}

class KubectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(FindKubectl().empty()) << "kubectl is not installed (scripts/setup warns of it)";
    StartCluster({});
  }

  void StartCluster(const std::vector<std::string>& args, const std::string& name = "kubesim") {
    Status s = cluster_.Start(KUBESIM_BINARY, name, args);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  // Runs kubectl and expects success; returns its output.
  std::string Ok(const std::vector<std::string>& args) {
    ProcessOutput out = cluster_.Kubectl(args);
    std::string command;
    for (const auto& a : args) command += " " + a;
    EXPECT_EQ(out.exit_code, 0) << "kubectl" << command << ":\n" << out.output;
    EXPECT_FALSE(out.timed_out) << "kubectl" << command;
    return out.output;
  }

  std::string Apply(const std::string& file_name, const std::string& manifest) {
    auto path = cluster_.WriteFile(file_name, manifest);
    EXPECT_TRUE(path.ok());
    return Ok({"apply", "-f", *path});
  }

  TestCluster cluster_;
};

TEST_F(KubectlTest, GetNamespacesListsTheSystemNamespaces) {
  std::string out = Ok({"get", "namespaces"});
  EXPECT_NE(out.find("NAME              STATUS   AGE"), std::string::npos) << out;
  EXPECT_NE(out.find("default           Active"), std::string::npos) << out;
  EXPECT_NE(out.find("default"), std::string::npos) << out;
  EXPECT_NE(out.find("kube-system"), std::string::npos) << out;
  EXPECT_EQ(Ok({"get", "namespace", "default", "-o", "jsonpath={.status.phase}"}), "Active");
  EXPECT_EQ(Ok({"version", "-o", "json"}).find("\"gitVersion\": \"v1.32.0-kubesim\"") != std::string::npos, true);
}

TEST_F(KubectlTest, ApplyCreatesThenConfiguresThenLeavesUnchanged) {
  std::string created = Apply("app.yaml", AppManifest("1.25"));
  EXPECT_NE(created.find("configmap/settings created"), std::string::npos) << created;
  EXPECT_NE(created.find("deployment.apps/web created"), std::string::npos) << created;

  std::string yaml = Ok({"get", "configmap", "settings", "-o", "yaml"});
  EXPECT_NE(yaml.find("greeting: hello"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("kubectl.kubernetes.io/last-applied-configuration"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("resourceVersion:"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("uid:"), std::string::npos) << yaml;

  // A changed image is a strategic merge patch on the container list: the port must survive.
  std::string configured = Apply("app.yaml", AppManifest("1.26"));
  EXPECT_NE(configured.find("configmap/settings unchanged"), std::string::npos) << configured;
  EXPECT_NE(configured.find("deployment.apps/web configured"), std::string::npos) << configured;
  EXPECT_EQ(Ok({"get", "deployment", "web", "-o",
                "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0]."
                "containerPort} {.metadata.generation}"}),
            "nginx:1.26 80 2");

  // Once the rollout has settled, only a real change may produce a new resourceVersion.
  Ok({"rollout", "status", "deployment/web", "--timeout=60s"});
  std::string rv_before = Ok({"get", "deployment", "web", "-o", "jsonpath={.metadata.resourceVersion}"});
  std::string unchanged = Apply("app.yaml", AppManifest("1.26"));
  EXPECT_NE(unchanged.find("deployment.apps/web unchanged"), std::string::npos) << unchanged;
  EXPECT_EQ(Ok({"get", "deployment", "web", "-o", "jsonpath={.metadata.resourceVersion}"}), rv_before);
}

TEST_F(KubectlTest, ServerSideApplyOwnsFieldsAndReportsConflicts) {
  auto app = cluster_.WriteFile("app.yaml", AppManifest("1.25"));
  ASSERT_TRUE(app.ok());
  std::string applied = Ok({"apply", "--server-side", "-f", *app});
  EXPECT_NE(applied.find("configmap/settings serverside-applied"), std::string::npos) << applied;
  EXPECT_NE(applied.find("deployment.apps/web serverside-applied"), std::string::npos) << applied;
  std::string managers = Ok({"get", "configmap", "settings", "-o", "jsonpath={.metadata.managedFields[*].manager}"});
  EXPECT_EQ(managers, "kubectl");

  std::string rv = Ok({"get", "configmap", "settings", "-o", "jsonpath={.metadata.resourceVersion}"});
  Ok({"apply", "--server-side", "-f", *app});
  EXPECT_EQ(Ok({"get", "configmap", "settings", "-o", "jsonpath={.metadata.resourceVersion}"}), rv);

  auto other = cluster_.WriteFile(
      "replicas.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 4}\n");
  ASSERT_TRUE(other.ok());
  ProcessOutput conflict = cluster_.Kubectl({"apply", "--server-side", "--field-manager=autoscaler", "-f", *other});
  EXPECT_NE(conflict.exit_code, 0);
  EXPECT_NE(
      conflict.output.find("Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"),
      std::string::npos)
      << conflict.output;
  Ok({"apply", "--server-side", "--field-manager=autoscaler", "--force-conflicts", "-f", *other});
  EXPECT_EQ(Ok({"get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"}), "4");
}

TEST_F(KubectlTest, ServerDryRunAndDiff) {
  auto app = cluster_.WriteFile("app.yaml", AppManifest("1.25"));
  ASSERT_TRUE(app.ok());
  EXPECT_NE(Ok({"apply", "--dry-run=server", "-f", *app}).find("configmap/settings created (server dry run)"),
            std::string::npos);
  ProcessOutput none = cluster_.Kubectl({"get", "configmap", "settings"});
  EXPECT_NE(none.exit_code, 0) << none.output;
  Ok({"apply", "-f", *app});

  auto changed = cluster_.WriteFile("app2.yaml", AppManifest("1.26"));
  ASSERT_TRUE(changed.ok());
  ProcessOutput diff = cluster_.Kubectl({"diff", "-f", *changed});
  EXPECT_EQ(diff.exit_code, 1) << diff.output;  // 1: differences found
  EXPECT_NE(diff.output.find("-      - image: nginx:1.25"), std::string::npos) << diff.output;
  EXPECT_NE(diff.output.find("+      - image: nginx:1.26"), std::string::npos) << diff.output;
  EXPECT_EQ(cluster_.Kubectl({"diff", "-f", *app}).exit_code, 0);

  EXPECT_NE(Ok({"delete", "configmap", "settings", "--dry-run=server"}).find("(server dry run)"), std::string::npos);
  EXPECT_EQ(Ok({"get", "configmap", "settings", "-o", "name"}), "configmap/settings\n");
}

TEST_F(KubectlTest, ClientSideThenServerSideApplyMigratesOwnership) {
  Apply("app.yaml", AppManifest("1.25"));
  auto app = cluster_.WriteFile("app.yaml", AppManifest("1.26"));
  ASSERT_TRUE(app.ok());
  std::string out = Ok({"apply", "--server-side", "-f", *app});
  EXPECT_EQ(out.find("Warning"), std::string::npos) << out;  // kubectl's JSON-patch migration was accepted
  EXPECT_EQ(Ok({"get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"}), "nginx:1.26");
  // kubectl rewrites the client-side apply manager's entry into its own (via a JSON patch).
  std::string managers = Ok({"get", "deployment", "web", "-o", "jsonpath={.metadata.managedFields[*].manager}"});
  EXPECT_NE(managers.find("kubectl"), std::string::npos) << managers;
  EXPECT_EQ(managers.find("kubectl-client-side-apply"), std::string::npos) << managers;
}

TEST_F(KubectlTest, CreateAndDeleteNamespace) {
  EXPECT_NE(Ok({"create", "namespace", "team-a"}).find("namespace/team-a created"), std::string::npos);
  EXPECT_NE(Ok({"get", "namespaces"}).find("team-a"), std::string::npos);
  auto path = cluster_.WriteFile("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n");
  ASSERT_TRUE(path.ok());
  Ok({"apply", "-n", "team-a", "-f", *path});
  EXPECT_EQ(Ok({"get", "configmap", "c", "-n", "team-a", "-o", "jsonpath={.data.k}"}), "v");

  ProcessOutput again = cluster_.Kubectl({"create", "namespace", "team-a"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("AlreadyExists"), std::string::npos) << again.output;

  EXPECT_NE(Ok({"delete", "namespace", "team-a"}).find("namespace \"team-a\" deleted"), std::string::npos);
  ProcessOutput missing = cluster_.Kubectl({"get", "configmap", "c", "-n", "team-a"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("NotFound"), std::string::npos) << missing.output;

  ProcessOutput no_namespace = cluster_.Kubectl({"apply", "-n", "nowhere", "-f", *path});
  EXPECT_NE(no_namespace.exit_code, 0);
  EXPECT_NE(no_namespace.output.find("namespaces \"nowhere\" not found"), std::string::npos) << no_namespace.output;
}

// kubectl's typed clients send protobuf bodies.
TEST_F(KubectlTest, CreateSubcommands) {
  EXPECT_NE(Ok({"create", "configmap", "c", "--from-literal=k=v"}).find("configmap/c created"), std::string::npos);
  EXPECT_EQ(Ok({"get", "configmap", "c", "-o", "jsonpath={.data.k}"}), "v");
  Ok({"create", "secret", "generic", "s", "--from-literal=password=hunter2"});
  EXPECT_EQ(Ok({"get", "secret", "s", "-o", "jsonpath={.data.password} {.type}"}), "aHVudGVyMg== Opaque");
  Ok({"create", "serviceaccount", "robot"});
  EXPECT_EQ(Ok({"get", "serviceaccount", "robot", "-o", "name"}), "serviceaccount/robot\n");
  Ok({"create", "deployment", "web", "--image=nginx:1.25", "--replicas=3", "--port=80"});
  EXPECT_EQ(Ok({"get", "deployment", "web", "-o",
                "jsonpath={.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.spec.containers[0].image} "
                "{.spec.template.spec.containers[0].ports[0].containerPort}"}),
            "3 web nginx:1.25 80");
}

TEST_F(KubectlTest, LabelSelectorsAndLabelCommand) {
  Apply("pods.yaml", kPods);
  std::string web = Ok({"get", "pods", "-l", "app=web", "-o", "name"});
  EXPECT_EQ(web, "pod/web-1\npod/web-2\n");
  EXPECT_EQ(Ok({"get", "pods", "-l", "app!=web", "-o", "name"}), "pod/db-1\n");
  EXPECT_EQ(Ok({"get", "pods", "-l", "app in (db,cache)", "-o", "name"}), "pod/db-1\n");
  EXPECT_EQ(Ok({"get", "pods", "-l", "app,!tier", "-o", "name"}), "pod/db-1\npod/web-1\n");
  EXPECT_EQ(Ok({"get", "pods", "--field-selector", "metadata.name=web-2", "-o", "name"}), "pod/web-2\n");

  EXPECT_NE(Ok({"label", "pod", "db-1", "tier=back"}).find("pod/db-1 labeled"), std::string::npos);
  EXPECT_EQ(Ok({"get", "pods", "-l", "tier", "-o", "name"}), "pod/db-1\npod/web-2\n");
  Ok({"label", "pod", "db-1", "tier-"});
  EXPECT_EQ(Ok({"get", "pods", "-l", "tier", "-o", "name"}), "pod/web-2\n");
  ProcessOutput clash = cluster_.Kubectl({"label", "pod", "web-2", "tier=back"});
  EXPECT_NE(clash.exit_code, 0);  // kubectl refuses to overwrite without --overwrite
  Ok({"label", "pod", "web-2", "tier=back", "--overwrite"});
  EXPECT_EQ(Ok({"get", "pod", "web-2", "-o", "jsonpath={.metadata.labels.tier}"}), "back");

  EXPECT_NE(Ok({"annotate", "pod", "web-1", "owner=team-a"}).find("pod/web-1 annotated"), std::string::npos);
  EXPECT_EQ(Ok({"get", "pod", "web-1", "-o", "jsonpath={.metadata.annotations.owner}"}), "team-a");

  std::string all = Ok({"get", "pods", "--all-namespaces", "-o", "name"});
  EXPECT_EQ(all, "pod/db-1\npod/web-1\npod/web-2\n");
  EXPECT_NE(Ok({"get", "pods", "-l", "app=nothing"}).find("No resources found"), std::string::npos);
}

TEST_F(KubectlTest, PatchTypes) {
  Apply("app.yaml", AppManifest("1.25"));
  Ok({"patch", "configmap", "settings", "--type=merge", "-p", R"({"data":{"greeting":"hi","extra":"1"}})"});
  EXPECT_EQ(Ok({"get", "configmap", "settings", "-o", "jsonpath={.data.greeting}/{.data.extra}"}), "hi/1");
  Ok({"patch", "configmap", "settings", "--type=json", "-p", R"([{"op":"remove","path":"/data/extra"}])"});
  EXPECT_EQ(Ok({"get", "configmap", "settings", "-o", "jsonpath={.data}"}), R"({"greeting":"hi"})");
  Ok({"patch", "deployment", "web", "-p",
      R"({"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}})"});
  EXPECT_EQ(Ok({"get", "deployment", "web", "-o",
                "jsonpath={.spec.template.spec.containers[0].image} "
                "{.spec.template.spec.containers[0].ports[0].containerPort}"}),
            "nginx:2 80");
}

TEST_F(KubectlTest, WatchSeesAnUpdate) {
  Apply("app.yaml", AppManifest("1.25"));
  ChildProcess watch;
  ASSERT_TRUE(
      cluster_
          .StartKubectl(watch, {"get", "configmap", "settings", "--watch", "-o", "jsonpath={.data.greeting}{\"\\n\"}"})
          .ok());
  ASSERT_TRUE(watch.WaitForOutput("hello\n", seconds(20))) << watch.output();
  Ok({"patch", "configmap", "settings", "--type=merge", "-p", R"({"data":{"greeting":"bonjour"}})"});
  EXPECT_TRUE(watch.WaitForOutput("bonjour\n", seconds(20))) << watch.output();
  watch.Terminate();

  // --output-watch-events shows the event types.
  ChildProcess events;
  ASSERT_TRUE(cluster_.StartKubectl(events, {"get", "configmaps", "--watch", "--output-watch-events"}).ok());
  ASSERT_TRUE(events.WaitForOutput("ADDED      settings", seconds(20))) << events.output();
  Ok({"delete", "configmap", "settings"});
  EXPECT_TRUE(events.WaitForOutput("DELETED    settings", seconds(20))) << events.output();
  events.Terminate();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

TEST_F(KubectlTest, RolloutRestartReplacesEveryPod) {
  Apply("app.yaml", AppManifest("1.25"));
  std::string status = Ok({"rollout", "status", "deployment/web", "--timeout=60s"});
  EXPECT_NE(status.find("deployment \"web\" successfully rolled out"), std::string::npos) << status;
  std::vector<std::string> before = Lines(Ok({"get", "pods", "-l", "app=web", "-o", "name"}));
  ASSERT_EQ(before.size(), 2u);
  EXPECT_EQ(Ok({"get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.phase}"}), "Running Running");
  // Server-side printing: the columns kubectl users know.
  std::string table = Ok({"get", "pods", "-l", "app=web"});
  EXPECT_NE(table.find("READY   STATUS    RESTARTS"), std::string::npos) << table;
  EXPECT_NE(table.find("1/1     Running   0"), std::string::npos) << table;
  std::string deployments = Ok({"get", "deployments"});
  EXPECT_NE(deployments.find("web    2/2     2            2"), std::string::npos) << deployments;

  EXPECT_NE(Ok({"rollout", "restart", "deployment/web"}).find("deployment.apps/web restarted"), std::string::npos);
  status = Ok({"rollout", "status", "deployment/web", "--timeout=60s"});
  EXPECT_NE(status.find("successfully rolled out"), std::string::npos) << status;
  std::vector<std::string> after = Lines(Ok({"get", "pods", "-l", "app=web", "-o", "name"}));
  ASSERT_EQ(after.size(), 2u) << Ok({"get", "pods"});
  for (const auto& pod : after) EXPECT_EQ(std::count(before.begin(), before.end(), pod), 0) << pod;
  EXPECT_EQ(Ok({"get", "deployment", "web", "-o",
                "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision} {.status.updatedReplicas}"}),
            "2 2");

  EXPECT_NE(Ok({"scale", "deployment/web", "--replicas=3"}).find("deployment.apps/web scaled"), std::string::npos);
  Ok({"rollout", "status", "deployment/web", "--timeout=60s"});
  EXPECT_EQ(Lines(Ok({"get", "pods", "-l", "app=web", "-o", "name"})).size(), 3u);

  Ok({"delete", "deployment", "web"});
  std::string left;
  for (int i = 0; i < 50; ++i) {
    left = Ok({"get", "pods,replicasets", "-o", "name"});
    if (left.empty()) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(left, "");  // garbage-collected with their owner
}

TEST_F(KubectlTest, StatefulSetAndDaemonSetRollouts) {
  Apply("sets.yaml", R"(apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:15}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: agent:1}]}
)");
  EXPECT_NE(Ok({"rollout", "status", "statefulset/db", "--timeout=60s"}).find("rolling update complete 2 pods"),
            std::string::npos);
  EXPECT_NE(Ok({"rollout", "status", "daemonset/agent", "--timeout=60s"}).find("successfully rolled out"),
            std::string::npos);
  EXPECT_EQ(Ok({"get", "pods", "-l", "app=db", "-o", "name"}), "pod/db-0\npod/db-1\n");
  std::string agent_before = Ok({"get", "pods", "-l", "app=agent", "-o", "name"});
  Ok({"rollout", "restart", "daemonset/agent"});
  EXPECT_NE(Ok({"rollout", "status", "daemonset/agent", "--timeout=60s"}).find("successfully rolled out"),
            std::string::npos);
  std::string agent_after = Ok({"get", "pods", "-l", "app=agent", "-o", "name"});
  EXPECT_EQ(Lines(agent_after).size(), 1u) << agent_after;
  EXPECT_NE(agent_after, agent_before);
}

TEST_F(KubectlTest, DeleteRemovesObjects) {
  Apply("app.yaml", AppManifest("1.25"));
  EXPECT_NE(Ok({"delete", "configmap", "settings"}).find("configmap \"settings\" deleted"), std::string::npos);
  EXPECT_NE(Ok({"delete", "deployment", "web"}).find("deployment.apps \"web\" deleted"), std::string::npos);
  ProcessOutput gone = cluster_.Kubectl({"get", "configmap", "settings"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.output.find("Error from server (NotFound): configmaps \"settings\" not found"), std::string::npos)
      << gone.output;
  ProcessOutput again = cluster_.Kubectl({"delete", "configmap", "settings"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("NotFound"), std::string::npos) << again.output;
}

TEST_F(KubectlTest, ChunkedListFollowsContinueTokens) {
  std::string manifest;
  for (int i = 0; i < 5; ++i) {
    manifest += "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-" + std::to_string(i) + "}\n---\n";
  }
  Apply("many.yaml", manifest);
  ProcessOutput out = cluster_.Kubectl({"get", "configmaps", "--chunk-size=2", "-o", "name", "-v=6"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  for (int i = 0; i < 5; ++i) EXPECT_NE(out.output.find("configmap/cm-" + std::to_string(i)), std::string::npos);
  EXPECT_NE(out.output.find("limit=2"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("continue="), std::string::npos) << out.output;
}

TEST_F(KubectlTest, ReplaceWithStaleResourceVersionConflicts) {
  Apply("app.yaml", AppManifest("1.25"));
  auto stale =
      cluster_.WriteFile("stale.yaml",
                         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, resourceVersion: \"1\"}\n"
                         "data: {greeting: stale}\n");
  ASSERT_TRUE(stale.ok());
  ProcessOutput out = cluster_.Kubectl({"replace", "-f", *stale});
  EXPECT_NE(out.exit_code, 0);
  EXPECT_NE(out.output.find("Conflict"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("the object has been modified"), std::string::npos) << out.output;
  EXPECT_EQ(Ok({"get", "configmap", "settings", "-o", "jsonpath={.data.greeting}"}), "hello");
}

TEST_F(KubectlTest, RawWatchStreamsBookmarksAndExpires) {
  cluster_.server().Terminate();
  TestCluster small;
  ASSERT_TRUE(
      small.Start(KUBESIM_BINARY, "small", {"--event-log-capacity", "4", "--bookmark-interval-ms", "200"}).ok());
  std::string rv = [&] {
    ProcessOutput out = small.Kubectl({"get", "--raw", "/api/v1/namespaces/default/configmaps"});
    return std::string(boost::json::parse(out.output).at("metadata").at("resourceVersion").as_string());
  }();
  ProcessOutput created = small.Kubectl({"create", "configmap", "one", "--from-literal=k=v"});
  ASSERT_EQ(created.exit_code, 0) << created.output;

  ProcessOutput watch = small.Kubectl({"get", "--raw",
                                       "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + rv +
                                           "&allowWatchBookmarks=true&timeoutSeconds=1"});
  EXPECT_EQ(watch.exit_code, 0) << watch.output;
  EXPECT_NE(watch.output.find(R"({"type":"ADDED","object":{)"), std::string::npos) << watch.output;
  EXPECT_NE(watch.output.find(R"("type":"BOOKMARK")"), std::string::npos) << watch.output;

  for (int i = 0; i < 5; ++i) small.Kubectl({"create", "configmap", "more-" + std::to_string(i)});
  ProcessOutput expired = small.Kubectl(
      {"get", "--raw", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + rv + "&timeoutSeconds=5"});
  EXPECT_NE(expired.output.find(R"("type":"ERROR")"), std::string::npos) << expired.output;
  EXPECT_NE(expired.output.find(R"("code":410)"), std::string::npos) << expired.output;
  EXPECT_NE(expired.output.find("too old resource version"), std::string::npos) << expired.output;
}

TEST_F(KubectlTest, SeedsAreLoadedWithTheClusterName) {
  auto seed = cluster_.WriteFile("seed.yaml", R"(apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data: {mesh: "trustDomain: ${CLUSTER_NAME}.local"}
)");
  ASSERT_TRUE(seed.ok());
  cluster_.server().Terminate();
  TestCluster seeded;
  ASSERT_TRUE(seeded.Start(KUBESIM_BINARY, "east", {"--seed", *seed}).ok());
  ProcessOutput out =
      seeded.Kubectl({"get", "configmap", "istio", "-n", "istio-system", "-o", "jsonpath={.data.mesh}"});
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(out.output, "trustDomain: east.local");
  ProcessOutput context = seeded.Kubectl({"config", "current-context"});
  EXPECT_EQ(context.output, "east\n");
}

TEST_F(KubectlTest, IstioKindsFromCrds) {
  cluster_.server().Terminate();
  TestCluster istio;
  ASSERT_TRUE(istio.Start(KUBESIM_BINARY, "istio", {"--crds", testpaths::IstioCrdsFile()}).ok());
  auto se = istio.WriteFile("se.yaml", R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-api}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
)");
  ASSERT_TRUE(se.ok());
  auto run = [&](const std::vector<std::string>& args) {
    ProcessOutput out = istio.Kubectl(args);
    EXPECT_EQ(out.exit_code, 0) << out.output;
    return out.output;
  };
  EXPECT_NE(run({"apply", "-f", *se}).find("serviceentry.networking.istio.io/external-api created"), std::string::npos);
  EXPECT_EQ(run({"get", "se", "-o", "name"}), "serviceentry.networking.istio.io/external-api\n");
  std::string table = run({"get", "serviceentries"});  // the CRD's additionalPrinterColumns
  EXPECT_NE(table.find("NAME           HOSTS                 LOCATION        RESOLUTION   AGE"), std::string::npos)
      << table;
  EXPECT_NE(table.find("external-api   [\"api.example.com\"]   MESH_EXTERNAL   DNS"), std::string::npos) << table;
  EXPECT_NE(run({"api-resources", "--api-group=networking.istio.io"}).find("virtualservices"), std::string::npos);

  // Custom resources merge plainly: the ports list is replaced, not merged by key.
  auto changed = istio.WriteFile("se.yaml", R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-api}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 8443, name: https-alt, protocol: TLS}]
  resolution: NONE
)");
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(run({"apply", "--server-side", "-f", *changed}).find("serverside-applied"), std::string::npos);
  EXPECT_EQ(run({"get", "serviceentries.v1beta1.networking.istio.io", "external-api", "-o",
                 "jsonpath={.apiVersion} {.spec.resolution} {.spec.ports[*].number}"}),
            "networking.istio.io/v1beta1 NONE 8443");
}

// A CRD applied with kubectl is served at once: established, its kind applied, listed with its printer
// columns, validated against its schema, and gone with the CRD. Every step gets a fresh discovery cache, so
// what kubectl sees is what the server says now.
TEST_F(KubectlTest, CustomResourceDefinitionAtRunTime) {
  int step = 0;
  auto kubectl = [&](std::vector<std::string> args) {
    args.push_back("--cache-dir=" + cluster_.dir() + "/cache-" + std::to_string(++step));
    return cluster_.Kubectl(args);
  };
  auto run = [&](const std::vector<std::string>& args) {
    ProcessOutput out = kubectl(args);
    std::string command;
    for (const auto& a : args) command += " " + a;
    EXPECT_EQ(out.exit_code, 0) << "kubectl" << command << ":\n" << out.output;
    return out.output;
  };
  auto crd = cluster_.WriteFile("crd.yaml", R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gizmos.test.vmesh.dev
spec:
  group: test.vmesh.dev
  scope: Namespaced
  names: {plural: gizmos, singular: gizmo, kind: Gizmo, shortNames: [gz]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Mode, type: string, jsonPath: .spec.mode}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: First-Host, type: string, jsonPath: ".spec.hosts[*]"}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [mode]
            properties:
              mode: {type: string, enum: [fast, safe]}
              replicas: {type: integer, minimum: 0, maximum: 5, default: 1}
              hosts: {type: array, items: {type: string}}
          status:
            type: object
            properties:
              state: {type: string}
)");
  ASSERT_TRUE(crd.ok());
  EXPECT_NE(
      run({"apply", "-f", *crd}).find("customresourcedefinition.apiextensions.k8s.io/gizmos.test.vmesh.dev created"),
      std::string::npos);
  EXPECT_NE(run({"wait", "--for", "condition=established", "--timeout=20s", "crd/gizmos.test.vmesh.dev"})
                .find("condition met"),
            std::string::npos);

  std::string crds = run({"get", "crds"});
  EXPECT_NE(crds.find("NAME                    CREATED AT"), std::string::npos) << crds;
  EXPECT_NE(crds.find("gizmos.test.vmesh.dev   20"), std::string::npos) << crds;

  auto cr = cluster_.WriteFile("cr.yaml", R"(apiVersion: test.vmesh.dev/v1
kind: Gizmo
metadata: {name: g1}
spec: {mode: fast, hosts: [a.example.com, b.example.com]}
)");
  ASSERT_TRUE(cr.ok());
  EXPECT_NE(run({"apply", "-f", *cr}).find("gizmo.test.vmesh.dev/g1 created"), std::string::npos);
  std::string table = run({"get", "gizmos"});
  EXPECT_NE(table.find("NAME   MODE   REPLICAS   FIRST-HOST      AGE"), std::string::npos) << table;
  EXPECT_NE(table.find("g1     fast   1          a.example.com"), std::string::npos) << table;
  EXPECT_EQ(run({"get", "gz", "g1", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"}), "1 1");
  EXPECT_NE(run({"apply", "--server-side", "-f", *cr}).find("serverside-applied"), std::string::npos);

  // Refused by the schema, naming the field; an unknown field is refused by kubectl's Strict validation.
  auto bad = cluster_.WriteFile("bad.yaml", R"(apiVersion: test.vmesh.dev/v1
kind: Gizmo
metadata: {name: g2}
spec: {mode: turbo, replicas: 9}
)");
  ASSERT_TRUE(bad.ok());
  ProcessOutput refused = kubectl({"apply", "-f", *bad});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("The Gizmo \"g2\" is invalid"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("spec.mode: Unsupported value: \"turbo\": supported values: \"fast\", \"safe\""),
            std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("spec.replicas: Invalid value: 9"), std::string::npos) << refused.output;
  auto unknown = cluster_.WriteFile("unknown.yaml", R"(apiVersion: test.vmesh.dev/v1
kind: Gizmo
metadata: {name: g3}
spec: {mode: safe, turbo: true}
)");
  ASSERT_TRUE(unknown.ok());
  ProcessOutput strict = kubectl({"apply", "-f", *unknown});
  EXPECT_NE(strict.exit_code, 0);
  EXPECT_NE(strict.output.find("strict decoding error: unknown field \"spec.turbo\""), std::string::npos)
      << strict.output;
  ProcessOutput warned = kubectl({"apply", "--validate=warn", "-f", *unknown});
  EXPECT_EQ(warned.exit_code, 0) << warned.output;
  EXPECT_NE(warned.output.find("Warning: unknown field \"spec.turbo\""), std::string::npos) << warned.output;

  EXPECT_NE(run({"delete", "crd", "gizmos.test.vmesh.dev"}).find("deleted"), std::string::npos);
  ProcessOutput gone = kubectl({"get", "gizmos"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.output.find("the server doesn't have a resource type \"gizmos\""), std::string::npos) << gone.output;
}

// Leases as leader election writes them: MicroTime kept to the microsecond, HOLDER printed.
TEST_F(KubectlTest, Leases) {
  Ok({"create", "namespace", "vmesh"});
  Apply("lease.yaml", R"(apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: vmesh-hub, namespace: vmesh}
spec:
  holderIdentity: hub-0
  leaseDurationSeconds: 15
  acquireTime: "2026-12-03T13:51:18.123456Z"
  renewTime: "2026-12-03T13:51:18.123456Z"
  leaseTransitions: 0
)");
  std::string table = Ok({"get", "leases", "-n", "vmesh"});
  EXPECT_NE(table.find("NAME        HOLDER   AGE"), std::string::npos) << table;
  EXPECT_NE(table.find("vmesh-hub   hub-0"), std::string::npos) << table;
  EXPECT_EQ(
      Ok({"get", "lease", "vmesh-hub", "-n", "vmesh", "-o", "jsonpath={.spec.renewTime} {.spec.leaseDurationSeconds}"}),
      "2026-12-03T13:51:18.123456Z 15");
}

// The kinds the Helm charts install besides workloads: RBAC (cluster-scoped ClusterRoles and bindings), disruption
// budgets and network policies are stored and served like other built-ins (not enforced).
TEST_F(KubectlTest, RbacDisruptionBudgetsAndNetworkPolicies) {
  Ok({"create", "namespace", "vmesh"});
  std::string applied = Apply("rbac.yaml", R"(apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: ServiceAccount, name: hub, namespace: vmesh}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: leases, namespace: vmesh}
rules:
- {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, create, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: leases, namespace: vmesh}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: leases}
subjects: [{kind: ServiceAccount, name: hub, namespace: vmesh}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: hub, namespace: vmesh}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: hub}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: hub, namespace: vmesh}
spec:
  podSelector: {matchLabels: {app: hub}}
  policyTypes: [Ingress]
  ingress: [{ports: [{port: 9900, protocol: TCP}]}]
)");
  for (const char* created :
       {"clusterrole.rbac.authorization.k8s.io/reader created",
        "clusterrolebinding.rbac.authorization.k8s.io/reader created", "role.rbac.authorization.k8s.io/leases created",
        "rolebinding.rbac.authorization.k8s.io/leases created", "poddisruptionbudget.policy/hub created",
        "networkpolicy.networking.k8s.io/hub created"}) {
    EXPECT_NE(applied.find(created), std::string::npos) << created << "\n" << applied;
  }
  EXPECT_EQ(Ok({"get", "clusterrole", "reader", "-o", "jsonpath={.rules[0].verbs}"}), R"(["get","list"])");
  EXPECT_EQ(Ok({"get", "role", "leases", "-n", "vmesh", "-o", "jsonpath={.rules[0].resources[0]}"}), "leases");
  EXPECT_EQ(Ok({"get", "pdb", "hub", "-n", "vmesh", "-o", "jsonpath={.spec.maxUnavailable}"}), "1");
  EXPECT_EQ(Ok({"get", "netpol", "hub", "-n", "vmesh", "-o", "jsonpath={.spec.ingress[0].ports[0].port}"}), "9900");
  // Cluster-scoped: not found under a namespace path, listed without one.
  EXPECT_NE(Ok({"get", "clusterroles", "-o", "name"}).find("clusterrole.rbac.authorization.k8s.io/reader"),
            std::string::npos);
  Ok({"delete", "clusterrole", "reader"});
  ProcessOutput gone = cluster_.Kubectl({"get", "clusterrole", "reader"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.output.find("NotFound"), std::string::npos) << gone.output;
}

// kubectl (client-go's kubeconfig loader) sends credentials only over TLS, so over kubesim's plain HTTP it
// is refused; a client that sends the token (python3 here) is let in.
TEST_F(KubectlTest, BearerToken) {
  cluster_.server().Terminate();
  TestCluster secured;
  ASSERT_TRUE(secured.Start(KUBESIM_BINARY, "secured", {"--token", "t0ken"}).ok());
  ProcessOutput denied = secured.Kubectl({"get", "namespaces"});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.output.find("You must be logged in to the server"), std::string::npos) << denied.output;

  const std::string url = "http://127.0.0.1:" + std::to_string(secured.port()) + "/api/v1/namespaces/default";
  const char* kGet = R"(
import sys, urllib.request, urllib.error
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
try:
    print(urllib.request.urlopen(request).status)
except urllib.error.HTTPError as e:
    print(e.code)
)";
  EXPECT_EQ(RunProcess({"python3", "-c", kGet, url, "t0ken"}, seconds(20)).output, "200\n");
  EXPECT_EQ(RunProcess({"python3", "-c", kGet, url, "wrong"}, seconds(20)).output, "401\n");
}

TEST_F(KubectlTest, StopsCleanlyOnSigterm) {
  ChildProcess watch;
  ASSERT_TRUE(cluster_.StartKubectl(watch, {"get", "namespaces", "--watch"}).ok());
  ASSERT_TRUE(watch.WaitForOutput("kube-system", seconds(20))) << watch.output();
  EXPECT_EQ(cluster_.server().Terminate(seconds(5)), 0) << cluster_.server_output();
  // The open watch ends with the server; kubectl then exits on its own.
  EXPECT_GE(watch.Wait(seconds(10)), 0) << watch.output();
}

}  // namespace
}  // namespace vmesh::kubesim
