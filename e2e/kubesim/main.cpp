// kubesim: a Kubernetes API server stand-in for tests and demos (SPEC §11).
//
//   kubesim --listen 127.0.0.1:0 --kubeconfig-out FILE [--crds CRDS.yaml ...] [--seed FILE.yaml ...]
//           [--cluster-name NAME] [--cluster-index N] [--tls] [--token T] [--pod-ready-delay-ms N]
//           [--event-log-capacity N] [--event-log-window-seconds S] [--bookmark-interval-ms N] [--fault-* ...]   (see
//           --help)
//
// Prints "listening on HOST:PORT" once it accepts connections and the kubeconfig is written; stops on
// SIGTERM or SIGINT.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/base/files.h"
#include "e2e/kubesim/api_handler.h"
#include "e2e/kubesim/cluster_setup.h"
#include "e2e/kubesim/controller_runner.h"
#include "e2e/kubesim/faults.h"
#include "e2e/kubesim/http_server.h"
#include "e2e/kubesim/istio_controller.h"
#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"
#include "e2e/kubesim/service_controller.h"
#include "e2e/kubesim/serving_cert.h"
#include "e2e/kubesim/workload_controller.h"

namespace po = boost::program_options;
using namespace vmesh::kubesim;

namespace {

int Fail(const std::string& message) {
  std::cerr << "kubesim: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  std::string kubeconfig_out;
  std::vector<std::string> seeds;
  std::vector<std::string> crds;
  std::string cluster_name;
  std::string token;
  size_t event_log_capacity;
  double event_log_window_seconds;
  int bookmark_interval_ms;
  int pod_ready_delay_ms;
  int cluster_index;
  int64_t fault_latency_ms;
  double fault_error_rate;
  uint64_t fault_seed;
  uint64_t fault_drop_watch_after_events;
  double fault_drop_watch_after_seconds;

  po::options_description options("kubesim options");
  options.add_options()("help", "show this help")("listen", po::value(&listen)->default_value("127.0.0.1:0"),
                                                  "address to listen on, HOST:PORT (port 0: any)")(
      "kubeconfig-out", po::value(&kubeconfig_out), "write a kubeconfig for this cluster to FILE")(
      "seed", po::value(&seeds)->composing(), "load objects from a multi-document YAML file (repeatable)")(
      "crds", po::value(&crds)->composing(),
      "serve the kinds of the CustomResourceDefinitions in a YAML file (repeatable)")(
      "token", po::value(&token), "require this bearer token (401 otherwise); it goes into the kubeconfig")(
      "cluster-name", po::value(&cluster_name)->default_value("kubesim"),
      "cluster name: kubeconfig names and the ${CLUSTER_NAME} seed placeholder")(
      "event-log-capacity", po::value(&event_log_capacity)->default_value(10000),
      "changes kept for watches; older resourceVersions get 410 Expired")(
      "event-log-window-seconds", po::value(&event_log_window_seconds)->default_value(0),
      "also drop changes older than S seconds from that log (0: only the capacity bounds it)")(
      "bookmark-interval-ms", po::value(&bookmark_interval_ms)->default_value(60000),
      "interval of BOOKMARK events on watches that allow them")("pod-ready-delay-ms",
                                                                po::value(&pod_ready_delay_ms)->default_value(500),
                                                                "how long simulated pods take to become Ready");
  options.add_options()("tls", "serve HTTPS with a CA generated at start (written into the kubeconfig)")(
      "cluster-index", po::value(&cluster_index)->default_value(0),
      "0-127; ${CLUSTER_INDEX} in seeds; N>0 gives pods 10.N.x.y, services 10.(128+N).x.y and LoadBalancers "
      "172.18.k.N (N=0: 10.244.x.y, 10.96.x.y, 172.18.k.254)")(
      "fault-latency-ms", po::value(&fault_latency_ms)->default_value(0),
      "added latency of every request (all faults: also at run time via POST /kubesim/faults)")(
      "fault-error-rate", po::value(&fault_error_rate)->default_value(0),
      "fraction of non-watch requests answered 500 or 429")("fault-seed", po::value(&fault_seed)->default_value(1),
                                                            "seed of the error decisions")(
      "fault-drop-watch-after-events", po::value(&fault_drop_watch_after_events)->default_value(0),
      "cut watch connections after N events (0: never)")("fault-drop-watch-after-seconds",
                                                         po::value(&fault_drop_watch_after_seconds)->default_value(0),
                                                         "cut watch connections after S seconds (0: never)")(
      "fault-expire-next-watch", "answer the first watch with a 410 Expired ERROR event");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Fail(e.what());
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return Fail("--listen wants HOST:PORT, got \"" + listen + "\"");
  const std::string host = listen.substr(0, colon);
  int port = -1;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (port < 0 || port > 65535) return Fail("--listen: invalid port in \"" + listen + "\"");
  if (cluster_index < 0 || cluster_index > 127) return Fail("--cluster-index must be within [0, 127]");
  if (fault_error_rate < 0 || fault_error_rate > 1) return Fail("--fault-error-rate must be within [0, 1]");
  if (event_log_window_seconds < 0) return Fail("--event-log-window-seconds must be >= 0");
  if (fault_latency_ms < 0 || fault_drop_watch_after_seconds < 0) return Fail("fault durations must be >= 0");
  const ClusterNetwork network = ClusterNetworkFor(cluster_index);

  ResourceRegistry registry = MakeBuiltinRegistry();
  std::vector<std::string> crd_texts;
  for (const auto& file : crds) {
    std::ifstream in(file);
    if (!in) return Fail("cannot read CRDs " + file);
    std::stringstream text;
    text << in.rdbuf();
    crd_texts.push_back(text.str());
  }
  ObjectStore::Options store_options;
  store_options.event_log_capacity = event_log_capacity;
  store_options.event_log_window = std::chrono::milliseconds(std::llround(event_log_window_seconds * 1000));
  store_options.service_ip_prefix = network.service_ip_prefix;
  ObjectStore store(store_options);
  if (auto s = CreateSystemNamespaces(store); !s.ok()) return Fail(s.error().message);
  // Created as through the API, so their kinds are served the same way as those of CRDs created later.
  for (size_t i = 0; i < crd_texts.size(); ++i) {
    if (auto s = LoadSeed(store, registry, crd_texts[i], {}); !s.ok())
      return Fail("CRDs " + crds[i] + ": " + s.error().message);
  }
  for (const auto& seed : seeds) {
    std::ifstream in(seed);
    if (!in) return Fail("cannot read seed " + seed);
    std::stringstream text;
    text << in.rdbuf();
    if (auto s = LoadSeed(store, registry, text.str(),
                          {{"CLUSTER_NAME", cluster_name}, {"CLUSTER_INDEX", std::to_string(cluster_index)}});
        !s.ok()) {
      return Fail("seed " + seed + ": " + s.error().message);
    }
  }

  boost::asio::io_context io;
  ServerInfo info;
  info.token = token;
  ApiHandler handler(registry, store, info);
  FaultConfig fault_config;
  fault_config.latency = std::chrono::milliseconds(fault_latency_ms);
  fault_config.error_rate = fault_error_rate;
  fault_config.seed = fault_seed;
  fault_config.drop_watch_after_events = fault_drop_watch_after_events;
  fault_config.drop_watch_after = std::chrono::milliseconds(std::llround(fault_drop_watch_after_seconds * 1000));
  fault_config.expire_next_watch = vm.count("fault-expire-next-watch") > 0;
  FaultInjector faults(fault_config);
  HttpServerOptions server_options;
  server_options.bookmark_interval = std::chrono::milliseconds(bookmark_interval_ms);
  server_options.faults = &faults;
  std::string ca_pem;
  if (vm.count("tls")) {
    auto certs = GenerateServingCertificates(cluster_name);
    if (!certs.ok()) return Fail("TLS certificates: " + certs.error().message);
    ca_pem = certs->ca_pem;
    server_options.tls_cert_chain_pem = certs->cert_chain_pem;
    server_options.tls_key_pem = certs->key_pem;
  }
  HttpServer server(io, handler, server_options);
  auto bound = server.Listen(host, static_cast<uint16_t>(port));
  if (!bound.ok()) return Fail(bound.error().message);
  const std::string address = host + ":" + std::to_string(*bound);
  if (!kubeconfig_out.empty()) {
    // The kubeconfig carries the bearer token: written like every credential file (mkstemp, 0600, rename).
    if (auto s = vmesh::WriteFileAtomically(
            kubeconfig_out,
            KubeconfigYaml(cluster_name, (ca_pem.empty() ? "http://" : "https://") + address, token, ca_pem), 0600);
        !s.ok()) {
      return Fail(s.error().message);
    }
  }

  WorkloadController::Options controller_options;
  controller_options.pod_ready_delay = std::chrono::milliseconds(pod_ready_delay_ms);
  controller_options.pod_ip_prefix = network.pod_ip_prefix;
  WorkloadController controller(registry, store, controller_options);
  ServiceController service_controller(registry, store, network);
  IstioController istio_controller(registry, store, cluster_name);
  ControllerRunner controllers(io, store,
                               {[&] { return controller.Reconcile(); }, [&] { return service_controller.Reconcile(); },
                                [&] { return istio_controller.Reconcile(); }});
  controllers.Start();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer grace(io);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    server.Stop();
    controllers.Stop();
    // Stop() closed every connection; their coroutines get a moment to unwind, then the rest is dropped.
    grace.expires_after(std::chrono::milliseconds(200));
    grace.async_wait([&](const boost::system::error_code& gec) {
      if (!gec) io.stop();
    });
  });
  std::cout << "listening on " << address << std::endl;
  io.run();
  return 0;
}
