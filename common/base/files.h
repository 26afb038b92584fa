// Small file helpers with the durability and permission guarantees the hub and agent need.
#pragma once

#include <sys/types.h>

#include <optional>
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
  // Refuse a file that others may access, as PrivateFileModeProblem() says; the error names the file, its mode
  // and owner. Checked on the opened descriptor, so the check and the read see the same file.
  bool private_only = false;
  // Refuse anything but a regular file, and files larger than this (0: no limit); the error names the size.
  size_t max_bytes = 0;
};
Result<std::string> ReadFile(const std::string& path, const ReadOptions& options);

// Why a secret file with this mode and owner must not be used (nullopt: it may), PostgreSQL's rule for its TLS
// key: a file owned by the reading user must be 0600 or stricter; a file owned by root may also be read by its
// group (0640/0440: how Kubernetes mounts a Secret for a non-root pod with an fsGroup) but never written by it;
// others never have any access. `process_uid` is the reader's effective uid.
std::optional<std::string> PrivateFileModeProblem(unsigned mode, unsigned owner_uid, unsigned process_uid);

// Creates the directory (and parents) if missing, with `mode` for what it creates.
Status MakeDirectories(const std::string& path, mode_t mode);

bool FileExists(const std::string& path);

}  // namespace vmesh
