// Paths for tests (only test targets define the VMESH_TEST_* macros, see cmake/VmeshHelpers.cmake). The
// environment variables VMESH_SOURCE_DIR and VMESH_BINARY_DIR override them.
#pragma once

#include <cstdlib>
#include <string>

namespace vmesh::testpaths {

inline std::string PathFromEnv(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

inline std::string SourceDir() { return PathFromEnv("VMESH_SOURCE_DIR", VMESH_TEST_SOURCE_DIR); }
// Vendored material (third_party/README.md names each file's source and licence).
inline std::string IstioCrdsFile() { return SourceDir() + "/third_party/istio/crds.yaml"; }
inline std::string GlooCorpusFile() { return SourceDir() + "/third_party/gloo-mesh/virtualmesh-examples.yaml"; }
// The CMake build tree (where the programs are).
inline std::string BinaryDir() { return PathFromEnv("VMESH_BINARY_DIR", VMESH_TEST_BINARY_DIR); }

}  // namespace vmesh::testpaths
