// Child processes for multi-process tests: run a command to completion with a timeout, or keep one
// running (a kubesim server, a `kubectl get --watch`) while reading its output.
//
// Output is stdout and stderr merged. Every process started is killed (SIGKILL after SIGTERM and a grace
// period) and reaped by the destructor at the latest. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace vmesh::kubesim {

struct ProcessOutput {
  int exit_code = -1;  // the exit status, or 128 + signal number
  bool timed_out = false;
  std::string output;
};

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (searched in PATH) with `env` ("NAME=value") added to this process's environment.
  Status Start(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

  // Reads output until it contains `text` (true) or `timeout` passes or the output ends (false).
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds timeout);
  // Reads output until the process closes it or `timeout` passes; then reaps it if it has exited.
  // Returns its exit code, or -1 when it is still running.
  int Wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `grace`; reaps the process. Returns its exit code.
  int Terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));

  const std::string& output() const { return output_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

 private:
  // Reads whatever output arrives within `timeout`; false once the output is closed.
  bool ReadSome(std::chrono::milliseconds timeout);
  bool TryReap(int* exit_code);

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string output_;
};

// Runs a command to completion; a command still running after `timeout` is killed (timed_out is set).
ProcessOutput RunProcess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::vector<std::string>& env = {});

}  // namespace vmesh::kubesim
