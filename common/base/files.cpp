#include "common/base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vmesh {
namespace {

Error Errno(const std::string& what) { return MakeError(what + ": " + std::strerror(errno)); }

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteAll(int fd, const std::string& content, const std::string& path) {
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write " + path);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return Errno("cannot sync " + path);
  return OkStatus();
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open directory " + dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot sync directory " + dir);
  return OkStatus();
}

// A new temporary file next to `path`, created by mkstemp (O_EXCL, random name), with `mode` and `content`,
// fsync'd. Returns its name; on failure nothing is left behind.
Result<std::string> WriteTemporary(const std::string& path, const std::string& content, mode_t mode) {
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Errno("cannot create a temporary file for " + path + " in " + DirName(path));
  // Before any byte is written, and independent of the umask.
  if (::fchmod(fd, mode) != 0) {
    Error e = Errno("cannot set the mode of " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  Status s = WriteAll(fd, content, tmp);
  if (::close(fd) != 0 && s.ok()) s = Errno("cannot write " + tmp);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s.error();
  }
  return tmp;
}

}  // namespace

Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode) {
  auto tmp = WriteTemporary(path, content, mode);
  if (!tmp.ok()) return tmp.error();
  if (::rename(tmp->c_str(), path.c_str()) != 0) {
    Error e = Errno("cannot rename " + *tmp + " to " + path);
    ::unlink(tmp->c_str());
    return e;
  }
  return SyncDirectory(DirName(path));
}

Status WriteNewFile(const std::string& path, const std::string& content, mode_t mode) {
  auto tmp = WriteTemporary(path, content, mode);
  if (!tmp.ok()) return tmp.error();
  // link() fails with EEXIST instead of replacing (and does not follow a symlink at `path`): the existing file
  // always wins.
  if (::link(tmp->c_str(), path.c_str()) != 0) {
    Error e = errno == EEXIST ? MakeError(path + " already exists") : Errno("cannot create " + path);
    ::unlink(tmp->c_str());
    return e;
  }
  ::unlink(tmp->c_str());
  return SyncDirectory(DirName(path));
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Errno("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Errno("cannot read " + path);
  return ss.str();
}

std::optional<std::string> PrivateFileModeProblem(unsigned mode, unsigned owner_uid, unsigned process_uid) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  const std::string has = std::string("has mode ") + text + " (owner uid " + std::to_string(owner_uid) + ")";
  if ((mode & 007) != 0) return has + ": it must not be accessible by others";
  if ((mode & 070) == 0) return std::nullopt;
  if (owner_uid == 0 && owner_uid != process_uid && (mode & 030) == 0) return std::nullopt;  // root's, group-readable
  if (owner_uid == 0 && owner_uid != process_uid) return has + ": its group must not write or execute it";
  return has + ": it must not be accessible by group or others (a group may only read a file owned by root)";
}

Result<std::string> ReadFile(const std::string& path, const ReadOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | (options.no_follow ? O_NOFOLLOW : 0));
  if (fd < 0) {
    if (errno == ELOOP && options.no_follow) {
      return MakeError("cannot read " + path + ": it is a symbolic link, which is not followed for this file");
    }
    return Errno("cannot read " + path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = Errno("cannot stat " + path);
    ::close(fd);
    return e;
  }
  auto refuse = [&](const std::string& why) -> Result<std::string> {
    ::close(fd);
    return MakeError(path + " " + why);
  };
  if ((options.max_bytes > 0 || options.private_only) && !S_ISREG(st.st_mode)) return refuse("is not a regular file");
  if (options.private_only) {
    if (auto problem = PrivateFileModeProblem(st.st_mode, st.st_uid, ::geteuid())) {
      return refuse(*problem + " (chmod 600 " + path + ")");
    }
  }
  if (options.max_bytes > 0 && static_cast<size_t>(st.st_size) > options.max_bytes) {
    return refuse("is " + std::to_string(st.st_size) + " bytes, more than the " + std::to_string(options.max_bytes) +
                  " expected");
  }
  // Secrets pass through here: size the buffer once (no reallocation leaves copies behind) and wipe the stack
  // buffer afterwards.
  std::string content;
  if (S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < (64 << 20)) content.reserve(st.st_size + 1);
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Errno("cannot read " + path);
      ::explicit_bzero(buf, sizeof buf);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
    if (options.max_bytes > 0 && content.size() > options.max_bytes) {
      ::explicit_bzero(buf, sizeof buf);
      return refuse("is larger than the " + std::to_string(options.max_bytes) + " bytes expected");
    }
  }
  ::explicit_bzero(buf, sizeof buf);
  ::close(fd);
  return content;
}

Status MakeDirectories(const std::string& path, mode_t mode) {
  if (path.empty()) return MakeError("empty directory path");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) return Errno("cannot create directory " + partial);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return MakeError(path + " is not a directory");
  return OkStatus();
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace vmesh
