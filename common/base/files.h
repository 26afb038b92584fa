// Small file helpers with the durability and permission guarantees the hub and agent need.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/base/result.h"

namespace vmesh {

// Every key, credential and config file the hub, agent and vmeshctl write goes through these two.
//
// Writes `content` to `path` so that readers see the old file or the new one, never a torn one: a temporary
// file created next to `path` with mkstemp (O_CREAT|O_EXCL, a fresh random name: a symlink planted at a
// predictable temporary name cannot redirect the write), given `mode` before any byte is written (e.g. 0600
// for keys, so the secret is never readable by others even for a moment), fsync'd, renamed over `path` (a
// symlink at `path` is replaced, not followed), and the directory fsync'd.
Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode);

// Like WriteFileAtomically, but fails (without touching anything) if `path` already exists (a dangling
// symlink included).
Status WriteNewFile(const std::string& path, const std::string& content, mode_t mode);

Result<std::string> ReadFile(const std::string& path);

struct ReadOptions {
  // O_NOFOLLOW: refuse when `path` itself is a symbolic link (secrets in a directory the process owns, where a
  // planted link would make it read, and later rewrite, another file).
  bool no_follow = false;
  // Refuse a file that group or others may access (mode & 077), like ssh for private keys; the error names the
  // file and its mode. Checked on the opened descriptor, so the check and the read see the same file.
  bool private_only = false;
  // Refuse anything but a regular file, and files larger than this (0: no limit); the error names the size.
  size_t max_bytes = 0;
};
Result<std::string> ReadFile(const std::string& path, const ReadOptions& options);

// Creates the directory (and parents) if missing, with `mode` for what it creates.
Status MakeDirectories(const std::string& path, mode_t mode);

bool FileExists(const std::string& path);

}  // namespace vmesh
