#include "e2e/kubesim/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace vmesh::kubesim {
namespace {

using SteadyClock = std::chrono::steady_clock;

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Terminate(std::chrono::seconds(2));
  if (fd_ >= 0) close(fd_);
}

Status ChildProcess::Start(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  if (pid_ > 0) return MakeError("a process is already running");
  if (argv.empty()) return MakeError("empty command");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return MakeError(std::string("pipe: ") + std::strerror(errno));
  // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& e : env) {
    std::string name = e.substr(0, e.find('=') + 1);
    std::erase_if(env_strings, [&](const std::string& s) { return s.starts_with(name); });
    env_strings.push_back(e);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return MakeError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execvpe(args[0], args.data(), envp.data());
    const char msg[] = "exec failed\n";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(127);
  }
  close(fds[1]);
  pid_ = pid;
  fd_ = fds[0];
  output_.clear();
  return OkStatus();
}

bool ChildProcess::ReadSome(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  int ready = poll(&p, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
  if (ready <= 0) return true;
  char buf[4096];
  ssize_t n = read(fd_, buf, sizeof(buf));
  if (n > 0) {
    output_.append(buf, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && errno == EINTR) return true;
  close(fd_);
  fd_ = -1;
  return false;
}

bool ChildProcess::WaitForOutput(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (output_.find(text) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    if (!ReadSome(left)) return output_.find(text) != std::string::npos;
  }
  return true;
}

bool ChildProcess::TryReap(int* exit_code) {
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    *exit_code = ExitCode(status);
    pid_ = -1;
    return true;
  }
  return false;
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  int code = -1;
  while (SteadyClock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (fd_ >= 0) {
      ReadSome(left);
      continue;
    }
    if (TryReap(&code)) return code;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return TryReap(&code) ? code : -1;
}

int ChildProcess::Terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto deadline = SteadyClock::now() + grace;
  int code = -1;
  while (!TryReap(&code)) {
    if (SteadyClock::now() >= deadline) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
      code = ExitCode(status);
      break;
    }
    ReadSome(std::chrono::milliseconds(10));
  }
  while (ReadSome(std::chrono::milliseconds(0)) && fd_ >= 0) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;
  }
  return code;
}

ProcessOutput RunProcess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::vector<std::string>& env) {
  ProcessOutput result;
  ChildProcess child;
  if (Status s = child.Start(argv, env); !s.ok()) {
    result.output = s.error().message;
    return result;
  }
  result.exit_code = child.Wait(timeout);
  if (child.running()) {
    result.timed_out = true;
    result.exit_code = child.Terminate(std::chrono::seconds(1));
  }
  result.output = child.output();
  return result;
}

}  // namespace vmesh::kubesim
