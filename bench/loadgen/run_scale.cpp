// SPEC §13 / issue 17: one vmesh-hub (a real process, port 0, temporary directory) against N simulated agents
// (bench/loadgen: the real agent's link and sync code over in-memory clusters, all in this process). Prints one
// JSON document.
//
//  1. registers N clusters through the hub's admin API and bootstraps each (real one-time tokens and CSRs);
//  2. starts the N agents at once: time until every one has a session;
//  3. applies one VirtualMesh over all N meshes: shared trust (generated ECDSA P-256 root, ECDSA P-256
//     intermediates, so the agents' key generation stays cheap) and restrictive federation — the D destinations
//     of the first P clusters ("providers") federated to every mesh (--permissive: everything to everything);
//     time until ACCEPTED (every agent sent a CSR, installed the intermediate and applied its outputs);
//  4. hub RSS before the agents, with them all ACCEPTED (steady), its peak, the growth per agent, and hub CPU
//     while idle;
//  5. --changes times: a destination added in a provider cluster; per change the time until each other agent
//     ACKed the update carrying its ServiceEntry (p50/p99 over all), the hub's bytes sent and CPU spent;
//  6. reconnect storm: the hub killed (SIGKILL) and started again on the same port and store while the N agents
//     are connected: time until all have a new session and the VirtualMesh is ACCEPTED again, the CSRs signed
//     and resources sent by the new hub process (both must be 0: nothing re-issued, nothing re-sent).
//
// The file-descriptor limit of this process (and so of the hub it starts) is raised to the hard limit.
// Exits 1 (after printing the JSON, with "errors") when a phase did not complete.
//
// Usage: vmesh_run_scale --agents N --destinations D [--providers P] [--permissive] [--changes C]
//                        [--idle-seconds S] [--threads T] [--no-restart]
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/runtime/identity.h"
#include "bench/common/proc_stats.h"
#include "bench/loadgen/fleet.h"
#include "e2e/harness/fleet.h"

namespace {

using namespace vmesh;
using Clock = std::chrono::steady_clock;
namespace json = boost::json;

struct Args {
  int agents = 5;
  int destinations = 3;
  int providers = 10;
  bool permissive = false;
  int changes = 5;
  int idle_seconds = 10;
  int threads = 2;
  bool restart = true;
};

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Progress on stderr (stdout carries only the JSON), with the seconds since the start.
void Progress(const std::string& what) {
  static const Clock::time_point start = Clock::now();
  std::fprintf(stderr, "[run-scale %7.1fs] %s\n", Since(start), what.c_str());
}

// Raises RLIMIT_NOFILE to the hard limit; returns the soft limit in force.
rlim_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur;
}

std::string Manifest(const loadgen::Fleet& fleet, const Args& args) {
  std::ostringstream vm;
  vm << "apiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: {name: scale, namespace: vmesh}\n"
     << "spec:\n  mtlsConfig:\n    autoRestartPods: false\n    shared:\n      rootCertificateAuthority:\n"
     << "        generated: {keyAlgorithm: ECDSA_P256}\n      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}\n"
     << "  meshes:\n";
  for (int i = 0; i < fleet.size(); ++i)
    vm << "  - {name: istiod-istio-system-" << fleet.cluster(i) << ", namespace: vmesh}\n";
  if (args.permissive) {
    vm << "  federation:\n    permissive: {}\n";
  } else {
    vm << "  federation:\n    selectors:\n    - destinationSelectors:\n      - kubeServiceMatcher:\n          "
          "clusters: [";
    for (int p = 0; p < args.providers; ++p) vm << (p ? ", " : "") << fleet.cluster(p);
    vm << "]\n";
  }
  return vm.str();
}

std::string VirtualMeshState(const e2e::HubProcess& hub) {
  auto answer = hub.Api("GET", "/v1/objects/virtualmeshes?name=scale");
  if (answer.status != 200) return "";
  auto v = e2e::ParseJson(answer.body);
  std::string state = e2e::JsonString(v, {"status", "state"});
  return state.empty() && e2e::JsonAt(v, {"status"}) ? "PENDING" : state;
}

