// vmeshctl: the operator CLI against the hub's API (SPEC §2). The commands live in hub/cli/commands.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "hub/cli/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto invocation = vmesh::cli::ParseArguments(args);
  if (!invocation.ok()) {
    std::cerr << "vmeshctl: " << invocation.error().message << "\n";
    return 2;
  }
  return vmesh::cli::Run(*invocation, VMESH_VERSION, std::cout, std::cerr);
}
