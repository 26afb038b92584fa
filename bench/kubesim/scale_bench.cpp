// kubesim at scale (issue: kubesim, "10,000 objects and 200 concurrent watches"): create rate with concurrent
// clients, the time to list everything, and how long 200 watches take to see a burst of changes. Prints one
// JSON object. Usage: vmesh_kubesim_bench [KUBESIM_BINARY] [OBJECTS] [WATCHES]
#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>

#include "common/kube/client.h"
#include "e2e/kubesim/test_cluster.h"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace vmesh;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

json::value ConfigMap(const std::string& name) {
  return json::object{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
                      {"data", json::object{{"k", "v"}}}};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string binary = argc > 1 ? argv[1] : "build/e2e/kubesim/kubesim";
  const int objects = argc > 2 ? std::atoi(argv[2]) : 10000;
  const int watches = argc > 3 ? std::atoi(argv[3]) : 200;
  const int burst = 100;
  const int writers = 8;

  kubesim::TestCluster cluster;
  if (Status s = cluster.Start(binary, "bench"); !s.ok()) {
    std::cerr << "cannot start kubesim: " << s.error().message << "\n";
    return 1;
  }
  auto config = kube::LoadKubeconfig(cluster.kubeconfig());
  auto client = kube::MakeKubeClient(*config);
  if (!client.ok()) return 1;
  kube::KubeClient& c = **client;
  const std::string cms = kube::ResourcePath("v1", "configmaps", "default");

  // Creates.
  asio::io_context io;
  std::atomic<int> next{0}, failures{0};
  auto t0 = Clock::now();
  for (int w = 0; w < writers; ++w) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = next++; i < objects; i = next++) {
            auto r = co_await c.Create(cms, ConfigMap("cm-" + std::to_string(i)));
            if (!r.ok() || r->status != 201) ++failures;
          }
        },
        asio::detached);
  }
  io.run();
  const double create_s = Seconds(Clock::now() - t0);

  // List.
  io.restart();
  std::string rv;
  size_t listed = 0;
  t0 = Clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto r = co_await c.Get(cms);
        if (r.ok() && r->ok()) {
          listed = r->body.at("items").as_array().size();
          rv = std::string(r->body.at("metadata").at("resourceVersion").as_string());
        }
      },
      asio::detached);
  io.run();
  const double list_s = Seconds(Clock::now() - t0);

  // Watches: `watches` concurrent watches from rv, then a burst of `burst` creates; time until each watch has
  // seen every event.
  io.restart();
  std::vector<double> done_at(watches, -1);
  std::atomic<int> finished{0};
  Clock::time_point burst_start{};
  for (int w = 0; w < watches; ++w) {
    asio::co_spawn(
        io,
        [&, w]() -> asio::awaitable<void> {
          int seen = 0;
          co_await c.Watch(cms + "?watch=1&resourceVersion=" + rv + "&timeoutSeconds=120",
                           [&](const kube::WatchEvent& e) {
                             if (e.type != "ADDED") return true;
                             if (++seen < burst) return true;
                             done_at[w] = Seconds(Clock::now() - burst_start);
                             ++finished;
                             return false;
                           });
        },
        asio::detached);
  }
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::seconds(2));  // watches established
        co_await timer.async_wait(asio::use_awaitable);
        burst_start = Clock::now();
        for (int i = 0; i < burst; ++i) co_await c.Create(cms, ConfigMap("burst-" + std::to_string(i)));
      },
      asio::detached);
  io.run();
  std::vector<double> times;
  for (double t : done_at) {
    if (t >= 0) times.push_back(t);
  }
  std::sort(times.begin(), times.end());
  auto pct = [&](double p) {
    return times.empty() ? -1.0 : times[std::min(times.size() - 1, size_t(p * times.size()))];
  };

  json::object out{{"benchmark", "kubesim scale"},
                   {"objects", objects},
                   {"create_failures", failures.load()},
                   {"creates_per_s", objects / create_s},
                   {"list_all_s", list_s},
                   {"listed", listed},
                   {"watches", watches},
                   {"watches_complete", static_cast<int>(times.size())},
                   {"burst_events", burst},
                   {"burst_seen_by_all_watches_p50_s", pct(0.5)},
                   {"burst_seen_by_all_watches_p99_s", pct(0.99)}};
  std::cout << json::serialize(out) << "\n";
  return failures == 0 && static_cast<int>(times.size()) == watches ? 0 : 1;
}
