// Pruning at agent start (SPEC §6 "prune by label"): the agent runtime (HubLink + MakeAgentCore) over the in-test
// hub, its sync state in a ConfigMap of an in-process cluster (kube/fake_client.h). An output the hub stopped
// wanting while the agent was down, whose removal the agent never got because its sync-state ConfigMap was lost,
// is deleted once the hub's first update completes the agent's view — and nothing that is not this agent's
// output is: not a hand-made object, not another cluster's agent's, not one applied before outputs carried the
// cluster label.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/runtime/agent_core_impl.h"
#include "agent/runtime/hub_link.h"
#include "agent/runtime/test_hub.h"
#include "common/base/test_paths.h"
#include "common/kube/fake_client.h"
#include "common/kube/run_task.h"
#include "common/link/event_loop.h"
#include "common/link/link_test_util.h"
#include "common/sync/sync.h"

namespace vmesh::agent {
namespace {

namespace json = boost::json;
using link::test::WaitFor;

constexpr char kSeApi[] = "networking.istio.io/v1beta1";

std::string OutputName(const std::string& name) {
  return std::string("kube/") + kSeApi + "/ServiceEntry/istio-system/" + name;
}

// A ServiceEntry output as the hub's translator writes it.
link::v1::Resource Output(const std::string& name) {
  json::object o{
      {"apiVersion", kSeApi},
      {"kind", "ServiceEntry"},
      {"metadata", json::object{{"name", name},
                                {"namespace", "istio-system"},
                                {"labels", json::object{{"app.kubernetes.io/managed-by", "vmesh"},
                                                        {"networking.vmesh.dev/virtual-mesh", "vmesh.vm1"}}}}},
      {"spec", json::object{{"hosts", json::array{name + ".global"}}, {"resolution", "DNS"}}}};
  link::v1::Resource r;
  r.set_name(OutputName(name));
  auto* k = r.mutable_kube_object();
  k->set_api_version(kSeApi);
  k->set_kind("ServiceEntry");
  k->set_namespace_("istio-system");
  k->set_name(name);
  k->set_json(json::serialize(o));
  r.set_version(sync::ContentVersion(r));
  return r;
}

// A ServiceEntry written by someone else, with `labels` (YAML flow map).
std::string ServiceEntryYaml(const std::string& name, const std::string& labels) {
  return std::string("apiVersion: ") + kSeApi + "\nkind: ServiceEntry\nmetadata: {name: " + name +
         ", namespace: istio-system, labels: " + labels + "}\nspec: {hosts: [" + name +
         ".example.com], resolution: DNS}\n";
}

class PruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(testpaths::IstioCrdsFile());
    std::stringstream crds;
    crds << in.rdbuf();
    auto fake = kube::MakeFakeKubeClient({.crds_yaml = {crds.str()}});
    ASSERT_TRUE(fake.ok()) << fake.error().message;
    cluster_ = std::move(*fake);
    ASSERT_TRUE(cluster_->Seed("apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n").ok());

    char tmpl[] = "/tmp/vmesh-prune-XXXXXX";
    dir_ = mkdtemp(tmpl);
    identity_ = hub_.BootstrapAgent("c1");
    identities_ = MakeFileIdentityStore(dir_ + "/identity.json");
  }

  void TearDown() override {
    StopAgent();
    std::filesystem::remove_all(dir_);
  }

