// Small file helpers with the durability and permission guarantees the hub and agent need.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/base/result.h"

namespace vmesh {

// Writes `content` to `path` so that readers see the old file or the new one, never a torn one: a temporary
// file in the same directory created with `mode` (e.g. 0600 for keys, so the secret is never readable by
// others even for a moment), fsync'd, renamed over `path`, and the directory fsync'd.
Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode);

// Like WriteFileAtomically, but fails (without touching anything) if `path` already exists.
Status WriteNewFile(const std::string& path, const std::string& content, mode_t mode);

Result<std::string> ReadFile(const std::string& path);

// Creates the directory (and parents) if missing, with `mode` for what it creates.
Status MakeDirectories(const std::string& path, mode_t mode);

bool FileExists(const std::string& path);

}  // namespace vmesh
