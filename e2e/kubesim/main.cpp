// kubesim: a Kubernetes API server stand-in for tests and demos (SPEC §11).
//
//   kubesim --listen 127.0.0.1:0 --kubeconfig-out FILE [--crds CRDS.yaml ...] [--seed FILE.yaml ...]
//           [--cluster-name NAME] [--token T] [--pod-ready-delay-ms N] [--event-log-capacity N] [--bookmark-interval-ms
//           N]
//
// Prints "listening on HOST:PORT" once it accepts connections and the kubeconfig is written; stops on
// SIGTERM or SIGINT.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "e2e/kubesim/api_handler.h"
#include "e2e/kubesim/cluster_setup.h"
#include "e2e/kubesim/controller_runner.h"
#include "e2e/kubesim/http_server.h"
#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"
#include "e2e/kubesim/workload_controller.h"

namespace po = boost::program_options;
using namespace vmesh::kubesim;

namespace {

vmesh::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << content;
    if (!out.flush()) return vmesh::MakeError("cannot write " + temp);
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) return vmesh::MakeError("cannot rename " + temp + " to " + path + ": " + ec.message());
  return vmesh::OkStatus();
}

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
  int bookmark_interval_ms;
  int pod_ready_delay_ms;

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
      "bookmark-interval-ms", po::value(&bookmark_interval_ms)->default_value(60000),
      "interval of BOOKMARK events on watches that allow them")("pod-ready-delay-ms",
                                                                po::value(&pod_ready_delay_ms)->default_value(500),
                                                                "how long simulated pods take to become Ready");
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

  ResourceRegistry registry = MakeBuiltinRegistry();
  for (const auto& file : crds) {
    std::ifstream in(file);
    if (!in) return Fail("cannot read CRDs " + file);
    std::stringstream text;
    text << in.rdbuf();
    if (auto s = RegisterCustomResources(registry, text.str()); !s.ok())
      return Fail("CRDs " + file + ": " + s.error().message);
  }
  ObjectStore::Options store_options;
  store_options.event_log_capacity = event_log_capacity;
  ObjectStore store(store_options);
  if (auto s = CreateSystemNamespaces(store); !s.ok()) return Fail(s.error().message);
  for (const auto& seed : seeds) {
    std::ifstream in(seed);
    if (!in) return Fail("cannot read seed " + seed);
    std::stringstream text;
    text << in.rdbuf();
    if (auto s = LoadSeed(store, registry, text.str(), {{"CLUSTER_NAME", cluster_name}}); !s.ok()) {
      return Fail("seed " + seed + ": " + s.error().message);
    }
  }

  boost::asio::io_context io;
  ServerInfo info;
  info.token = token;
  ApiHandler handler(registry, store, info);
  HttpServer server(io, handler, HttpServerOptions{std::chrono::milliseconds(bookmark_interval_ms)});
  auto bound = server.Listen(host, static_cast<uint16_t>(port));
  if (!bound.ok()) return Fail(bound.error().message);
  const std::string address = host + ":" + std::to_string(*bound);
  if (!kubeconfig_out.empty()) {
    if (auto s = WriteFileAtomically(kubeconfig_out, KubeconfigYaml(cluster_name, "http://" + address, token));
        !s.ok()) {
      return Fail(s.error().message);
    }
  }

  WorkloadController::Options controller_options;
  controller_options.pod_ready_delay = std::chrono::milliseconds(pod_ready_delay_ms);
  WorkloadController controller(registry, store, controller_options);
  ControllerRunner controllers(io, store, controller);
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