  // An agent process: its held versions come from the sync-state ConfigMap in the cluster.
  void StartAgent() {
    loop_ = std::make_unique<link::EventLoop>(1);
    sync_state_ = MakeConfigMapSyncStateStore(*cluster_, "vmesh-system");
    HubLinkOptions options;
    options.backoff = {std::chrono::milliseconds(50), std::chrono::milliseconds(200), std::chrono::seconds(60)};
    link_ = std::make_unique<HubLink>(loop_->context(), identity_, *identities_, *sync_state_, options);
    core_ = MakeAgentCore(loop_->context(), *cluster_, AgentCoreOptions{.cluster = "c1"}, link_->Sender());
    Status s = link_->Start(*core_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    ASSERT_TRUE(WaitFor([&] { return link_->connected(); }));
  }

  void StopAgent() {
    if (link_) link_->Stop();
    if (loop_) loop_->Stop();
    link_.reset();
    core_.reset();
    loop_.reset();
  }

  // Pushes an update and waits for its Ack (the `acks`-th of the test).
  void Push(const std::string& nonce, const std::vector<link::v1::Resource>& upserts, size_t acks) {
    link::v1::ResourceUpdate update;
    update.set_nonce(nonce);
    update.set_system_version("v" + nonce);
    for (const auto& r : upserts) *update.add_upserts() = r;
    ASSERT_TRUE(hub_.Push(update));
    ASSERT_TRUE(WaitFor([&] { return hub_.Acks().size() == acks; }));
    ASSERT_TRUE(hub_.Acks().back().accepted()) << hub_.Acks().back().ShortDebugString();
  }

  kube::ApiResponse Get(const std::string& path) {
    auto r = kube::RunTask(cluster_->Get(path));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : kube::ApiResponse{};
  }

  bool Exists(const std::string& name) {
    return Get(kube::ResourcePath(kSeApi, "serviceentries", "istio-system", name)).status == 200;
  }

  test::TestHub hub_;
  kube::FakeKubeClientPtr cluster_;
  std::string dir_;
  AgentIdentity identity_;
  IdentityStorePtr identities_;
  SyncStateStorePtr sync_state_;
  std::unique_ptr<link::EventLoop> loop_;
  std::unique_ptr<HubLink> link_;
  AgentCorePtr core_;
};

TEST_F(PruneTest, AnOrphanOfALostSyncStateIsRemovedAndNothingElse) {
  // First run: the hub wants two outputs; the agent applies them, labelled as this cluster's.
  StartAgent();
  Push("1", {Output("keep"), Output("gone")}, 1);
  ASSERT_TRUE(Exists("gone"));
  EXPECT_EQ(Get(kube::ResourcePath(kSeApi, "serviceentries", "istio-system", "gone"))
                .body.at("metadata")
                .at("labels")
                .at("networking.vmesh.dev/cluster"),
            "c1");
  StopAgent();

  // While the agent is down the hub stops wanting "gone", and the agent's sync state is lost: nobody will tell
  // the next run to remove "gone".
  ASSERT_EQ(Get(kube::ResourcePath("v1", "configmaps", "vmesh-system", kSyncConfigMapName)).status, 200);
  auto deleted =
      kube::RunTask(cluster_->Delete(kube::ResourcePath("v1", "configmaps", "vmesh-system", kSyncConfigMapName)));
  ASSERT_TRUE(deleted.ok() && deleted->ok());
  // Objects that are not this agent's outputs.
  ASSERT_TRUE(cluster_->Seed(ServiceEntryYaml("hand-made", "{app: web}")).ok());
  ASSERT_TRUE(cluster_
                  ->Seed(ServiceEntryYaml("other-cluster",
                                          "{app.kubernetes.io/managed-by: vmesh, "
                                          "networking.vmesh.dev/cluster: c2}"))
                  .ok());
  ASSERT_TRUE(cluster_->Seed(ServiceEntryYaml("unlabelled-by-cluster", "{app.kubernetes.io/managed-by: vmesh}")).ok());

  // Second run: it says it holds nothing; until the hub's update arrives, it knows nothing and prunes nothing.
  StartAgent();
  ASSERT_EQ(hub_.Hellos().size(), 2u);
  EXPECT_TRUE(hub_.Hellos()[1].resource_versions().empty());
  EXPECT_TRUE(Exists("gone"));
  // The hub sends what it wants; with it applied, the agent's view is complete and the orphan goes.
  Push("2", {Output("keep")}, 2);
  ASSERT_TRUE(WaitFor([&] { return !Exists("gone"); }));
  EXPECT_TRUE(Exists("keep"));
  EXPECT_TRUE(Exists("hand-made"));
  EXPECT_TRUE(Exists("other-cluster"));
  EXPECT_TRUE(Exists("unlabelled-by-cluster"));
}

TEST_F(PruneTest, AViewWithoutOutputsPrunesNothing) {
  ASSERT_TRUE(cluster_
                  ->Seed(ServiceEntryYaml("orphan",
                                          "{app.kubernetes.io/managed-by: vmesh, "
                                          "networking.vmesh.dev/cluster: c1}"))
                  .ok());
  StartAgent();
  // Updates without outputs cannot be told from a hub that has not computed this cluster's outputs yet.
  Push("1", {}, 1);
  link::v1::ResourceUpdate removal;
  removal.set_nonce("2");
  removal.set_system_version("v2");
  removal.add_removals(OutputName("never-held"));
  ASSERT_TRUE(hub_.Push(removal));
  ASSERT_TRUE(WaitFor([&] { return hub_.Acks().size() == 2; }));
  // Updates are processed one after the other, each with its prune: once the third is acknowledged, the first
  // two have had every chance to prune.
  Push("3", {}, 3);
  EXPECT_TRUE(Exists("orphan"));
  // The first update naming an output completes the view.
  Push("4", {Output("wanted")}, 4);
  ASSERT_TRUE(WaitFor([&] { return !Exists("orphan"); })) << "pruned once outputs are known";
  EXPECT_TRUE(Exists("wanted"));
}

}  // namespace
}  // namespace vmesh::agent
