// DiscoveryWatcher against a real kubesim seeded with Istio and bookinfo: the full state after the first sync,
// and one delta per change (a new Service, its removal).
#include "agent/discovery/discovery_watcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <thread>

#include "common/base/test_paths.h"
#include "common/crdschema/schema_set.h"
#include "common/kube/config.h"
#include "common/pki/openssl_util.h"
#include "e2e/kubesim/test_cluster.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class DiscoveryWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(kubesim::FindKubectl().empty()) << "kubectl is not installed (scripts/setup warns of it)";
    const std::string seeds = testpaths::SourceDir() + "/e2e/kubesim/seeds/";
    std::vector<std::string> args = {"--cluster-index",    "1",      "--pod-ready-delay-ms", "50", "--seed",
                                     seeds + "istio.yaml", "--seed", seeds + "bookinfo.yaml"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    Status s = cluster_.Start(KUBESIM_BINARY, "cluster-1", args);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto config = kube::LoadKubeconfig(cluster_.kubeconfig());
    ASSERT_TRUE(config.ok()) << config.error().message;
    auto client = kube::MakeKubeClient(*config);
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = std::move(*client);
    watcher_ = std::make_unique<DiscoveryWatcher>(
        io_, *client_, DiscoveryWatcherOptions{.cluster = "cluster-1", .debounce = std::chrono::milliseconds(20)});
    watcher_->OnChange([this](link::v1::DiscoveryReport r) { reports_.push_back(std::move(r)); });
    watcher_->Start();
  }

  void TearDown() override {
    if (watcher_) {
      watcher_->Stop();
      io_.run_for(std::chrono::seconds(10));  // the informers end once cancelled
    }
  }

  // Runs the io_context until `done` holds (checked every few milliseconds); false after 30 s.
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.run_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // The bookinfo pods are ready and their endpoints reported.
  bool BookinfoReady() const {
    if (!watcher_->synced()) return false;
    auto full = watcher_->FullReport();
    int ready = 0;
    for (const auto& d : full.destinations()) {
      for (const auto& e : d.spec().endpoints()) ready += e.ready();
    }
    return ready >= 3;
  }

  // Runs kubectl on another thread while the io_context keeps serving the watcher.
  void Kubectl(std::vector<std::string> args) {
    kubesim::ProcessOutput out;
    std::atomic<bool> done = false;
    std::thread t([&] {
      out = cluster_.Kubectl(args);
      done = true;
    });
    while (!done) io_.run_for(std::chrono::milliseconds(10));
    t.join();
    ASSERT_EQ(out.exit_code, 0) << out.output;
  }

  std::vector<std::string> extra_args_;  // more kubesim flags, set before SetUp
  kubesim::TestCluster cluster_;
  kube::KubeClientPtr client_;
  asio::io_context io_;
  std::unique_ptr<DiscoveryWatcher> watcher_;
  std::vector<link::v1::DiscoveryReport> reports_;
};

TEST_F(DiscoveryWatcherTest, FullReportHasTheMeshDestinationsAndWorkloads) {
  ASSERT_TRUE(RunUntil([&] { return BookinfoReady(); }));
  auto full = watcher_->FullReport();
  EXPECT_TRUE(full.full_state());
  ASSERT_EQ(full.meshes_size(), 1);
  const auto& mesh = full.meshes(0);
  EXPECT_EQ(mesh.metadata().name(), "istiod-istio-system-cluster-1");
  EXPECT_EQ(mesh.spec().istio_version(), "1.20.3");
  ASSERT_EQ(mesh.spec().east_west_gateways_size(), 1);
  EXPECT_THAT(mesh.spec().east_west_gateways(0).external_addresses(), ElementsAre("172.18.0.1"));
  ASSERT_TRUE(watcher_->FindMesh("istiod-istio-system-cluster-1").has_value());
  EXPECT_FALSE(watcher_->FindMesh("istiod-other").has_value());
  EXPECT_EQ(watcher_->Meshes().size(), 1u);

  std::vector<std::string> destinations;
  for (const auto& d : full.destinations()) {
    destinations.push_back(d.spec().namespace_() + "/" + d.spec().name());
    EXPECT_EQ(d.spec().cluster(), "cluster-1");
    EXPECT_EQ(d.spec().mesh().name(), "istiod-istio-system-cluster-1");
    ASSERT_EQ(d.spec().endpoints_size(), 1) << d.spec().name();
    const auto& e = d.spec().endpoints(0);
    EXPECT_TRUE(e.ready());
    EXPECT_EQ(e.ip().rfind("10.1.", 0), 0u) << e.ip();
    EXPECT_EQ(e.service_account(), "bookinfo-" + d.spec().name());
    EXPECT_EQ(e.labels().at("app"), d.spec().name());
    ASSERT_EQ(d.spec().ports_size(), 1);
    EXPECT_EQ(d.spec().ports(0).port(), 9080u);
  }
  EXPECT_THAT(destinations, ElementsAre("bookinfo/productpage", "bookinfo/ratings", "bookinfo/reviews"));

  std::vector<std::string> workloads;
  for (const auto& w : full.workloads()) {
    workloads.push_back(w.spec().namespace_() + "/" + w.metadata().name() + " " + w.spec().controller().kind() + "/" +
                        w.spec().controller().name());
  }
  EXPECT_THAT(workloads, ElementsAre("bookinfo/productpage-v1-bookinfo-cluster-1 Deployment/productpage-v1",
                                     "bookinfo/ratings-v1-bookinfo-cluster-1 Deployment/ratings-v1",
                                     "bookinfo/reviews-v1-bookinfo-cluster-1 Deployment/reviews-v1"));
}