// The hub's /metrics, asked again while the hub is too busy to answer (e.g. during a reconnect storm).
std::string Scrape(const e2e::HubProcess& hub) {
  for (int attempt = 0; attempt < 30; ++attempt) {
    auto answer = hub.Api("GET", "/metrics");
    if (answer.status == 200) return answer.body;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return "";
}

// A counter of the hub (0 when it has no series yet).
double MetricOrZero(const e2e::HubProcess& hub, const std::string& name, const std::string& filter) {
  return std::max(0.0, e2e::MetricIn(Scrape(hub), name, filter));
}

double LinkMetric(loadgen::Fleet& fleet, const char* name, const char* direction, const char* type) {
  return fleet.link_metrics().Value(name, {{"direction", direction}, {"type", type}});
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (flag == "--agents") {
      args.agents = next();
    } else if (flag == "--destinations") {
      args.destinations = next();
    } else if (flag == "--providers") {
      args.providers = next();
    } else if (flag == "--permissive") {
      args.permissive = true;
    } else if (flag == "--changes") {
      args.changes = next();
    } else if (flag == "--idle-seconds") {
      args.idle_seconds = next();
    } else if (flag == "--threads") {
      args.threads = next();
    } else if (flag == "--no-restart") {
      args.restart = false;
    } else {
      std::cerr << "usage: vmesh_run_scale --agents N --destinations D [--providers P] [--permissive] [--changes C]"
                   " [--idle-seconds S] [--threads T] [--no-restart]\n";
      return 2;
    }
  }
  if (args.agents < 2 || args.destinations < 1) {
    std::cerr << "--agents must be at least 2 and --destinations at least 1\n";
    return 2;
  }
  args.providers = std::clamp(args.providers, 1, args.agents);
  // N agents log alike (every reconnect, every session): only their errors are worth reading here.
  spdlog::set_level(spdlog::level::err);
  const auto wait_limit = std::chrono::seconds(120 + args.agents / 10);

  json::object out;
  std::vector<std::string> errors;
  out["benchmark"] = "run_scale";
  out["agents"] = args.agents;
  out["destinations_per_agent"] = args.destinations;
  out["provider_clusters"] = args.permissive ? args.agents : args.providers;
  out["federation"] = args.permissive ? "permissive" : "restrictive";
  out["file_descriptor_limit"] = static_cast<std::uint64_t>(RaiseFileLimit());

  e2e::HubProcess hub(e2e::Binaries::FromBuild());
  const std::vector<std::string> serve_args = {"--log-level", "warn", "--max-connections",
                                               std::to_string(args.agents + 256)};
  if (auto s = hub.Init(); !s.ok()) return std::cerr << s.error().message << "\n", 1;
  if (auto s = hub.Serve(serve_args); !s.ok()) return std::cerr << s.error().message << "\n", 1;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long rss_base = bench::RssKiB(hub.pid());

  // 1. Registration and bootstrap.
  Progress("hub serving; registering and bootstrapping " + std::to_string(args.agents) + " clusters");
  loadgen::Fleet fleet({.agents = args.agents, .destinations = args.destinations, .threads = args.threads});
  auto t0 = Clock::now();
  Status bootstrapped = fleet.Bootstrap([&](const std::string& cluster) -> Result<config::v1::BootstrapBundle> {
    auto answer = hub.Api("POST", "/v1/clusters", R"({"name":")" + cluster + R"(","ttl":"1h"})");
    if (answer.status != 201) return MakeError("register: " + std::to_string(answer.status) + " " + answer.body);
    return agent::ParseBootstrapBundle(answer.body);
  });
  if (!bootstrapped.ok()) return std::cerr << bootstrapped.error().message << "\n", 1;
  out["register_and_bootstrap_seconds"] = Since(t0);

  // 2. Every agent connects.
  Progress("starting the agents");
  t0 = Clock::now();
  if (Status s = fleet.Start(); !s.ok()) return std::cerr << s.error().message << "\n", 1;
  bool all_connected = e2e::WaitFor([&] { return fleet.Connected() == args.agents; }, wait_limit);
  out["all_connected_seconds"] = all_connected ? Since(t0) : -1.0;
  out["connected"] = fleet.Connected();
  if (!all_connected) errors.push_back("not every agent connected");

  // 3. The VirtualMesh.
  Progress(std::to_string(fleet.Connected()) + " agents connected; applying the VirtualMesh");
  const double cpu_before_apply = bench::CpuSeconds(hub.pid());
  t0 = Clock::now();
  auto applied = hub.Api("POST", "/v1/apply", Manifest(fleet, args));
  if (applied.status != 200) errors.push_back("apply: " + std::to_string(applied.status) + " " + applied.body);
  const auto poll = std::chrono::milliseconds(args.agents > 500 ? 1000 : 200);
  auto accepted = [&] {
    for (auto deadline = Clock::now() + wait_limit; Clock::now() < deadline; std::this_thread::sleep_for(poll)) {
      if (VirtualMeshState(hub) == "ACCEPTED") return true;
    }
    return false;
  };
  bool is_accepted = accepted();
  out["apply_to_accepted_seconds"] = is_accepted ? Since(t0) : -1.0;
  out["apply_to_accepted_hub_cpu_seconds"] = bench::CpuSeconds(hub.pid()) - cpu_before_apply;
  out["accepted"] = is_accepted;
  if (!is_accepted) errors.push_back("the VirtualMesh did not become ACCEPTED");
  out["certificates_installed"] = fleet.counters().certificates_installed.load();
  out["certificate_errors"] = fleet.counters().certificate_errors.load();
  out["csrs_sent"] = fleet.counters().csrs_sent.load();
  out["hub_csrs_signed"] = MetricOrZero(hub, "vmesh_hub_csrs_total", "signed");
  out["outputs_applied"] = fleet.counters().outputs_applied.load();

  // 4. Memory and idle CPU.
  Progress(is_accepted ? "ACCEPTED; measuring memory and idle CPU" : "not ACCEPTED; measuring memory and idle CPU");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const long rss_steady = bench::RssKiB(hub.pid());
  out["hub_rss_kib_before_agents"] = rss_base;
  out["hub_rss_kib_steady"] = rss_steady;
  const long rss_peak = bench::PeakRssKiB(hub.pid());
  out["hub_rss_kib_peak"] = rss_peak;
  out["hub_kib_per_agent"] = static_cast<double>(rss_steady - rss_base) / args.agents;
  out["hub_peak_kib_per_agent"] = static_cast<double>(rss_peak - rss_base) / args.agents;
  const double cpu_idle_before = bench::CpuSeconds(hub.pid());
  std::this_thread::sleep_for(std::chrono::seconds(args.idle_seconds));
  out["idle_seconds"] = args.idle_seconds;
  out["hub_cpu_percent_while_idle"] = 100.0 * (bench::CpuSeconds(hub.pid()) - cpu_idle_before) / args.idle_seconds;

  // 5. Destinations added in provider clusters.
  Progress("adding destinations in provider clusters");
  std::vector<double> latencies;
  json::array change_seconds;
  double change_cpu = 0, change_bytes = 0, change_agent_bytes = 0;
  int changes_done = 0;
  for (int c = 0; c < args.changes; ++c) {
    const int origin = c % args.providers;
    const double bytes_before = MetricOrZero(hub, "vmesh_hub_bytes_total", "direction=\"out\"");
    const double agent_bytes_before = LinkMetric(fleet, "vmesh_agent_link_bytes_total", "received", "resource_update");
    const double cpu_before = bench::CpuSeconds(hub.pid());
    t0 = Clock::now();
    if (Status s = fleet.AddDestination(origin, "added-" + std::to_string(c)); !s.ok()) {
      errors.push_back("change " + std::to_string(c) + ": " + s.error().message);
      break;
    }
    bool all = e2e::WaitFor([&] { return fleet.WatchedAcks() >= args.agents - 1; }, wait_limit);
    const double seconds = Since(t0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the updates' stragglers (origin's own outputs)
    change_cpu += bench::CpuSeconds(hub.pid()) - cpu_before;
    change_bytes += MetricOrZero(hub, "vmesh_hub_bytes_total", "direction=\"out\"") - bytes_before;
    change_agent_bytes +=
        LinkMetric(fleet, "vmesh_agent_link_bytes_total", "received", "resource_update") - agent_bytes_before;
    auto l = fleet.WatchedLatencies();
    latencies.insert(latencies.end(), l.begin(), l.end());
    change_seconds.push_back(seconds);
    ++changes_done;
    if (!all) {
      errors.push_back("change " + std::to_string(c) + ": " + std::to_string(fleet.WatchedAcks()) + " of " +
                       std::to_string(args.agents - 1) + " agents ACKed it");
    }
  }
  out["hub_rss_kib_peak_after_changes"] = bench::PeakRssKiB(hub.pid());  // a change's transient copies
  out["changes"] = changes_done;
  out["change_all_acked_seconds"] = change_seconds;
  out["change_acks"] = static_cast<std::uint64_t>(latencies.size());
  out["change_p50_seconds"] = bench::Percentile(latencies, 0.5);
  out["change_p99_seconds"] = bench::Percentile(latencies, 0.99);
  out["change_max_seconds"] = bench::Percentile(latencies, 1.0);
  out["change_hub_cpu_seconds"] = changes_done ? change_cpu / changes_done : 0.0;
  out["change_hub_bytes_sent"] = changes_done ? change_bytes / changes_done : 0.0;
  out["change_resource_update_bytes_received"] = changes_done ? change_agent_bytes / changes_done : 0.0;

  // 6. Reconnect storm.
  if (args.restart) {
    Progress("reconnect storm: killing the hub");
    const auto csrs_before = fleet.counters().csrs_sent.load();
    const auto installed_before = fleet.counters().certificates_installed.load();
    const auto applied_before = fleet.counters().outputs_applied.load();
    const double updates_before = LinkMetric(fleet, "vmesh_agent_link_messages_total", "received", "resource_update");
    std::vector<int> sessions(static_cast<std::size_t>(args.agents));
    for (int i = 0; i < args.agents; ++i) sessions[static_cast<std::size_t>(i)] = fleet.Sessions(i);
    t0 = Clock::now();
    hub.Kill9();
    if (auto s = hub.Serve(serve_args); !s.ok()) {
      errors.push_back("restart: " + s.error().message);
    } else {
      out["restart_hub_serving_seconds"] = Since(t0);
      auto reconnected = [&] {
        int n = 0;
        for (int i = 0; i < args.agents; ++i) n += fleet.Sessions(i) > sessions[static_cast<std::size_t>(i)];
        return n;
      };
      bool back = e2e::WaitFor([&] { return reconnected() == args.agents; }, wait_limit);
      out["restart_all_reconnected_seconds"] = back ? Since(t0) : -1.0;
      out["restart_reconnected"] = reconnected();
      if (!back) errors.push_back("not every agent reconnected after the hub restart");
      Progress("every agent reconnected; waiting for ACCEPTED");
      bool again = accepted();
      out["restart_accepted_seconds"] = again ? Since(t0) : -1.0;
      if (!again) errors.push_back("not ACCEPTED again after the hub restart");
      std::this_thread::sleep_for(std::chrono::seconds(2));  // anything the new hub would still send
      out["restart_hub_rss_kib"] = bench::RssKiB(hub.pid());
      out["restart_hub_csrs_signed"] = MetricOrZero(hub, "vmesh_hub_csrs_total", "signed");
      out["restart_hub_resource_updates_sent"] =
          MetricOrZero(hub, "vmesh_hub_messages_total", "direction=\"out\",type=\"resource_update\"");
      out["restart_csrs_sent"] = fleet.counters().csrs_sent.load() - csrs_before;
      out["restart_certificates_installed"] = fleet.counters().certificates_installed.load() - installed_before;
      out["restart_resource_updates_received"] =
          LinkMetric(fleet, "vmesh_agent_link_messages_total", "received", "resource_update") - updates_before;
      out["restart_outputs_applied"] = fleet.counters().outputs_applied.load() - applied_before;
    }
  }

  Progress("done");
  out["ok"] = errors.empty();
  json::array error_list;
  for (const auto& e : errors) error_list.emplace_back(e);
  out["errors"] = std::move(error_list);
  std::cout << json::serialize(out) << std::endl;
  fleet.Stop();
  hub.Stop();
  return errors.empty() ? 0 : 1;
}
