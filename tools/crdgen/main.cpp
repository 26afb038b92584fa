// crdgen: the vmesh CustomResourceDefinitions, generated from the API protos (see crd_generator.h).
//
//   crdgen [--descriptor-set FILE] [--output FILE | --check FILE]
//
// The schemas come from the generated messages linked into this program; their descriptions from FILE, the protos'
// descriptor set with source info (default: the one this build tree made). The YAML goes to stdout, or to
// --output; --check compares it with FILE instead and fails, naming the command that regenerates it, when they
// differ. Notes (a kind left out because its message does not exist yet, ...) go to stderr.
#include <google/protobuf/descriptor.h>

#include <iostream>
#include <string>

#include "common/base/files.h"
#include "tools/crdgen/crd_generator.h"

namespace {

constexpr char kUsage[] = "usage: crdgen [--descriptor-set FILE] [--output FILE | --check FILE]\n";

// The 1-based number of the first line where a and b differ.
size_t FirstDifferentLine(const std::string& a, const std::string& b) {
  size_t line = 1;
  for (size_t i = 0; i < a.size() && i < b.size() && a[i] == b[i]; ++i) line += a[i] == '\n';
  return line;
}

std::string LineAt(const std::string& text, size_t line) {
  size_t start = 0;
  for (size_t n = 1; n < line && start != std::string::npos; ++n) {
    start = text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  if (start == std::string::npos || start >= text.size()) return "(end of file)";
  return text.substr(start, text.find('\n', start) - start);
}

}  // namespace

int main(int argc, char** argv) {
  std::string descriptor_set = VMESH_CRDGEN_DESCRIPTOR_SET;
  std::string output, check;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--descriptor-set" || arg == "--output" || arg == "--check") && i + 1 < argc) {
      (arg == "--descriptor-set" ? descriptor_set : arg == "--output" ? output : check) = argv[++i];
    } else {
      std::cerr << (arg == "--help" || arg == "-h" ? "" : "crdgen: unexpected argument " + arg + "\n") << kUsage;
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  if (!output.empty() && !check.empty()) {
    std::cerr << "crdgen: --output and --check exclude each other\n" << kUsage;
    return 2;
  }

  vmesh::Result<std::string> serialized = vmesh::ReadFile(descriptor_set);
  if (!serialized.ok()) {
    std::cerr << "crdgen: cannot read the protos' descriptor set (build the target vmesh_proto_descriptor_set): "
              << serialized.error().message << "\n";
    return 1;
  }
  auto comments = vmesh::crdgen::Comments::FromDescriptorSet(*serialized);
  if (!comments.ok()) {
    std::cerr << "crdgen: " << descriptor_set << ": " << comments.error().message << "\n";
    return 1;
  }
  const vmesh::crdgen::GeneratedCrds crds = vmesh::crdgen::GenerateCrds(
      *google::protobuf::DescriptorPool::generated_pool(), vmesh::crdgen::VmeshKinds(), comments->get());
  for (const std::string& note : crds.notes) std::cerr << "crdgen: note: " << note << "\n";
  const std::string yaml = vmesh::crdgen::ToYaml(crds);

  if (!check.empty()) {
    vmesh::Result<std::string> current = vmesh::ReadFile(check);
    if (!current.ok()) {
      std::cerr << "crdgen: " << current.error().message << "\nGenerate it with ./scripts/gen-crds\n";
      return 1;
    }
    if (*current != yaml) {
      const size_t line = FirstDifferentLine(*current, yaml);
      std::cerr << check << " differs from the CRDs generated from the protos, first at line " << line
                << ":\n  checked in: " << LineAt(*current, line) << "\n  generated:  " << LineAt(yaml, line)
                << "\nRegenerate it with ./scripts/gen-crds and commit the result.\n";
      return 1;
    }
    std::cout << check << " is up to date with the protos\n";
    return 0;
  }
  if (!output.empty()) {
    vmesh::Status written = vmesh::WriteFileAtomically(output, yaml, 0644);
    if (!written.ok()) {
      std::cerr << "crdgen: " << written.error().message << "\n";
      return 1;
    }
    return 0;
  }
  std::cout << yaml;
  return std::cout.good() ? 0 : 1;
}
