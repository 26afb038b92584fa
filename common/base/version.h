// Comparing dotted versions such as Istio's ("1.20.3", "1.19.0-distroless").
#pragma once

#include <cstdio>
#include <string>

namespace vmesh {

// True when `version` is at least major.minor; false when it does not start with "<major>.<minor>".
inline bool VersionAtLeast(const std::string& version, int major, int minor) {
  int ma = 0, mi = 0;
  if (std::sscanf(version.c_str(), "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

}  // namespace vmesh
