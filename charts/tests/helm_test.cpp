// The Helm charts (issue 14) with the real helm 3.17 (scripts/setup installs it; CMake's VMESH_HELM): lint, the
// rendered manifests checked against the Kubernetes API models and the vmesh CRDs, install / upgrade / uninstall
// against kubesim, and the charts' RBAC rules against the requests the hub's code makes.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/base/base64.h"
#include "common/base/test_paths.h"
#include "e2e/kubesim/test_cluster.h"

namespace vmesh::charts {
namespace {

namespace fs = std::filesystem;
using kubesim::ProcessOutput;
using kubesim::RunProcess;
using kubesim::TestCluster;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Source(const std::string& relative) { return testpaths::SourceDir() + "/" + relative; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Join(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += " " + a;
  return out;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// helm with its own HOME and cache/config/data directories, so tests run in parallel without sharing state.
class HelmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(VMESH_HELM, X_OK), 0) << "helm is not installed at " << VMESH_HELM << ": run ./scripts/setup";
    std::string tmpl = (fs::temp_directory_path() / "helm-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    home_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!home_.empty()) fs::remove_all(home_, ec);
  }

  ProcessOutput Helm(const std::vector<std::string>& args, const std::string& kubeconfig = "") {
    std::vector<std::string> argv = {VMESH_HELM};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env = {"HOME=" + home_, "HELM_CACHE_HOME=" + home_ + "/cache",
                                    "HELM_CONFIG_HOME=" + home_ + "/config", "HELM_DATA_HOME=" + home_ + "/data"};
    // Never the developer's cluster: an empty KUBECONFIG unless a kubesim's is given.
    env.push_back("KUBECONFIG=" + (kubeconfig.empty() ? home_ + "/no-kubeconfig" : kubeconfig));
    return RunProcess(argv, seconds(120), env);
  }

  // Runs helm and expects success; returns its output.
  std::string HelmOk(const std::vector<std::string>& args, const std::string& kubeconfig = "") {
    ProcessOutput out = Helm(args, kubeconfig);
    EXPECT_EQ(out.exit_code, 0) << "helm" << Join(args) << ":\n" << out.output;
    return out.output;
  }

  // `helm template` into a file; returns its path.
  std::string Render(const std::string& name, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"template"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOutput out = Helm(argv);
    EXPECT_EQ(out.exit_code, 0) << "helm" << Join(argv) << ":\n" << out.output;
    const std::string path = home_ + "/" + name;
    std::ofstream(path) << out.output;
    return path;
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = home_ + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  std::string home_;
};

const std::vector<std::string> kHubAllOptions = {
    "--set", "serviceMonitor.enabled=true",
    "--set", "rootKeyEncryptionKey.existingSecret=vmesh-kek",
    "--set", "advertiseHost=hub.example.com",
    "--set", "extraAdvertiseHosts={10.0.0.7}",
    "--set", "serve.identityTtl=12h",
    "--set", "serve.csrRatePerMinute=20",
    "--set", "extraArgs={--intermediate-ttl=24h}",
    "--set", "networkPolicy.apiFrom[0].namespaceSelector.matchLabels.name=monitoring"};

TEST_F(HelmTest, LintPassesForBothCharts) {
  HelmOk({"lint", "--strict", Source("charts/vmesh-hub")});
  HelmOk({"lint", "--strict", Source("charts/vmesh-hub"), "--namespace", "vmesh"});
  std::vector<std::string> all = {"lint", "--strict", Source("charts/vmesh-hub")};
  all.insert(all.end(), kHubAllOptions.begin(), kHubAllOptions.end());
  HelmOk(all);
  HelmOk({"lint", "--strict", Source("charts/vmesh-agent"), "--set", "cluster=cluster-1"});
  // The agent needs to know which cluster it is.
  ProcessOutput no_cluster = Helm({"lint", "--strict", Source("charts/vmesh-agent")});
  EXPECT_NE(no_cluster.exit_code, 0);
  EXPECT_TRUE(Contains(no_cluster.output, "cluster")) << no_cluster.output;
}

// values.schema.json refuses what the binaries would refuse, before anything reaches a cluster.
TEST_F(HelmTest, ValuesSchemaRefusesBadValues) {
  struct Case {
    std::string chart;
    std::vector<std::string> sets;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"vmesh-hub", {"replicaCount=0"}, "replicaCount"},
      {"vmesh-hub", {"replicas=3"}, "replicas"},  // a typo is not silently ignored
      {"vmesh-hub", {"logLevel=loud"}, "logLevel"},
      {"vmesh-hub", {"leaderElection.leaseDuration=15"}, "leaseDuration"},
      {"vmesh-hub", {"service.agent.type=External"}, "type"},
      {"vmesh-hub", {"hubName=Corp_Hub"}, "hubName"},
      {"vmesh-agent", {"cluster=Cluster_1"}, "cluster"},
      {"vmesh-agent", {"cluster=c1", "istioNamespaces={istio-system,istio-system}"}, "istioNamespaces"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {"template", "x", Source("charts/" + c.chart)};
    for (const auto& s : c.sets) argv.insert(argv.end(), {"--set", s});
    ProcessOutput out = Helm(argv);
    EXPECT_NE(out.exit_code, 0) << Join(argv) << " was accepted";
    EXPECT_TRUE(Contains(out.output, "values don't meet the specifications of the schema")) << out.output;
    EXPECT_TRUE(Contains(out.output, c.expected)) << out.output;
  }
}

// Every rendered object (the CRDs too) against the Kubernetes API models (k8s_schema_check.py): field names,
// types and required fields.
TEST_F(HelmTest, RenderedManifestsMatchTheKubernetesSchemas) {
  std::vector<std::string> files;
  files.push_back(
      Render("hub-defaults.yaml", {"vmesh-hub", Source("charts/vmesh-hub"), "-n", "vmesh", "--include-crds"}));
  std::vector<std::string> all = {"vmesh-hub", Source("charts/vmesh-hub"), "-n", "vmesh"};
  all.insert(all.end(), kHubAllOptions.begin(), kHubAllOptions.end());
  files.push_back(Render("hub-all.yaml", all));
  const std::string bundle = WriteFile("bundle.yaml", "cluster: cluster-1\nhubUrl: wss://hub.example.com:9900\n");
  files.push_back(Render("agent.yaml", {"vmesh-agent", Source("charts/vmesh-agent"), "-n", "vmesh-system", "--set",
                                        "cluster=cluster-1", "--set-file", "bootstrap.bundle=" + bundle, "--set",
                                        "istioNamespaces={istio-system,istio-canary}"}));
  files.push_back(Render("agent-existing.yaml",
                         {"vmesh-agent", Source("charts/vmesh-agent"), "-n", "vmesh-system", "--set", "cluster=c2",
                          "--set", "bootstrap.existingSecret=mine", "--set", "readCustomResourceDefinitions=false"}));
  std::vector<std::string> argv = {KUBESIM_PYTHON, Source("charts/tests/k8s_schema_check.py"), "--allow-kind",
                                   "monitoring.coreos.com/v1/ServiceMonitor"};
  argv.insert(argv.end(), files.begin(), files.end());
  ProcessOutput checked = RunProcess(argv, seconds(60));
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  // 14 (4 CRDs), 11 (the ServiceMonitor has no model here), 11 (two cacerts Roles), 7 (no bootstrap Secret).
  EXPECT_TRUE(Contains(checked.output, "checked 43 object(s)")) << checked.output;

  // The checker can fail: an unknown field, a wrong type and a missing required field.
  const std::string broken = WriteFile("broken.yaml", R"(apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: x}
spec: {maxUnavailable: 1, selectr: {}}
---
apiVersion: v1
kind: Service
metadata: {name: y}
spec: {ports: [{port: "9900"}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: z}
subjects: []
)");
  ProcessOutput refused = RunProcess({KUBESIM_PYTHON, Source("charts/tests/k8s_schema_check.py"), broken}, seconds(60));
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_TRUE(Contains(refused.output, "PodDisruptionBudget x: spec.selectr: unknown field")) << refused.output;
  EXPECT_TRUE(Contains(refused.output, "Service y: spec.ports[0].port: expected an integer")) << refused.output;
  EXPECT_TRUE(Contains(refused.output, "RoleBinding z: (top): Invalid value for `role_ref`")) << refused.output;
}

// ---- RBAC: the charts' rules against the requests the code makes ---------------------------------------------

// (scope, API group, resource, verb, resource name): scope is "cluster" or the namespace of a Role.
using Grant = std::tuple<std::string, std::string, std::string, std::string, std::string>;

std::string Describe(const std::set<Grant>& grants) {
  std::string out;
  for (const auto& [scope, group, resource, verb, name] : grants) {
    out += "  " + scope + " " + (group.empty() ? "core" : group) + " " + resource + (name.empty() ? "" : "/" + name) +
           " " + verb + "\n";
  }
  return out;
}

// What the Roles and ClusterRoles of a rendered chart grant to `service_account` (ns/name) through their bindings.
std::set<Grant> GrantsOf(const std::string& rendered, const std::string& service_account) {
  std::map<std::pair<std::string, std::string>, YAML::Node> roles;  // (kind, namespace/name) -> rules
  std::vector<YAML::Node> bindings;
  for (const auto& doc : YAML::LoadAll(rendered)) {
    if (!doc.IsMap()) continue;
    const std::string kind = doc["kind"].as<std::string>();
    const std::string ns = doc["metadata"]["namespace"] ? doc["metadata"]["namespace"].as<std::string>() : "";
    const std::string name = doc["metadata"]["name"].as<std::string>();
    if (kind == "Role" || kind == "ClusterRole") roles[{kind, ns + "/" + name}] = doc["rules"];
    if (kind == "RoleBinding" || kind == "ClusterRoleBinding") bindings.push_back(doc);
  }
  std::set<Grant> grants;
  for (const auto& b : bindings) {
    bool bound = false;
    for (const auto& s : b["subjects"]) {
      bound |= s["kind"].as<std::string>() == "ServiceAccount" &&
               s["namespace"].as<std::string>() + "/" + s["name"].as<std::string>() == service_account;
    }
    EXPECT_TRUE(bound) << "binding " << b["metadata"]["name"] << " does not name " << service_account;
    const std::string ref_kind = b["roleRef"]["kind"].as<std::string>();
    const std::string ns = b["metadata"]["namespace"] ? b["metadata"]["namespace"].as<std::string>() : "";
    const std::string key = (ref_kind == "Role" ? ns : "") + "/" + b["roleRef"]["name"].as<std::string>();
    auto role = roles.find({ref_kind, key});
    EXPECT_NE(role, roles.end()) << "binding " << b["metadata"]["name"] << " refers to a missing " << ref_kind;
    if (role == roles.end() || !bound) continue;
    const std::string scope = b["kind"].as<std::string>() == "ClusterRoleBinding" ? "cluster" : ns;
    for (const auto& rule : role->second) {
      std::vector<std::string> names = {""};
      if (rule["resourceNames"]) names = rule["resourceNames"].as<std::vector<std::string>>();
      for (const auto& g : rule["apiGroups"])
        for (const auto& r : rule["resources"])
          for (const auto& v : rule["verbs"])
            for (const auto& n : names)
              grants.insert({scope, g.as<std::string>(), r.as<std::string>(), v.as<std::string>(), n});
    }
  }
  EXPECT_EQ(bindings.size(), roles.size()) << "every Role and ClusterRole is bound once";
  return grants;
}

// The requests of the hub's Kubernetes store and leader election, read from the code itself, so that a request
// added there fails this test until the chart grants it. Every call site of the client in those files must be one
// of the recognised forms (an unrecognised one fails the test, naming it).
std::set<Grant> HubRequestsFromTheCode(const std::string& hub_ns) {
  std::set<Grant> grants;
  auto group_of = [](const std::string& api_version) { return api_version == "\"v1\"" ? "" : "networking.vmesh.dev"; };

  // hub/store/kube_store.cpp: client_->Verb(Collection|Path(apiVersion, "resource"[, name])[ + "/status"], ...).
  const std::string store = ReadText(Source("hub/store/kube_store.cpp"));
  const std::regex call(
      R"re(client_->(Get|List|Create|Update|Delete)\((Collection|Path)\((kApiVersion|"v1"), "([a-z]+)"(?:, [^()]*(?:\([^()]*\))?)?\)( \+ "/status")?)re");
  const std::map<std::string, std::string> verbs = {
      {"Get", "get"}, {"List", "list"}, {"Create", "create"}, {"Update", "update"}, {"Delete", "delete"}};
  size_t recognised = 0;
  for (auto it = std::sregex_iterator(store.begin(), store.end(), call); it != std::sregex_iterator();
       ++it, ++recognised) {
    const auto& m = *it;
    grants.insert({hub_ns, group_of(m[3]), m[4].str() + (m[5].matched ? "/status" : ""), verbs.at(m[1]), ""});
  }
  // ReadObject(what, Path(apiVersion, "resource", name)) is the one client_->Get(path) with a computed path.
  const std::regex read(R"re(ReadObject\([^;]*?Path\((kApiVersion|"v1"), "([a-z]+)")re");
  for (auto it = std::sregex_iterator(store.begin(), store.end(), read); it != std::sregex_iterator(); ++it) {
    grants.insert({hub_ns, group_of((*it)[1]), (*it)[2], "get", ""});
  }
  ++recognised;  // client_->Get(path) inside ReadObject
  // Discovery of the vmesh group (which CRDs are served): allowed to every authenticated user, no rule needed.
  EXPECT_TRUE(Contains(store, "client_->Get(std::string(\"/apis/\") + kApiVersion)"));
  ++recognised;
  // The Cluster informer lists and watches.
  const std::regex informer(R"re(\.collection = Collection\((kApiVersion|"v1"), "([a-z]+)"\))re");
  for (auto it = std::sregex_iterator(store.begin(), store.end(), informer); it != std::sregex_iterator(); ++it) {
    grants.insert({hub_ns, group_of((*it)[1]), (*it)[2], "list", ""});
    grants.insert({hub_ns, group_of((*it)[1]), (*it)[2], "watch", ""});
  }
  const std::regex any_call(R"(client_->[A-Z][A-Za-z]*\()");
  const auto calls = std::distance(std::sregex_iterator(store.begin(), store.end(), any_call), std::sregex_iterator());
  EXPECT_EQ(static_cast<size_t>(calls), recognised) << "kube_store.cpp has a client call this test does not know";

  // hub/store/kube_objects.cpp: the kResources table; Call("METHOD", Collection|Target|collection ...).
  const std::string objects = ReadText(Source("hub/store/kube_objects.cpp"));
  const std::regex row(R"re(\{"(\w+)", (api::kNetworkingApiVersion|"v1"), "([a-z]+)", (true|false)\})re");
  // Call("METHOD", <target expression>...); — a GET of `collection` (a variable) is the list probe at Start().
  const std::regex method(R"re(Call\("(GET|POST|PUT|DELETE)", (\w+)([^;]*);)re");
  std::set<std::pair<std::string, bool>> requests;  // (verb, on /status)
  for (auto it = std::sregex_iterator(objects.begin(), objects.end(), method); it != std::sregex_iterator(); ++it) {
    const std::string m = (*it)[1], target = (*it)[2];
    const std::string verb = m == "POST"          ? "create"
                             : m == "PUT"         ? "update"
                             : m == "DELETE"      ? "delete"
                             : target == "Target" ? "get"
                                                  : "list";
    requests.insert({verb, Contains((*it)[3], "\"/status\"")});
  }
  const std::regex object_call(R"re(Call\(")re");
  EXPECT_EQ(std::distance(std::sregex_iterator(objects.begin(), objects.end(), object_call), std::sregex_iterator()),
            static_cast<long>(6))
      << "kube_objects.cpp: a new request form; extend this test";
  EXPECT_TRUE(Contains(objects, "std::make_unique<kube::Informer>(client_")) << "kube_objects.cpp: the informers";
  int rows = 0;
  for (auto it = std::sregex_iterator(objects.begin(), objects.end(), row); it != std::sregex_iterator();
       ++it, ++rows) {
    const bool custom = (*it)[4] == "true";
    const std::string scope = custom ? "cluster" : hub_ns;  // custom resources in all namespaces
    const std::string group = (*it)[2] == "\"v1\"" ? "" : "networking.vmesh.dev";
    for (const auto& [verb, status] : requests) {
      if (status && !custom) continue;  // only custom resources have /status
      grants.insert({scope, group, (*it)[3].str() + (status ? "/status" : ""), verb, ""});
    }
    grants.insert({scope, group, (*it)[3], "watch", ""});
    grants.insert({scope, group, (*it)[3], "list", ""});
  }
  EXPECT_EQ(rows, 3) << "kube_objects.cpp: VirtualMesh, AccessPolicy, Secret";

  // common/kube/leader_election.cpp: the Lease, read, created, renewed and released with updates.
  const std::string election = ReadText(Source("common/kube/leader_election.cpp"));
  EXPECT_TRUE(Contains(election, "ResourcePath(kLeaseApiVersion, \"leases\""));
  const std::regex lease_call(R"(client_\.([A-Z][A-Za-z]*)\()");
  for (auto it = std::sregex_iterator(election.begin(), election.end(), lease_call); it != std::sregex_iterator();
       ++it) {
    const std::string verb = (*it)[1];
    EXPECT_TRUE(verbs.count(verb)) << "leader_election.cpp: client_." << verb;
    if (verbs.count(verb)) grants.insert({hub_ns, "coordination.k8s.io", "leases", verbs.at(verb), ""});
  }
  return grants;
}

TEST_F(HelmTest, HubRbacGrantsExactlyWhatTheStoreAndLeaderElectionRequest) {
  const std::string rendered =
      ReadText(Render("hub.yaml", {"corp", Source("charts/vmesh-hub"), "-n", "mgmt", "--set", "replicaCount=2"}));
  const std::set<Grant> granted = GrantsOf(rendered, "mgmt/corp-vmesh-hub");
  const std::set<Grant> requested = HubRequestsFromTheCode("mgmt");
  // The same list, written out: what docs/hub-on-kubernetes.md and the chart's comments promise.
  const std::set<Grant> documented = {
      {"cluster", "networking.vmesh.dev", "virtualmeshes", "get", ""},
      {"cluster", "networking.vmesh.dev", "virtualmeshes", "list", ""},
      {"cluster", "networking.vmesh.dev", "virtualmeshes", "watch", ""},
      {"cluster", "networking.vmesh.dev", "virtualmeshes", "create", ""},
      {"cluster", "networking.vmesh.dev", "virtualmeshes", "update", ""},
      {"cluster", "networking.vmesh.dev", "virtualmeshes", "delete", ""},
      {"cluster", "networking.vmesh.dev", "virtualmeshes/status", "update", ""},
      {"cluster", "networking.vmesh.dev", "accesspolicies", "get", ""},
      {"cluster", "networking.vmesh.dev", "accesspolicies", "list", ""},
      {"cluster", "networking.vmesh.dev", "accesspolicies", "watch", ""},
      {"cluster", "networking.vmesh.dev", "accesspolicies", "create", ""},
      {"cluster", "networking.vmesh.dev", "accesspolicies", "update", ""},
      {"cluster", "networking.vmesh.dev", "accesspolicies", "delete", ""},
      {"cluster", "networking.vmesh.dev", "accesspolicies/status", "update", ""},
      {"mgmt", "networking.vmesh.dev", "clusters", "get", ""},
      {"mgmt", "networking.vmesh.dev", "clusters", "list", ""},
      {"mgmt", "networking.vmesh.dev", "clusters", "watch", ""},
      {"mgmt", "networking.vmesh.dev", "clusters", "create", ""},
      {"mgmt", "networking.vmesh.dev", "clusters/status", "update", ""},
      {"mgmt", "networking.vmesh.dev", "issuedcertificates", "list", ""},
      {"mgmt", "networking.vmesh.dev", "issuedcertificates", "create", ""},
      {"mgmt", "", "secrets", "get", ""},
      {"mgmt", "", "secrets", "list", ""},
      {"mgmt", "", "secrets", "watch", ""},
      {"mgmt", "", "secrets", "create", ""},
      {"mgmt", "", "secrets", "update", ""},
      {"mgmt", "", "secrets", "delete", ""},
      {"mgmt", "", "configmaps", "get", ""},
      {"mgmt", "", "configmaps", "create", ""},
      {"mgmt", "", "configmaps", "update", ""},
      {"mgmt", "coordination.k8s.io", "leases", "get", ""},
      {"mgmt", "coordination.k8s.io", "leases", "create", ""},
      {"mgmt", "coordination.k8s.io", "leases", "update", ""},
  };
  EXPECT_EQ(requested, documented) << "requested by the code:\n" << Describe(requested);
  EXPECT_EQ(granted, requested) << "granted by the chart:\n"
                                << Describe(granted) << "requested:\n"
                                << Describe(requested);
}

// The agent's rules: README's "RBAC the agent needs" table, derived from agent/discovery, agent/certs,
// agent/apply, agent/restart and agent/runtime. The state namespace is the release namespace (which exists, so
// the agent never creates it); one cacerts Role per Istio namespace.
TEST_F(HelmTest, AgentRbacGrantsWhatTheAgentRequests) {
  const std::string rendered =
      ReadText(Render("agent.yaml", {"vmesh-agent", Source("charts/vmesh-agent"), "-n", "vmesh-system", "--set",
                                     "cluster=c1", "--set", "istioNamespaces={istio-system,istio-canary}"}));
  std::set<Grant> expected;
  auto add = [&](const std::string& scope, const std::string& group, std::vector<std::string> resources,
                 std::vector<std::string> verbs, const std::string& name = "") {
    for (const auto& r : resources)
      for (const auto& v : verbs) expected.insert({scope, group, r, v, name});
  };
  add("cluster", "", {"namespaces", "nodes", "pods", "services", "endpoints", "configmaps"}, {"get", "list", "watch"});
  add("cluster", "apps", {"deployments", "statefulsets", "daemonsets"}, {"get", "list", "watch", "patch"});
  add("cluster", "apiextensions.k8s.io", {"customresourcedefinitions"}, {"get", "list", "watch"});
  add("cluster", "networking.istio.io", {"serviceentries", "destinationrules", "gateways"},
      {"get", "list", "create", "patch", "delete"});
  add("cluster", "security.istio.io", {"authorizationpolicies"}, {"get", "list", "create", "patch", "delete"});
  add("vmesh-system", "", {"secrets"}, {"get", "create", "update", "patch"});
  add("vmesh-system", "", {"configmaps"}, {"get", "create", "patch"});
  for (const std::string ns : {"istio-system", "istio-canary"}) {
    add(ns, "", {"secrets"}, {"get", "update"}, "cacerts");
    add(ns, "", {"secrets"}, {"create"});
  }
  const std::set<Grant> granted = GrantsOf(rendered, "vmesh-system/vmesh-agent");
  EXPECT_EQ(granted, expected) << "granted by the chart:\n" << Describe(granted);

  // The plain README table names the same resources.
  const std::string readme = ReadText(Source("README.md"));
  for (const char* resource : {"`namespaces`", "`deployments`", "`serviceentries`", "`authorizationpolicies`",
                               "`secrets` in the state namespace", "`configmaps` in"}) {
    EXPECT_TRUE(Contains(readme, resource)) << resource;
  }
  // The agent code addresses exactly these kinds (a new one fails here until the chart and the table have it).
  std::set<std::string> resources_in_code;
  const std::regex path(R"re(ResourcePath\("(v1|apps/v1)", "([a-z]+)")re");
  for (const char* file :
       {"agent/runtime/state_objects.cpp", "agent/certs/certificate_manager.cpp", "agent/restart/restarter.cpp"}) {
    const std::string text = ReadText(Source(file));
    for (auto it = std::sregex_iterator(text.begin(), text.end(), path); it != std::sregex_iterator(); ++it) {
      resources_in_code.insert((*it)[2]);
    }
  }
  for (const auto& r : resources_in_code) {
    bool granted_somewhere = false;
    for (const auto& g : granted) granted_somewhere |= std::get<2>(g) == r;
    EXPECT_TRUE(granted_somewhere) << "the agent code addresses " << r << " but the chart grants nothing on it";
  }
}

// ---- Install, upgrade and uninstall against kubesim ------------------------------------------------------------

class HelmOnKubesimTest : public HelmTest {
 protected:
  void StartCluster(const std::vector<std::string>& args = {}) {
    ASSERT_FALSE(kubesim::FindKubectl().empty()) << "kubectl is needed to inspect kubesim";
    Status s = cluster_.Start(KUBESIM_BINARY, "mgmt", args);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  std::string HelmOn(const std::vector<std::string>& args) { return HelmOk(args, cluster_.kubeconfig()); }
  std::string Kubectl(const std::vector<std::string>& args) {
    ProcessOutput out = cluster_.Kubectl(args);
    EXPECT_EQ(out.exit_code, 0) << "kubectl" << Join(args) << ":\n" << out.output;
    return out.output;
  }
  bool Exists(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"get"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOutput out = cluster_.Kubectl(argv);
    if (out.exit_code != 0) {
      EXPECT_TRUE(Contains(out.output, "NotFound")) << out.output;
    }
    return out.exit_code == 0;
  }

  TestCluster cluster_;
};

TEST_F(HelmOnKubesimTest, HubInstallUpgradeUninstall) {
  StartCluster();
  const std::string installed = HelmOn({"install", "vmesh-hub", Source("charts/vmesh-hub"), "--namespace", "vmesh",
                                        "--create-namespace", "--set", "advertiseHost=hub.example.com"});
  EXPECT_TRUE(Contains(installed, "STATUS: deployed")) << installed;
  EXPECT_TRUE(Contains(installed, "kubectl -n vmesh get lease vmesh-hub")) << "NOTES.txt: " << installed;

  // The CRDs are served (their schemas now validate vmesh objects), and every object of the chart landed.
  for (const char* crd : {"virtualmeshes", "accesspolicies", "clusters", "issuedcertificates"}) {
    EXPECT_EQ(Kubectl({"get", "crd", std::string(crd) + ".networking.vmesh.dev", "-o",
                       "jsonpath={.status.conditions[?(@.type==\"Established\")].status}"}),
              "True")
        << crd;
  }
  EXPECT_EQ(Kubectl({"-n", "vmesh", "get", "deployment", "vmesh-hub", "-o",
                     "jsonpath={.spec.replicas} {.spec.template.spec.serviceAccountName} "
                     "{.spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath}"}),
            "3 vmesh-hub metadata.name");
  // Only the leader is ever Ready: a rollout may stop every old pod without waiting for new ones to be Ready.
  EXPECT_EQ(Kubectl({"-n", "vmesh", "get", "deployment", "vmesh-hub", "-o",
                     "jsonpath={.spec.strategy.type} {.spec.strategy.rollingUpdate.maxUnavailable}"}),
            "RollingUpdate 100%");
  const std::string args = Kubectl(
      {"-n", "vmesh", "get", "deployment", "vmesh-hub", "-o", "jsonpath={.spec.template.spec.containers[0].args}"});
  for (const char* flag : {"serve", "--store=kubernetes", "--namespace=vmesh", "--leader-elect-lease-duration=15s",
                           "--advertise-host=hub.example.com", "--agent-listen=0.0.0.0:9900"}) {
    EXPECT_TRUE(Contains(args, std::string("\"") + flag + "\"")) << flag << " in " << args;
  }
  EXPECT_EQ(Kubectl({"-n", "vmesh", "get", "service", "vmesh-hub-agent", "vmesh-hub-api", "-o",
                     "jsonpath={.items[*].spec.type} {.items[*].spec.ports[0].port}"}),
            "LoadBalancer ClusterIP 9900 9901");
  EXPECT_TRUE(Exists({"-n", "vmesh", "serviceaccount", "vmesh-hub"}));
  EXPECT_TRUE(Exists({"-n", "vmesh", "role", "vmesh-hub"}));
  EXPECT_TRUE(Exists({"-n", "vmesh", "rolebinding", "vmesh-hub"}));
  EXPECT_TRUE(Exists({"clusterrole", "vmesh-hub-vmesh"}));
  EXPECT_TRUE(Exists({"clusterrolebinding", "vmesh-hub-vmesh"}));
  EXPECT_TRUE(Exists({"-n", "vmesh", "networkpolicy", "vmesh-hub"}));
  EXPECT_EQ(Kubectl({"-n", "vmesh", "get", "pdb", "vmesh-hub", "-o", "jsonpath={.spec.maxUnavailable}"}), "1");
  // Helm's release record: a Secret of type helm.sh/release.v1, found by its labels.
  EXPECT_EQ(Kubectl({"-n", "vmesh", "get", "secrets", "-l", "owner=helm,name=vmesh-hub", "-o",
                     "jsonpath={.items[*].type} {.items[*].metadata.labels.status}"}),
            "helm.sh/release.v1 deployed");

  // With the CRDs in place the API server validates vmesh objects against their schemas.
  const std::string good = cluster_.WriteFile("vm.yaml", ReadText(Source("examples/virtualmesh.yaml"))).value();
  EXPECT_TRUE(Contains(Kubectl({"apply", "-f", good}), "virtualmesh.networking.vmesh.dev/demo created"));
  const std::string bad = cluster_
                              .WriteFile("bad.yaml", R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: bad, namespace: vmesh}
spec:
  globalAccessPolicy: SOMETIMES
)")
                              .value();
  ProcessOutput refused = cluster_.Kubectl({"apply", "-f", bad});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(Contains(refused.output, "spec.globalAccessPolicy")) << refused.output;

  // Upgrade: fewer replicas, another lease duration, no disruption budget, metrics scraped.
  const std::string upgraded =
      HelmOn({"upgrade", "vmesh-hub", Source("charts/vmesh-hub"), "--namespace", "vmesh", "--reuse-values", "--set",
              "replicaCount=2", "--set", "leaderElection.leaseDuration=20s", "--set",
              "podDisruptionBudget.enabled=false", "--set", "updateStrategy.type=Recreate"});
  EXPECT_TRUE(Contains(upgraded, "REVISION: 2")) << upgraded;
  EXPECT_EQ(Kubectl({"-n", "vmesh", "get", "deployment", "vmesh-hub", "-o", "jsonpath={.spec.replicas}"}), "2");
  const std::string new_args = Kubectl(
      {"-n", "vmesh", "get", "deployment", "vmesh-hub", "-o", "jsonpath={.spec.template.spec.containers[0].args}"});
  EXPECT_TRUE(Contains(new_args, "\"--leader-elect-lease-duration=20s\"")) << new_args;
  EXPECT_TRUE(Contains(new_args, "\"--advertise-host=hub.example.com\"")) << "--reuse-values kept it: " << new_args;
  EXPECT_FALSE(Exists({"-n", "vmesh", "pdb", "vmesh-hub"}));
  EXPECT_EQ(Kubectl({"-n", "vmesh", "get", "deployment", "vmesh-hub", "-o", "jsonpath={.spec.strategy}"}),
            R"({"type":"Recreate"})")
      << "the strategic merge patch removed rollingUpdate";
  EXPECT_TRUE(Contains(HelmOn({"history", "vmesh-hub", "--namespace", "vmesh"}), "Upgrade complete"));

  // Uninstall: every object of the release goes; the CRDs (and so the VirtualMesh) stay, as Helm keeps crds/.
  EXPECT_TRUE(Contains(HelmOn({"uninstall", "vmesh-hub", "--namespace", "vmesh"}), "uninstalled"));
  EXPECT_FALSE(Exists({"-n", "vmesh", "deployment", "vmesh-hub"}));
  EXPECT_FALSE(Exists({"-n", "vmesh", "service", "vmesh-hub-agent"}));
  EXPECT_FALSE(Exists({"-n", "vmesh", "service", "vmesh-hub-api"}));
  EXPECT_FALSE(Exists({"-n", "vmesh", "role", "vmesh-hub"}));
  EXPECT_FALSE(Exists({"clusterrole", "vmesh-hub-vmesh"}));
  EXPECT_FALSE(Exists({"clusterrolebinding", "vmesh-hub-vmesh"}));
  EXPECT_FALSE(Exists({"-n", "vmesh", "networkpolicy", "vmesh-hub"}));
  EXPECT_FALSE(Exists({"-n", "vmesh", "serviceaccount", "vmesh-hub"}));
  EXPECT_EQ(Kubectl({"-n", "vmesh", "get", "secrets", "-l", "owner=helm", "-o", "name"}), "");
  EXPECT_TRUE(Exists({"crd", "virtualmeshes.networking.vmesh.dev"}));
  EXPECT_TRUE(Exists({"-n", "vmesh", "virtualmesh", "demo"}));
}

TEST_F(HelmOnKubesimTest, AgentInstallUpgradeUninstall) {
  StartCluster({"--seed", Source("e2e/kubesim/seeds/istio.yaml")});
  const std::string bundle_text = "cluster: cluster-1\nhubUrl: wss://hub.example.com:9900\ntoken: t0ken\n";
  const std::string bundle = WriteFile("cluster-1.bundle.yaml", bundle_text);
  const std::string installed =
      HelmOn({"install", "vmesh-agent", Source("charts/vmesh-agent"), "--namespace", "vmesh-system",
              "--create-namespace", "--set", "cluster=cluster-1", "--set-file", "bootstrap.bundle=" + bundle});
  EXPECT_TRUE(Contains(installed, "STATUS: deployed")) << installed;

  const std::string args = Kubectl({"-n", "vmesh-system", "get", "deployment", "vmesh-agent", "-o",
                                    "jsonpath={.spec.template.spec.containers[0].args}"});
  for (const char* flag : {"--cluster=cluster-1", "--bootstrap=/etc/vmesh/bootstrap/bundle.yaml",
                           "--state-namespace=vmesh-system", "--hub-namespace=vmesh"}) {
    EXPECT_TRUE(Contains(args, std::string("\"") + flag + "\"")) << flag << " in " << args;
  }
  EXPECT_TRUE(Contains(
      Kubectl({"-n", "vmesh-system", "get", "secret", "vmesh-agent-bootstrap", "-o", "jsonpath={.data.bundle\\.yaml}"}),
      "Y2x1c3Rlcjog"))
      << "base64 of \"cluster: \"";
  EXPECT_TRUE(Exists({"-n", "istio-system", "role", "vmesh-agent-cacerts"}));
  EXPECT_TRUE(Exists({"-n", "vmesh-system", "role", "vmesh-agent-state"}));
  EXPECT_TRUE(Exists({"clusterrole", "vmesh-agent"}));
  // kubesim's workload controller runs the Deployment's pod (it never becomes Ready there without a hub).
  EXPECT_EQ(Kubectl({"-n", "vmesh-system", "get", "deployment", "vmesh-agent", "-o", "jsonpath={.spec.strategy.type}"}),
            "Recreate");

  // Upgrade: a second Istio namespace gets its cacerts Role, the log level changes.
  Kubectl({"create", "namespace", "istio-canary"});
  const std::string upgraded =
      HelmOn({"upgrade", "vmesh-agent", Source("charts/vmesh-agent"), "--namespace", "vmesh-system", "--reuse-values",
              "--set", "istioNamespaces={istio-system,istio-canary}", "--set", "logLevel=debug"});
  EXPECT_TRUE(Contains(upgraded, "REVISION: 2")) << upgraded;
  EXPECT_TRUE(Exists({"-n", "istio-canary", "role", "vmesh-agent-cacerts"}));
  EXPECT_TRUE(Exists({"-n", "istio-canary", "rolebinding", "vmesh-agent-cacerts"}));
  EXPECT_TRUE(Contains(Kubectl({"-n", "vmesh-system", "get", "deployment", "vmesh-agent", "-o",
                                "jsonpath={.spec.template.spec.containers[0].args}"}),
                       "\"--log-level=debug\""));

  // Dropping the bundle after the bootstrap removes its Secret.
  HelmOn({"upgrade", "vmesh-agent", Source("charts/vmesh-agent"), "--namespace", "vmesh-system", "--reuse-values",
          "--set", "bootstrap.bundle="});
  EXPECT_FALSE(Exists({"-n", "vmesh-system", "secret", "vmesh-agent-bootstrap"}));

  EXPECT_TRUE(Contains(HelmOn({"uninstall", "vmesh-agent", "--namespace", "vmesh-system"}), "uninstalled"));
  EXPECT_FALSE(Exists({"-n", "vmesh-system", "deployment", "vmesh-agent"}));
  EXPECT_FALSE(Exists({"-n", "istio-system", "role", "vmesh-agent-cacerts"}));
  EXPECT_FALSE(Exists({"-n", "istio-canary", "role", "vmesh-agent-cacerts"}));
  EXPECT_FALSE(Exists({"clusterrole", "vmesh-agent"}));
  EXPECT_FALSE(Exists({"clusterrolebinding", "vmesh-agent"}));
  EXPECT_FALSE(Exists({"-n", "vmesh-system", "serviceaccount", "vmesh-agent"}));
  // Istio itself is untouched.
  EXPECT_TRUE(Exists({"-n", "istio-system", "deployment", "istiod"}));
}

// The arguments the charts give the programs, run for real: the hub's init and serve containers (with the
// management kubesim's kubeconfig instead of the in-cluster configuration, loopback ports and a temporary data
// directory) elect one leader with the chart's Lease settings on the CRDs the chart installed; an operator's own
// `vmesh-hub init` (the chart's NOTES) gets an admin credential the leader accepts; the agent's container, with the
// bootstrap bundle read back from the Secret the chart made, connects to that hub.
class ChartArgsTest : public HelmOnKubesimTest {
 protected:
  // The args of a container of a Deployment as they landed in the cluster.
  std::vector<std::string> Args(TestCluster& cluster, const std::string& ns, const std::string& deployment,
                                const std::string& container) {
    ProcessOutput out = cluster.Kubectl(
        {"-n", ns, "get", "deployment", deployment, "-o", "jsonpath={.spec.template.spec." + container + ".args}"});
    EXPECT_EQ(out.exit_code, 0) << out.output;
    std::vector<std::string> args;
    boost::json::error_code ec;
    auto parsed = boost::json::parse(out.output, ec);
    EXPECT_FALSE(ec) << out.output;
    if (!ec && parsed.is_array()) {
      for (const auto& a : parsed.as_array()) args.emplace_back(a.as_string());
    }
    return args;
  }

  // Replaces the value of each `--flag=` in `args` that `values` names, and appends the flags it does not find.
  static std::vector<std::string> Rewrite(std::vector<std::string> args, std::map<std::string, std::string> values) {
    for (auto& a : args) {
      for (auto it = values.begin(); it != values.end(); ++it) {
        if (a.rfind(it->first + "=", 0) == 0) {
          a = it->first + "=" + it->second;
          values.erase(it);
          break;
        }
      }
    }
    for (const auto& [flag, value] : values) args.push_back(flag + "=" + value);
    return args;
  }

  static std::vector<std::string> Command(const std::string& binary, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {binary};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Polls `vmeshctl cluster list` until it shows `cluster` CONNECTED (true) or `attempts` half-seconds pass.
  bool WaitConnected(const std::string& vmeshconfig, const std::string& cluster, int attempts) {
    for (int i = 0; i < attempts; ++i) {
      ProcessOutput list = RunProcess({VMESHCTL_BINARY, "--config", vmeshconfig, "cluster", "list"}, seconds(30));
      if (list.exit_code == 0 && std::regex_search(list.output, std::regex(cluster + "\\s+CONNECTED"))) return true;
      std::this_thread::sleep_for(milliseconds(500));
    }
    return false;
  }
};

TEST_F(ChartArgsTest, HubAndAgentRunWithTheChartsArguments) {
  StartCluster();
  HelmOn({"install", "vmesh-hub", Source("charts/vmesh-hub"), "--namespace", "vmesh", "--create-namespace", "--set",
          "advertiseHost=127.0.0.1", "--set", "leaderElection.leaseName=hub-lease"});
  // Three replicas, as the Deployment runs them: each pod's init container, all at once on an empty store (the
  // first link CA wins), then each pod's hub; exactly one leads.
  const std::vector<std::string> init = Args(cluster_, "vmesh", "vmesh-hub", "initContainers[0]");
  const std::vector<std::string> serve = Args(cluster_, "vmesh", "vmesh-hub", "containers[0]");
  ASSERT_FALSE(init.empty());
  ASSERT_FALSE(serve.empty());
  EXPECT_EQ(init[0], "init");
  EXPECT_EQ(serve[0], "serve");
  constexpr int kReplicas = 3;
  const std::vector<std::string> pods = {"vmesh-hub-5f7b9c-x2x4q", "vmesh-hub-5f7b9c-k8w2n", "vmesh-hub-5f7b9c-p9d7z"};
  auto data_dir = [&](int i) { return home_ + "/" + pods[i]; };
  std::vector<std::unique_ptr<kubesim::ChildProcess>> inits, hubs;
  for (int i = 0; i < kReplicas; ++i) {
    inits.push_back(std::make_unique<kubesim::ChildProcess>());
    ASSERT_TRUE(inits.back()
                    ->Start(Command(VMESH_HUB_BINARY, Rewrite(init, {{"--data-dir", data_dir(i)},
                                                                     {"--kubeconfig", cluster_.kubeconfig()}})))
                    .ok());
  }
  for (auto& p : inits) ASSERT_EQ(p->Wait(seconds(60)), 0) << p->output();
  for (int i = 0; i < kReplicas; ++i) {
    hubs.push_back(std::make_unique<kubesim::ChildProcess>());
    ASSERT_TRUE(hubs.back()
                    ->Start(Command(VMESH_HUB_BINARY, Rewrite(serve, {{"--data-dir", data_dir(i)},
                                                                      {"--kubeconfig", cluster_.kubeconfig()},
                                                                      {"--agent-listen", "127.0.0.1:0"},
                                                                      {"--api-listen", "127.0.0.1:0"}})),
                            {"POD_NAME=" + pods[i]})
                    .ok());
  }
  // --replica-id defaults to the downward API's POD_NAME: the Lease names the leading pod.
  std::string holder;
  for (int i = 0; i < 120 && holder.empty(); ++i) {
    ProcessOutput lease =
        cluster_.Kubectl({"-n", "vmesh", "get", "lease", "hub-lease", "-o", "jsonpath={.spec.holderIdentity}"});
    if (lease.exit_code == 0) holder = lease.output;  // NotFound until the first replica created it
    if (holder.empty()) std::this_thread::sleep_for(milliseconds(500));
  }
  const auto leader_at = std::find(pods.begin(), pods.end(), holder);
  ASSERT_NE(leader_at, pods.end()) << "lease holder " << holder;
  const int leader = static_cast<int>(leader_at - pods.begin());
  kubesim::ChildProcess& hub = *hubs[leader];
  ASSERT_TRUE(hub.WaitForOutput("became leader (lease vmesh/hub-lease", seconds(60))) << hub.output();
  for (int i = 0; i < kReplicas; ++i) {
    if (i == leader) continue;
    EXPECT_TRUE(hubs[i]->WaitForOutput("lease vmesh/hub-lease is held by " + holder, seconds(60))) << hubs[i]->output();
    EXPECT_FALSE(Contains(hubs[i]->output(), "became leader")) << hubs[i]->output();
  }
  // serve writes endpoints.json once listening, after pointing admin.vmeshconfig at the bound API address.
  const std::string leader_dir = data_dir(leader);
  for (int i = 0; i < 120 && !fs::exists(leader_dir + "/endpoints.json"); ++i) {
    std::this_thread::sleep_for(milliseconds(500));
  }
  ASSERT_TRUE(fs::exists(leader_dir + "/endpoints.json")) << hub.output();
  // An operator's admin credential, as the chart's NOTES say: their own `vmesh-hub init --store kubernetes` against
  // the management cluster pins it in the store, and the running leader accepts it (here at the leader's API
  // address instead of a port-forward).
  const auto endpoints = boost::json::parse(ReadText(leader_dir + "/endpoints.json"));
  const std::string api_url(endpoints.at("apiUrl").as_string());
  const std::string operator_dir = home_ + "/vmesh-admin";
  ProcessOutput operator_init =
      RunProcess({VMESH_HUB_BINARY, "init", "--store", "kubernetes", "--namespace", "vmesh", "--kubeconfig",
                  cluster_.kubeconfig(), "--data-dir", operator_dir, "--api-url", api_url},
                 seconds(60));
  ASSERT_EQ(operator_init.exit_code, 0) << operator_init.output;
  const std::string vmeshconfig = operator_dir + "/admin.vmeshconfig";
  const std::string bundle = home_ + "/cluster-1.bundle.yaml";
  ProcessOutput registered = RunProcess(
      {VMESHCTL_BINARY, "--config", vmeshconfig, "cluster", "register", "cluster-1", "--out", bundle}, seconds(30));
  ASSERT_EQ(registered.exit_code, 0) << registered.output;

  // The workload cluster: the agent chart with that bundle; the agent runs with the Deployment's args and the
  // bundle as the chart's Secret holds it.
  TestCluster workload;
  ASSERT_TRUE(workload.Start(KUBESIM_BINARY, "cluster-1", {"--seed", Source("e2e/kubesim/seeds/istio.yaml")}).ok());
  HelmOk({"install", "vmesh-agent", Source("charts/vmesh-agent"), "--namespace", "vmesh-system", "--create-namespace",
          "--set", "cluster=cluster-1", "--set-file", "bootstrap.bundle=" + bundle},
         workload.kubeconfig());
  ProcessOutput secret = workload.Kubectl(
      {"-n", "vmesh-system", "get", "secret", "vmesh-agent-bootstrap", "-o", "jsonpath={.data.bundle\\.yaml}"});
  ASSERT_EQ(secret.exit_code, 0) << secret.output;
  const auto from_secret = Base64Decode(secret.output);
  ASSERT_TRUE(from_secret.has_value());
  EXPECT_EQ(*from_secret, ReadText(bundle));
  const std::string mounted = WriteFile("mounted-bundle.yaml", *from_secret);
  const std::vector<std::string> agent_args = Args(workload, "vmesh-system", "vmesh-agent", "containers[0]");
  kubesim::ChildProcess agent;
  ASSERT_TRUE(agent
                  .Start(Command(VMESH_AGENT_BINARY, Rewrite(agent_args, {{"--bootstrap", mounted},
                                                                          {"--kubeconfig", workload.kubeconfig()},
                                                                          {"--admin-listen", "127.0.0.1:0"}})))
                  .ok());
  EXPECT_TRUE(WaitConnected(vmeshconfig, "cluster-1", 120)) << "agent:\n"
                                                            << agent.output() << "\nhub:\n"
                                                            << hub.output();
  // The agent kept its identity in the release namespace, as the chart's state Role allows.
  EXPECT_TRUE(
      Contains(workload.Kubectl({"-n", "vmesh-system", "get", "secret", "vmesh-agent-identity", "-o", "name"}).output,
               "secret/vmesh-agent-identity"));
  agent.Terminate();
  for (auto& h : hubs) h->Terminate();
}

}  // namespace
}  // namespace vmesh::charts
