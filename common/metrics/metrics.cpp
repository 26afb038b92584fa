#include "common/metrics/metrics.h"

#include <cassert>
#include <charconv>
#include <cmath>

namespace vmesh::metrics {
namespace {

constexpr char kDropped[] = "vmesh_metrics_dropped_series_total";

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  // Whole numbers (counts, Unix times) print in full rather than as 1.8e+09.
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) return std::to_string(static_cast<long long>(v));
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

std::string LabelText(const Labels& labels, const std::string& extra_key = "", const std::string& extra_value = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    out += (first ? "" : ",") + k + "=\"" + Escape(v) + "\"";
    first = false;
  }
  if (!extra_key.empty()) out += (first ? "" : ",") + extra_key + "=\"" + extra_value + "\"";
  return out + "}";
}

}  // namespace

void Registry::DeclareCounter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  metrics_.try_emplace(name, Metric{Type::kCounter, help, {}, {}});
}

void Registry::DeclareGauge(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  metrics_.try_emplace(name, Metric{Type::kGauge, help, {}, {}});
}

void Registry::DeclareHistogram(const std::string& name, const std::string& help, std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  metrics_.try_emplace(name, Metric{Type::kHistogram, help, std::move(buckets), {}});
}

Registry::Metric* Registry::Find(const std::string& name, Type type) {
  auto it = metrics_.find(name);
  assert(it != metrics_.end() && it->second.type == type && "metric used before it was declared");
  return it == metrics_.end() || it->second.type != type ? nullptr : &it->second;
}

Registry::Series* Registry::SeriesFor(Metric& m, const Labels& labels) {
  auto it = m.series.find(labels);
  if (it != m.series.end()) return &it->second;
  if (m.max_series != 0 && m.series.size() >= m.max_series) {
    ++m.dropped;
    return nullptr;
  }
  return &m.series[labels];
}

void Registry::Increment(const std::string& name, const Labels& labels, double by) {
  std::lock_guard lock(mu_);
  Metric* m = Find(name, Type::kCounter);
  if (Series* s = m ? SeriesFor(*m, labels) : nullptr) s->value += by;
}

void Registry::Set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  Metric* m = Find(name, Type::kGauge);
  if (Series* s = m ? SeriesFor(*m, labels) : nullptr) s->value = value;
}

void Registry::Observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  Metric* m = Find(name, Type::kHistogram);
  Series* series = m ? SeriesFor(*m, labels) : nullptr;
  if (series == nullptr) return;
  Series& s = *series;
  if (s.bucket_counts.empty()) s.bucket_counts.assign(m->buckets.size(), 0);
  for (size_t i = 0; i < m->buckets.size(); ++i) {
    if (value <= m->buckets[i]) ++s.bucket_counts[i];
  }
  ++s.count;
  s.sum += value;
}

void Registry::LimitSeries(const std::string& name, std::size_t max_series) {
  std::lock_guard lock(mu_);
  auto it = metrics_.find(name);
  assert(it != metrics_.end() && "metric limited before it was declared");
  if (it != metrics_.end()) it->second.max_series = max_series;
}

void Registry::Remove(const std::string& name, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto it = metrics_.find(name);
  if (it != metrics_.end()) it->second.series.erase(labels);
}

double Registry::Value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto it = metrics_.find(name);
  if (it == metrics_.end()) return 0;
  auto s = it->second.series.find(labels);
  if (s == it->second.series.end()) return 0;
  return it->second.type == Type::kHistogram ? static_cast<double>(s->second.count) : s->second.value;
}

std::string Registry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, m] : metrics_) {
    const char* type = m.type == Type::kCounter ? "counter" : m.type == Type::kGauge ? "gauge" : "histogram";
    out += "# HELP " + name + " " + m.help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, s] : m.series) {
      if (m.type != Type::kHistogram) {
        out += name + LabelText(labels) + " " + Number(s.value) + "\n";
        continue;
      }
      for (size_t i = 0; i < m.buckets.size(); ++i) {
        out += name + "_bucket" + LabelText(labels, "le", Number(m.buckets[i])) + " " +
               std::to_string(s.bucket_counts[i]) + "\n";
      }
      out += name + "_bucket" + LabelText(labels, "le", "+Inf") + " " + std::to_string(s.count) + "\n";
      out += name + "_sum" + LabelText(labels) + " " + Number(s.sum) + "\n";
      out += name + "_count" + LabelText(labels) + " " + std::to_string(s.count) + "\n";
    }
  }
  std::string dropped;
  for (const auto& [name, m] : metrics_) {
    if (m.dropped > 0) dropped += kDropped + LabelText({{"metric", name}}) + " " + std::to_string(m.dropped) + "\n";
  }
  if (!dropped.empty()) {
    out += std::string("# HELP ") + kDropped + " Updates dropped because they would exceed a metric's series limit.\n" +
           "# TYPE " + kDropped + " counter\n" + dropped;
  }
  return out;
}

}  // namespace vmesh::metrics
