#include "e2e/kubesim/test_cluster.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace vmesh::kubesim {

TestCluster::~TestCluster() {
  server_.Terminate();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Status TestCluster::Start(const std::string& kubesim_binary, const std::string& cluster_name,
                          const std::vector<std::string>& extra_args, std::chrono::milliseconds timeout) {
  if (dir_.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kubesim-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return MakeError("mkdtemp failed for " + tmpl);
    dir_ = tmpl;
  }
  kubeconfig_ = dir_ + "/kubeconfig";
  std::vector<std::string> argv = {kubesim_binary, "--listen",       "127.0.0.1:0", "--kubeconfig-out",
                                   kubeconfig_,    "--cluster-name", cluster_name};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  if (Status s = server_.Start(argv); !s.ok()) return s;
  const std::string marker = "listening on 127.0.0.1:";
  if (!server_.WaitForOutput(marker, timeout) || !server_.WaitForOutput("\n", std::chrono::seconds(1))) {
    return MakeError("kubesim did not report its address; output: " + server_.output());
  }
  size_t at = server_.output().find(marker) + marker.size();
  port_ = static_cast<uint16_t>(std::stoi(server_.output().substr(at)));
  return OkStatus();
}

std::vector<std::string> TestCluster::KubectlArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"kubectl", "--kubeconfig", kubeconfig_};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ProcessOutput TestCluster::Kubectl(const std::vector<std::string>& args, std::chrono::milliseconds timeout) const {
  return RunProcess(KubectlArgv(args), timeout, {"HOME=" + dir_});
}

Status TestCluster::StartKubectl(ChildProcess& process, const std::vector<std::string>& args) const {
  return process.Start(KubectlArgv(args), {"HOME=" + dir_});
}

Result<std::string> TestCluster::WriteFile(const std::string& name, const std::string& content) const {
  std::string path = dir_ + "/" + name;
  std::ofstream out(path, std::ios::trunc);
  out << content;
  if (!out.flush()) return MakeError("cannot write " + path);
  return path;
}

std::string FindKubectl() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t colon = dirs.find(':', start);
    std::string dir = dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/kubectl";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return {};
}

}  // namespace vmesh::kubesim
