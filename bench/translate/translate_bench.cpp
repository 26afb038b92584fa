// Translation cost (SPEC §13, issue: federation): outputs per second for whole VirtualMeshes, and the cost of
// one destination change with C clusters x D destinations (permissive federation, the N²·D worst case); the same
// under limited trust (SPEC §8: the egress/ingress gateway path, BM_Limited*).
// Run: build/bench/translate/vmesh_translate_bench --benchmark_format=json
#include <benchmark/benchmark.h>

#include "hub/translate/federation.h"
#include "hub/translate/limited_federation.h"

namespace {

using namespace vmesh;

struct Fleet {
  std::map<std::string, api::v1::Mesh> meshes;
  std::vector<api::v1::Destination> destinations;
  api::v1::VirtualMeshSpec spec;
};

// `limited`: mtlsConfig.limited, every mesh with an egress gateway too.
Fleet MakeFleet(int clusters, int destinations_per_cluster, bool limited = false) {
  Fleet f;
  f.spec.mutable_federation()->mutable_permissive();
  if (limited) f.spec.mutable_mtls_config()->mutable_limited();
  for (int c = 0; c < clusters; ++c) {
    const std::string cluster = "cluster-" + std::to_string(c);
    api::v1::Mesh m;
    m.mutable_metadata()->set_name("istiod-istio-system-" + cluster);
    m.mutable_metadata()->set_namespace_("vmesh");
    m.mutable_spec()->set_cluster(cluster);
    m.mutable_spec()->set_installation_namespace("istio-system");
    m.mutable_spec()->set_istio_version("1.20.0");
    auto* gw = m.mutable_spec()->add_east_west_gateways();
    (*gw->mutable_workload_labels())["istio"] = "eastwestgateway";
    gw->set_tls_container_port(15443);
    gw->set_external_tls_port(15443);
    gw->add_external_addresses("172.18." + std::to_string(c / 250) + "." + std::to_string(c % 250 + 1));
    if (limited) {
      auto* egress = m.mutable_spec()->add_egress_gateways();
      egress->mutable_service()->set_name("istio-egressgateway");
      egress->mutable_service()->set_namespace_("istio-system");
      (*egress->mutable_workload_labels())["istio"] = "egressgateway";
      egress->set_external_tls_port(443);
    }
    f.spec.add_meshes()->set_name(m.metadata().name());
    for (int d = 0; d < destinations_per_cluster; ++d) {
      api::v1::Destination dest;
      auto* s = dest.mutable_spec();
      s->set_cluster(cluster);
      s->mutable_mesh()->set_name(m.metadata().name());
      s->mutable_mesh()->set_namespace_("vmesh");
      s->set_name("svc-" + std::to_string(d));
      s->set_namespace_("apps");
      (*s->mutable_labels())["app"] = s->name();
      (*s->mutable_selector())["app"] = s->name();
      auto* port = s->add_ports();
      port->set_name("http");
      port->set_port(8080);
      port->set_target_port("8080");
      for (int e = 0; e < 2; ++e) {
        auto* ep = s->add_endpoints();
        ep->set_ip("10." + std::to_string(c % 250) + "." + std::to_string(d % 250) + "." + std::to_string(e + 1));
        (*ep->mutable_labels())["app"] = s->name();
        ep->set_ready(true);
      }
      f.destinations.push_back(std::move(dest));
    }
    f.meshes[m.metadata().name() + ".vmesh"] = std::move(m);
  }
  return f;
}

// One destination changed: the outputs recomputed are only that destination's (2 per receiving mesh + 2 local).
void BM_OneDestinationChange(benchmark::State& state) {
  Fleet f = MakeFleet(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  hub::FederationTranslator t("vmesh", "vm", f.spec, f.meshes);
  size_t outputs = 0;
  for (auto _ : state) {
    auto out = t.TranslateDestination(f.destinations[f.destinations.size() / 2]);
    outputs = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["outputs_recomputed"] = static_cast<double>(outputs);
  state.counters["total_outputs_in_fleet"] =
      static_cast<double>(f.destinations.size() * (2 * (f.meshes.size() - 1) + 2) + f.meshes.size());
}
BENCHMARK(BM_OneDestinationChange)->Args({100, 100})->Args({10, 100})->Unit(benchmark::kMicrosecond);

void BM_TranslateAll(benchmark::State& state) {
  Fleet f = MakeFleet(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  hub::FederationTranslator t("vmesh", "vm", f.spec, f.meshes);
  size_t outputs = 0;
  for (auto _ : state) {
    auto out = t.TranslateAll(f.destinations);
    outputs = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["outputs"] = static_cast<double>(outputs);
  state.counters["outputs_per_s"] =
      benchmark::Counter(static_cast<double>(outputs), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TranslateAll)->Args({10, 20})->Args({50, 20})->Args({100, 20})->Unit(benchmark::kMillisecond);

// Limited trust, one destination changed: its client-side objects in every receiving mesh (6 per mesh for one port)
// and its server-side ones (3 for one port).
void BM_LimitedOneDestinationChange(benchmark::State& state) {
  Fleet f = MakeFleet(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), /*limited=*/true);
  hub::LimitedFederationTranslator t("vmesh", "vm", f.spec, f.meshes);
  size_t outputs = 0;
  for (auto _ : state) {
    auto out = t.TranslateDestination(f.destinations[f.destinations.size() / 2]);
    outputs = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["outputs_recomputed"] = static_cast<double>(outputs);
}
BENCHMARK(BM_LimitedOneDestinationChange)->Args({100, 100})->Args({10, 100})->Unit(benchmark::kMicrosecond);

void BM_LimitedTranslateAll(benchmark::State& state) {
  Fleet f = MakeFleet(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), /*limited=*/true);
  hub::LimitedFederationTranslator t("vmesh", "vm", f.spec, f.meshes);
  size_t outputs = 0;
  for (auto _ : state) {
    auto out = t.TranslateAll(f.destinations, {});
    outputs = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["outputs"] = static_cast<double>(outputs);
  state.counters["outputs_per_s"] =
      benchmark::Counter(static_cast<double>(outputs), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_LimitedTranslateAll)->Args({10, 20})->Args({50, 20})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
