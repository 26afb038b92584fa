// A small Prometheus registry for /metrics on hub and agent (SPEC §14): counters, gauges and histograms with
// labels, rendered in the Prometheus text exposition format (version 0.0.4). Thread-safe; updating a series
// is a mutex-protected map lookup, which is plenty for control-plane rates.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vmesh::metrics {

using Labels = std::map<std::string, std::string>;

class Registry {
 public:
  // Declares a metric (idempotent). Names follow Prometheus conventions: vmesh_<what>_<unit>[_total].
  void DeclareCounter(const std::string& name, const std::string& help);
  void DeclareGauge(const std::string& name, const std::string& help);
  // `buckets`: upper bounds in increasing order (+Inf is implied).
  void DeclareHistogram(const std::string& name, const std::string& help, std::vector<double> buckets);

  void Increment(const std::string& name, const Labels& labels = {}, double by = 1);
  void Set(const std::string& name, const Labels& labels, double value);
  void Observe(const std::string& name, const Labels& labels, double value);
  // Drops one series (e.g. the certificate expiry gauge of a mesh that left).
  void Remove(const std::string& name, const Labels& labels);
  // Caps the number of series of a declared metric whose label values come from outside (e.g. from agents):
  // updates that would create a series beyond `max_series` are dropped and counted in
  // vmesh_metrics_dropped_series_total{metric="<name>"}. Existing series keep updating.
  void LimitSeries(const std::string& name, std::size_t max_series);

  double Value(const std::string& name, const Labels& labels = {}) const;

  // The exposition text, metrics and series in name/label order.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    double value = 0;
    std::vector<std::uint64_t> bucket_counts;
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct Metric {
    Type type;
    std::string help;
    std::vector<double> buckets;
    std::map<Labels, Series> series;
    std::size_t max_series = 0;  // 0: unlimited
    std::uint64_t dropped = 0;   // updates refused by max_series
  };
  Metric* Find(const std::string& name, Type type);
  // The series of `labels`, or nullptr when creating it would exceed the metric's limit.
  static Series* SeriesFor(Metric& m, const Labels& labels);

  mutable std::mutex mu_;
  std::map<std::string, Metric> metrics_;
};

}  // namespace vmesh::metrics
