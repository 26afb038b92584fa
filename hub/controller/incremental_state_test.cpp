#include "hub/controller/incremental_state.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <random>

#include "common/api/manifest.h"
#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "common/sync/sync.h"

namespace vmesh::hub {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::UnorderedElementsAre;

HubState Load(const std::string& scenario) {
  HubState s;
  auto text = ReadFile(vmesh::testpaths::SourceDir() + "/hub/translate/testdata/" + scenario + "/input.yaml");
  EXPECT_TRUE(text.ok());
  auto decoded = api::DecodeManifests(*text);
  EXPECT_TRUE(decoded.ok()) << api::JoinErrors(decoded.errors);
  for (auto& o : decoded.objects) {
    if (auto* vm = std::get_if<api::v1::VirtualMesh>(&o.object)) {
      vm->mutable_metadata()->set_creation_timestamp("2026-01-01T00:00:00Z");
      vm->mutable_metadata()->set_generation(1);
      s.status.virtual_meshes.push_back({*vm});
    }
    if (auto* m = std::get_if<api::v1::Mesh>(&o.object)) {
      const std::string key = m->metadata().name() + "." + m->metadata().namespace_();
      s.status.meshes[key] = *m;
      s.status.connected_clusters.insert(m->spec().cluster());
      s.status.reports[key].certificate.set_phase(api::v1::INSTALLED);
    }
    if (auto* d = std::get_if<api::v1::Destination>(&o.object)) s.destinations.push_back(*d);
    if (auto* ap = std::get_if<api::v1::AccessPolicy>(&o.object)) s.access_policies.push_back(*ap);
  }
  return s;
}

// The incremental result equals the from-scratch one, and every resource carries its content version.
void ExpectSame(const DesiredState& incremental, const DesiredState& full, const std::string& step) {
  SCOPED_TRACE(step);
  ASSERT_EQ(incremental.resources.size(), full.resources.size());
  for (const auto& [cluster, resources] : full.resources) {
    auto it = incremental.resources.find(cluster);
    ASSERT_NE(it, incremental.resources.end()) << cluster;
    ASSERT_EQ(it->second.size(), resources.size()) << cluster;
    for (size_t i = 0; i < resources.size(); ++i) {
      link::v1::Resource got = *it->second[i];
      EXPECT_EQ(got.version(), sync::ContentVersion(got)) << got.name();
      got.clear_version();
      link::v1::Resource want = *resources[i];
      want.clear_version();
      EXPECT_TRUE(MessageDifferencer::Equals(got, want)) << cluster << " " << want.name();
    }
  }
  EXPECT_EQ(incremental.federated_destinations, full.federated_destinations);
  EXPECT_EQ(incremental.roots_needed, full.roots_needed);
  ASSERT_EQ(incremental.statuses.size(), full.statuses.size());
  for (size_t i = 0; i < full.statuses.size(); ++i) {
    const auto& a = incremental.statuses[i];
    const auto& b = full.statuses[i];
    EXPECT_EQ(a.key, b.key);
    EXPECT_TRUE(MessageDifferencer::Equals(a.status, b.status)) << a.key;
    EXPECT_EQ(a.whole_invalid, b.whole_invalid);
    EXPECT_EQ(a.active_meshes, b.active_meshes);
    EXPECT_EQ(a.effective_spec.has_value(), b.effective_spec.has_value());
  }
}

// Random discovery changes (and, now and then, context changes) run through one IncrementalDesiredState; after
// every step its result must equal ComputeDesiredState from scratch.
void RandomWalk(const std::string& scenario, unsigned seed, int steps, IncrementalDesiredState& incremental) {
  HubState s = Load(scenario);
  ASSERT_FALSE(s.destinations.empty());
  const std::vector<api::v1::Destination> base = s.destinations;
  std::vector<std::string> clusters;
  for (const auto& [key, mesh] : s.status.meshes) clusters.push_back(mesh.spec().cluster());
  const api::v1::VirtualMesh vm1 = s.status.virtual_meshes.front().current;
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  int next = 0;
  for (int step = 0; step < steps; ++step) {
    std::string what;
    const unsigned op = rng() % 100;
    if (op < 30 || s.destinations.empty()) {
      what = "add";
      api::v1::Destination d = base[pick(base.size())];
      // Now and then a name that recurs (in real discovery (cluster, namespace, name) is unique; a clash of
      // different contents exercises the from-scratch fallback).
      const int n = next++;
      d.mutable_spec()->set_name("svc-" + std::to_string(n % 10 == 0 ? n % 3 : n));
      d.mutable_metadata()->set_name(d.spec().name() + "-" + d.spec().namespace_());
      if (rng() % 2) (*d.mutable_spec()->mutable_labels())["tier"] = "backend";
      if (rng() % 2) (*d.mutable_spec()->mutable_selector())["app"] = d.spec().name();
      s.destinations.push_back(d);
    } else if (op < 50) {
      what = "remove";
      s.destinations.erase(s.destinations.begin() + static_cast<long>(pick(s.destinations.size())));
    } else if (op < 70) {
      what = "change endpoints";
      auto& d = s.destinations[pick(s.destinations.size())];
      auto* e = d.mutable_spec()->add_endpoints();
      e->set_ip("10.9." + std::to_string(rng() % 4) + "." + std::to_string(rng() % 250));
      e->set_ready(rng() % 3 != 0);
      (*e->mutable_labels())["version"] = "v" + std::to_string(rng() % 3);
      if (d.spec().endpoints_size() > 4) d.mutable_spec()->mutable_endpoints()->DeleteSubrange(0, 1);
    } else if (op < 75) {
      what = "duplicate";
      s.destinations.push_back(s.destinations[pick(s.destinations.size())]);
    } else if (op < 80) {
      what = "reorder";
      std::shuffle(s.destinations.begin(), s.destinations.end(), rng);
    } else if (op < 84) {
      what = "change labels";
      auto& d = s.destinations[pick(s.destinations.size())];
      auto* labels = d.mutable_spec()->mutable_labels();
      if (labels->count("tier")) {
        labels->erase("tier");
      } else {
        (*labels)["tier"] = "backend";
      }
    } else if (op < 88) {
      what = "toggle connection";
      const std::string& cluster = clusters[pick(clusters.size())];
      if (!s.status.connected_clusters.erase(cluster)) s.status.connected_clusters.insert(cluster);
    } else if (op < 91) {
      what = "toggle root";
      if (!s.roots.erase("vmesh/vm1"))
        s.roots["vmesh/vm1"] = {"ROOT " + std::to_string(step), "fp" + std::to_string(step)};
    } else if (op < 94) {
      what = "toggle a second VirtualMesh";
      if (s.status.virtual_meshes.size() > 1) {
        s.status.virtual_meshes.pop_back();
      } else {
        api::v1::VirtualMesh vm2 = vm1;
        vm2.mutable_metadata()->set_name("vm2");
        vm2.mutable_metadata()->set_creation_timestamp("2026-01-02T00:00:00Z");
        // Same suffix as vm1 (colliding outputs) or its own.
        if (rng() % 2) vm2.mutable_spec()->mutable_federation()->set_hostname_suffix("other");
        s.status.virtual_meshes.push_back({vm2});
      }
    } else if (op < 97) {
      what = "report installed generation";
      const DesiredState current = ComputeDesiredState(s);
      for (const auto& [cluster, resources] : current.resources) {
        for (const auto& r : resources) {
          if (r->has_certificate() && rng() % 2) {
            s.status.reports[r->certificate().mesh() + ".vmesh"].installed_generation = r->certificate().generation();
          }
        }
      }
    } else {
      what = "drop a mesh";
      if (s.status.meshes.size() > 1) {
        auto it = s.status.meshes.begin();
        std::advance(it, static_cast<long>(pick(s.status.meshes.size())));
        s.status.meshes.erase(it);
      }
    }
    const DesiredState got = incremental.Compute(s);
    const DesiredState want = ComputeDesiredState(s);
    ExpectSame(got, want, scenario + " seed " + std::to_string(seed) + " step " + std::to_string(step) + ": " + what);
    if (::testing::Test::HasFailure()) return;
  }
}

class IncrementalRandomWalk : public ::testing::TestWithParam<std::string> {};

TEST_P(IncrementalRandomWalk, EqualsTheFullComputationAfterEveryStep) {
  for (unsigned seed = 1; seed <= 8; ++seed) {
    IncrementalDesiredState incremental;
    RandomWalk(GetParam(), seed, 250, incremental);
    if (HasFailure()) return;
    EXPECT_GT(incremental.incremental_computes(), incremental.full_computes()) << "mostly incremental";
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, IncrementalRandomWalk,
                         ::testing::Values("permissive", "restrictive", "flat_network", "access_enabled",
                                           "suffix_keepalive_nodeport"));

class ChangedClusters : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Scenarios, ChangedClusters, ::testing::Values("permissive", "restrictive"));

TEST_P(ChangedClusters, ANewDestinationTouchesOnlyTheClustersItsOutputsGoTo) {
  HubState s = Load(GetParam());
  IncrementalDesiredState incremental;
  const DesiredState before = incremental.Compute(s);
  EXPECT_TRUE(incremental.last_was_full());
  incremental.Compute(s);
  EXPECT_FALSE(incremental.last_was_full());
  EXPECT_TRUE(incremental.changed_clusters().empty()) << "nothing changed";

  api::v1::Destination d = s.destinations.front();
  d.mutable_spec()->set_name("brand-new");
  s.destinations.push_back(d);
  const DesiredState after = incremental.Compute(s);
  EXPECT_FALSE(incremental.last_was_full());
  ExpectSame(after, ComputeDesiredState(s), "added");

  // The clusters whose resources differ are exactly those reported changed.
  std::set<std::string> differ;
  for (const auto& [cluster, resources] : after.resources) {
    auto it = before.resources.find(cluster);
    if (it == before.resources.end() || it->second.size() != resources.size()) {
      differ.insert(cluster);
      continue;
    }
    for (size_t i = 0; i < resources.size(); ++i) {
      if (resources[i]->name() != it->second[i]->name() || resources[i]->version() != it->second[i]->version())
        differ.insert(cluster);
    }
  }
  if (GetParam() == "permissive") EXPECT_FALSE(differ.empty());
  EXPECT_EQ(incremental.changed_clusters(), differ);
}

TEST(IncrementalDesiredState, AContextChangeRecomputesEverything) {
  HubState s = Load("permissive");
  IncrementalDesiredState incremental;
  incremental.Compute(s);
  s.roots["vmesh/vm1"] = {"ROOT PEM", "aaaaaaaaaaaaaaaaaaaa"};
  ExpectSame(incremental.Compute(s), ComputeDesiredState(s), "root created");
  EXPECT_TRUE(incremental.last_was_full());
  EXPECT_EQ(incremental.full_computes(), 2u);
}

}  // namespace
}  // namespace vmesh::hub
