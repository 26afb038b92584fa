// Load and Validate timings of SchemaSet on third_party/istio/crds.yaml (~1 MB, 15 CRDs, 33 served versions).
//
//   LoadIstioCrds          SchemaSet::Load on the file's text (YAML parse + schema compilation)
//   YamlToJsonIstioCrds    the YAML → JSON part of Load alone
//   Validate/<object>      one Validate call on a federation output of SPEC §6
//
// Usage: vmesh_crdschema_bench [--benchmark_filter=...] (VMESH_ISTIO_CRDS overrides the CRD file).
#include <benchmark/benchmark.h>

#include <boost/json/parse.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "common/base/files.h"
#include "common/crdschema/schema_set.h"
#include "common/crdschema/yaml_to_json.h"

namespace vmesh::crdschema {
namespace {

const std::string& CrdText() {
  static const std::string* const text = [] {
    const char* file = std::getenv("VMESH_ISTIO_CRDS");
    std::string path = file != nullptr && *file != '\0' ? file : VMESH_BENCH_ISTIO_CRDS;
    Result<std::string> read = ReadFile(path);
    if (!read.ok()) {
      std::cerr << read.error().message << "\n";
      std::abort();
    }
    return new std::string(std::move(read).value());
  }();
  return *text;
}

const SchemaSet& Istio() {
  static const SchemaSet* const set = [] {
    Result<SchemaSet> loaded = SchemaSet::Load(CrdText());
    if (!loaded.ok()) {
      std::cerr << loaded.error().message << "\n";
      std::abort();
    }
    return new SchemaSet(std::move(loaded).value());
  }();
  return *set;
}

void LoadIstioCrds(benchmark::State& state) {
  for (auto _ : state) {
    Result<SchemaSet> set = SchemaSet::Load(CrdText());
    benchmark::DoNotOptimize(set);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * CrdText().size()));
}
BENCHMARK(LoadIstioCrds)->Unit(benchmark::kMillisecond);

void YamlToJsonIstioCrds(benchmark::State& state) {
  for (auto _ : state) {
    auto docs = YamlDocumentsToJson(CrdText());
    benchmark::DoNotOptimize(docs);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * CrdText().size()));
}
BENCHMARK(YamlToJsonIstioCrds)->Unit(benchmark::kMillisecond);

void Validate(benchmark::State& state, const char* json_text) {
  boost::json::value object = boost::json::parse(json_text);
  if (!Istio().Validate(object).empty()) {
    state.SkipWithError("benchmark object is not valid");
    return;
  }
  for (auto _ : state) {
    auto violations = Istio().Validate(object);
    benchmark::DoNotOptimize(violations);
  }
}

BENCHMARK_CAPTURE(Validate, ServiceEntry, R"({
  "apiVersion": "networking.istio.io/v1beta1", "kind": "ServiceEntry",
  "metadata": {"name": "reviews.bookinfo.svc.cluster-1.global", "namespace": "istio-system",
               "labels": {"app.kubernetes.io/managed-by": "vmesh", "networking.vmesh.dev/virtual-mesh": "vmesh.vm1"}},
  "spec": {"hosts": ["reviews.bookinfo.svc.cluster-1.global"], "addresses": ["240.12.34.56"],
           "location": "MESH_INTERNAL", "resolution": "STATIC",
           "ports": [{"number": 9080, "name": "http-9080", "protocol": "HTTP"}],
           "endpoints": [{"address": "172.18.0.10", "ports": {"http-9080": 15443},
                          "labels": {"security.istio.io/tlsMode": "istio", "app": "reviews"}}]}})")
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_CAPTURE(Validate, DestinationRule, R"({
  "apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
  "metadata": {"name": "reviews.bookinfo.svc.cluster-1.global", "namespace": "istio-system"},
  "spec": {"host": "reviews.bookinfo.svc.cluster-1.global",
           "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"},
                             "loadBalancer": {"simple": "ROUND_ROBIN"},
                             "connectionPool": {"tcp": {"tcpKeepalive": {"time": "7200s", "probes": 9}}}}}})")
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vmesh::crdschema

BENCHMARK_MAIN();