TEST_F(DiscoveryWatcherTest, ANewServiceIsOneDeltaAndItsRemovalAnother) {
  ASSERT_TRUE(RunUntil([&] { return BookinfoReady(); }));
  // Let the changes of starting up settle into reports, then look only at what follows.
  reports_.clear();

  auto file = cluster_.WriteFile("details.yaml", R"(apiVersion: v1
kind: Service
metadata: {name: details, namespace: bookinfo, labels: {app: details}}
spec:
  selector: {app: details}
  ports: [{name: http, port: 9080, targetPort: 9080}]
)");
  ASSERT_TRUE(file.ok());
  Kubectl({"apply", "-f", *file});
  ASSERT_TRUE(RunUntil([&] { return !reports_.empty(); }));
  ASSERT_EQ(reports_.size(), 1u);
  const auto& added = reports_[0];
  EXPECT_FALSE(added.full_state());
  ASSERT_EQ(added.destinations_size(), 1);
  EXPECT_EQ(added.destinations(0).metadata().name(), "details-bookinfo-cluster-1");
  EXPECT_EQ(added.destinations(0).spec().ports(0).port(), 9080u);
  EXPECT_THAT(added.meshes(), IsEmpty());
  EXPECT_THAT(added.workloads(), IsEmpty());
  EXPECT_THAT(added.removed_destinations(), IsEmpty());

  reports_.clear();
  Kubectl({"delete", "service", "details", "-n", "bookinfo"});
  ASSERT_TRUE(RunUntil([&] { return !reports_.empty(); }));
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_THAT(reports_[0].removed_destinations(), ElementsAre("bookinfo/details"));
  EXPECT_THAT(reports_[0].destinations(), IsEmpty());
  EXPECT_EQ(watcher_->FullReport().destinations_size(), 3);
}

TEST_F(DiscoveryWatcherTest, AChangedServiceIsReportedAlone) {
  ASSERT_TRUE(RunUntil([&] { return BookinfoReady(); }));
  reports_.clear();
  Kubectl({"label", "service", "reviews", "-n", "bookinfo", "tier=backend"});
  ASSERT_TRUE(RunUntil([&] { return !reports_.empty(); }));
  ASSERT_EQ(reports_[0].destinations_size(), 1);
  const auto& d = reports_[0].destinations(0);
  EXPECT_EQ(d.spec().name(), "reviews");
  EXPECT_EQ(d.spec().labels().at("tier"), "backend");
  EXPECT_EQ(d.spec().endpoints_size(), 1) << "a delta carries the whole destination";
  EXPECT_THAT(reports_[0].meshes(), IsEmpty());
  EXPECT_THAT(reports_[0].workloads(), IsEmpty());
}

TEST_F(DiscoveryWatcherTest, APodGoingAwayChangesItsDestinationAndWorkload) {
  ASSERT_TRUE(RunUntil([&] { return BookinfoReady(); }));
  reports_.clear();
  Kubectl({"scale", "deployment", "ratings-v1", "-n", "bookinfo", "--replicas", "0"});
  ASSERT_TRUE(RunUntil([&] {
    for (const auto& r : reports_) {
      if (!r.removed_workloads().empty()) return true;
    }
    return false;
  }));
  bool ratings_without_endpoints = false;
  for (const auto& r : reports_) {
    EXPECT_THAT(r.meshes(), IsEmpty());
    for (const auto& d : r.destinations()) {
      EXPECT_EQ(d.spec().name(), "ratings") << "only the changed destination is reported";
      ratings_without_endpoints |= d.spec().endpoints().empty();
    }
    for (const auto& w : r.removed_workloads()) EXPECT_EQ(w, "bookinfo/ratings-v1-bookinfo-cluster-1");
  }
  EXPECT_TRUE(ratings_without_endpoints);
}

