// TestCluster: a kubesim server started as a child process for multi-process tests, with its own
// temporary directory (kubeconfig, seeds, a HOME for kubectl's caches) that is removed afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "e2e/kubesim/subprocess.h"

namespace vmesh::kubesim {

class TestCluster {
 public:
  TestCluster() = default;
  // Terminates the server and removes the temporary directory.
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  // Starts `kubesim_binary --listen 127.0.0.1:0 --kubeconfig-out DIR/kubeconfig --cluster-name NAME` plus
  // `extra_args`, and waits until it reports its address.
  Status Start(const std::string& kubesim_binary, const std::string& cluster_name = "kubesim",
               const std::vector<std::string>& extra_args = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // Runs `kubectl --kubeconfig <kubeconfig> args...` with HOME in the temporary directory.
  ProcessOutput Kubectl(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // Starts kubectl without waiting for it (e.g. `get --watch`).
  Status StartKubectl(ChildProcess& process, const std::vector<std::string>& args) const;

  // Writes a file into the temporary directory and returns its path.
  Result<std::string> WriteFile(const std::string& name, const std::string& content) const;

  const std::string& dir() const { return dir_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  uint16_t port() const { return port_; }
  // The server's output so far.
  const std::string& server_output() const { return server_.output(); }
  ChildProcess& server() { return server_; }

 private:
  std::vector<std::string> KubectlArgv(const std::vector<std::string>& args) const;

  std::string dir_;
  std::string kubeconfig_;
  uint16_t port_ = 0;
  ChildProcess server_;
};

// The kubectl found in PATH, or empty.
std::string FindKubectl();

}  // namespace vmesh::kubesim
