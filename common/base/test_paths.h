// Paths for tests (only test targets define the VMESH_TEST_* macros, see cmake/VmeshHelpers.cmake). The
// environment variables VMESH_SHARED_DIR, VMESH_SOURCE_DIR and VMESH_BINARY_DIR override them.
#pragma once

#include <cstdlib>
#include <string>

namespace vmesh::testpaths {

inline std::string PathFromEnv(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// The shared/ folder: SPEC, Istio CRDs, the Gloo Mesh corpus.
inline std::string SharedDir() { return PathFromEnv("VMESH_SHARED_DIR", VMESH_TEST_SHARED_DIR); }
inline std::string SourceDir() { return PathFromEnv("VMESH_SOURCE_DIR", VMESH_TEST_SOURCE_DIR); }
// The CMake build tree (where the programs are).
inline std::string BinaryDir() { return PathFromEnv("VMESH_BINARY_DIR", VMESH_TEST_BINARY_DIR); }

}  // namespace vmesh::testpaths