// Watches cut after every few events (SPEC §10): the informers resume where they stopped and no change is lost.
class DiscoveryWatcherDroppedWatchesTest : public DiscoveryWatcherTest {
 protected:
  void SetUp() override {
    extra_args_ = {"--fault-drop-watch-after-events", "2"};
    DiscoveryWatcherTest::SetUp();
  }
};

TEST_F(DiscoveryWatcherDroppedWatchesTest, NoChangeIsLost) {
  ASSERT_TRUE(RunUntil([&] { return BookinfoReady(); }));
  for (int i = 0; i < 4; ++i) {
    Kubectl({"label", "service", "reviews", "-n", "bookinfo", "round=" + std::to_string(i), "--overwrite"});
  }
  Kubectl({"delete", "service", "ratings", "-n", "bookinfo"});
  ASSERT_TRUE(RunUntil([&] {
    auto full = watcher_->FullReport();
    for (const auto& d : full.destinations()) {
      if (d.spec().name() == "ratings") return false;
      if (d.spec().name() == "reviews" && d.spec().labels().count("round") && d.spec().labels().at("round") == "3")
        return true;
    }
    return false;
  }));
  bool removed = false;
  for (const auto& r : reports_) {
    for (const auto& name : r.removed_destinations()) removed |= name == "bookinfo/ratings";
  }
  EXPECT_TRUE(removed);
}

// The cluster's Istio CRDs of the kinds vmesh writes, trimmed, go to the hub with the discovery (issue 11).
class DiscoveryWatcherCrdsTest : public DiscoveryWatcherTest {
 protected:
  void SetUp() override {
    extra_args_ = {"--crds", testpaths::IstioCrdsFile()};
    DiscoveryWatcherTest::SetUp();
  }
};

TEST_F(DiscoveryWatcherCrdsTest, ReportsTheOutputKindsSchemasAndTheirChanges) {
  ASSERT_TRUE(RunUntil([&] { return watcher_->synced() && watcher_->FullReport().has_istio_schemas(); }));
  const link::v1::IstioSchemas schemas = watcher_->FullReport().istio_schemas();
  auto digest = pki::Sha256Hex(schemas.crds_json());
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(schemas.digest(), *digest);
  EXPECT_EQ(schemas.crds_json().find("\"description\""), std::string::npos) << "descriptions are dropped";
  boost::json::value crds = boost::json::parse(schemas.crds_json());
  std::vector<std::string> names;
  for (const auto& crd : crds.as_array()) names.emplace_back(crd.at("metadata").at("name").as_string());
  EXPECT_THAT(names, ElementsAre("authorizationpolicies.security.istio.io", "destinationrules.networking.istio.io",
                                 "gateways.networking.istio.io", "serviceentries.networking.istio.io",
                                 "virtualservices.networking.istio.io"));
  auto compiled = crdschema::SchemaSet::LoadObjects(
      std::vector<boost::json::value>(crds.as_array().begin(), crds.as_array().end()));
  ASSERT_TRUE(compiled.ok()) << compiled.error().message;

  // A CRD of another kind changes nothing; one of vmesh's kinds going away is reported with the new digest.
  Kubectl({"delete", "crd", "telemetries.telemetry.istio.io"});
  Kubectl({"delete", "crd", "gateways.networking.istio.io"});
  ASSERT_TRUE(RunUntil([&] {
    for (const auto& r : reports_) {
      if (r.has_istio_schemas() && r.istio_schemas().digest() != schemas.digest()) return true;
    }
    return false;
  }));
  int changes = 0;  // (the first schemas may come as a delta too when the CRDs were listed after the first sync)
  for (const auto& r : reports_) changes += r.has_istio_schemas() && r.istio_schemas().digest() != schemas.digest();
  EXPECT_EQ(changes, 1) << "the telemetry CRD is not one of vmesh's kinds";
  EXPECT_EQ(watcher_->FullReport().istio_schemas().crds_json().find("gateways.networking.istio.io"), std::string::npos);
}

TEST_F(DiscoveryWatcherTest, AClusterWithoutIstioCrdsReportsNoSchemas) {
  ASSERT_TRUE(RunUntil([&] { return BookinfoReady(); }));
  EXPECT_FALSE(watcher_->FullReport().has_istio_schemas());
}

TEST_F(DiscoveryWatcherTest, StopEndsEveryInformer) {
  ASSERT_TRUE(RunUntil([&] { return watcher_->synced(); }));
  watcher_->Stop();
  io_.run();  // returns only when no informer is left waiting on the cluster
  watcher_.reset();
  SUCCEED();
}

}  // namespace
}  // namespace vmesh::agent
