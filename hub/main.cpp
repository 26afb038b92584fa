// vmesh-hub: wires the hub's parts together; the logic lives in hub/<area>/.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "common/cli/cli.h"
#include "common/log/log.h"
#include "hub/init/hub_init.h"

namespace {

namespace po = boost::program_options;

constexpr char kUsage[] =
    R"(vmesh-hub — the fleet side of vmesh: VirtualMesh intent, root CAs, cluster registry, status.

Usage:
  vmesh-hub init --data-dir DIR [--hub-name NAME] [--advertise-host HOST]... [--api-url URL]
  vmesh-hub --help | --version

Commands:
  init    Create the hub's link CA, its TLS server certificate and DIR/admin.vmeshconfig (the credential
          vmeshctl uses). Safe to re-run: existing material is never overwritten.

`vmesh-hub serve` (agent and API endpoints) is not part of this build yet.
)";

int Fail(const std::string& message) {
  std::fprintf(stderr, "vmesh-hub: %s\n", message.c_str());
  return 2;
}

int RunInit(const std::vector<std::string>& args) {
  po::options_description options("vmesh-hub init");
  options.add_options()                                                                                       //
      ("help,h", "show this help")                                                                            //
      ("data-dir", po::value<std::string>(), "directory for the hub's store and credentials (created 0700)")  //
      ("hub-name", po::value<std::string>()->default_value("vmesh-hub"),
       "name in agent identities (spiffe://NAME/cluster/...); fixed by the first init")  //
      ("advertise-host", po::value<std::vector<std::string>>()->composing(),
       "host name or IP agents use to reach the hub (repeatable; localhost and 127.0.0.1 always included)")  //
      ("api-url", po::value<std::string>()->default_value("https://127.0.0.1:9901"),
       "hub API URL written into admin.vmeshconfig");
  vmesh::cli::AddCommonOptions(options);
  auto vm = vmesh::cli::Parse(args, options);
  if (!vm.ok()) return Fail(vm.error().message);
  if (vm->count("help")) {
    std::cout << "Usage: vmesh-hub init --data-dir DIR [flags]\n\n" << options;
    return 0;
  }
  if (auto s =
          vmesh::log::Init("vmesh-hub", (*vm)["log-level"].as<std::string>(), (*vm)["log-format"].as<std::string>());
      !s.ok()) {
    return Fail(s.error().message);
  }
  if (!vm->count("data-dir")) return Fail("init: --data-dir is required");
  vmesh::hub::InitOptions init;
  init.data_dir = (*vm)["data-dir"].as<std::string>();
  init.hub_name = (*vm)["hub-name"].as<std::string>();
  if (vm->count("advertise-host")) init.advertise_hosts = (*vm)["advertise-host"].as<std::vector<std::string>>();
  init.api_url = (*vm)["api-url"].as<std::string>();
  auto report = vmesh::hub::InitHub(init, std::chrono::system_clock::now());
  if (!report.ok()) return Fail("init: " + report.error().message);
  if (report->hub_name != init.hub_name) {
    spdlog::warn("the hub is already named {} (the name is fixed at the first init); --hub-name {} ignored",
                 report->hub_name, init.hub_name);
  }
  for (const auto& what : report->created) std::cout << "created " << what << "\n";
  for (const auto& what : report->kept) std::cout << "kept    " << what << " (exists)\n";
  std::cout << "hub " << report->hub_name << " initialized in " << init.data_dir << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") {
    std::cout << "vmesh-hub " << VMESH_VERSION << "\n";
    return 0;
  }
  if (command == "init") return RunInit(args);
  return Fail("unknown command \"" + command + "\" (see vmesh-hub --help)");
}
