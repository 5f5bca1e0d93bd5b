#include "util/confined_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "util/posix_file.h"

namespace stele {
namespace {

std::atomic<bool> force_walk{false};

// Closes a descriptor at scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

bool PlainName(std::string_view c) {
  if (c.empty() || c == "." || c == "..") return false;
  for (char ch : c) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                    ch == '_' || ch == '-' || ch == '+';
    if (!ok) return false;
  }
  return true;
}

Status Refused(const std::string& rel, const std::string& why) {
  return Status::PermissionDenied("\"" + rel + "\": " + why);
}

// "a//b/" -> "a/b": runs of slashes mean one on POSIX, and a trailing one
// names the same directory ("--dir data/" builds paths like "data//segments").
std::string CollapseSlashes(std::string_view p) {
  std::string out;
  out.reserve(p.size());
  for (char c : p) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

bool IsSymlinkAt(int dirfd, const std::string& name) {
  struct stat st;
  return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

}  // namespace

ConfinedEnv::ConfinedEnv(std::string root) : root_(CollapseSlashes(root)) {}

void ConfinedEnv::UseComponentWalkForTesting(bool on) { force_walk = on; }

Result<std::string> ConfinedEnv::Relative(const std::string& given) const {
  std::string rel;
  const std::string path = CollapseSlashes(given);
  if (path == root_) return rel;
  const bool under = root_ == "/" ? path.size() > 1 && path[0] == '/'
                                  : path.size() > root_.size() + 1 && path.compare(0, root_.size(), root_) == 0 &&
                                        path[root_.size()] == '/';
  if (!under) return Status::PermissionDenied("\"" + given + "\": outside the data directory " + root_);
  rel = path.substr(root_ == "/" ? 1 : root_.size() + 1);
  size_t start = 0;
  while (true) {
    const size_t slash = rel.find('/', start);
    const std::string_view c = std::string_view(rel).substr(start, slash == std::string::npos ? rel.npos : slash - start);
    if (!PlainName(c)) return Refused(rel, "not a plain file name beneath the data directory");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return rel;
}

Result<int> ConfinedEnv::OpenBeneath(const std::string& rel, int flags, unsigned mode) const {
  Fd root(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) {
    if (errno == ENOENT) return Status::NotFound(root_ + ": no such directory");
    return ErrnoStatus("open", root_, errno);
  }
  flags |= O_CLOEXEC | O_NOFOLLOW;
  if (rel.empty()) {
    int fd = ::openat(root.get(), ".", flags & ~O_NOFOLLOW);
    if (fd < 0) return ErrnoStatus("open", root_, errno);
    return fd;
  }
  if (!force_walk.load(std::memory_order_relaxed)) {
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    // Without O_NOFOLLOW, so a symlinked leaf fails ELOOP (RESOLVE_NO_SYMLINKS)
    // rather than being opened itself (O_PATH) or failing ENOTDIR.
    how.flags = static_cast<uint64_t>(flags & ~O_NOFOLLOW);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    const int err = errno;
    if (err == ELOOP || err == EXDEV) return Refused(rel, "crosses a symlink or leaves the data directory; not followed");
    if (err == ENOENT) return Status::NotFound(root_ + "/" + rel + ": no such file");
    if (err != ENOSYS && err != EPERM) return ErrnoStatus("open", root_ + "/" + rel, err);
    // ENOSYS (kernel < 5.6) or EPERM (a seccomp filter): walk instead.
  }
  // One component at a time; O_NOFOLLOW | O_DIRECTORY refuses a symlinked
  // directory, O_NOFOLLOW a symlinked leaf.
  Fd cur(root.release());
  size_t start = 0;
  while (true) {
    const size_t slash = rel.find('/', start);
    const std::string comp = rel.substr(start, slash == std::string::npos ? rel.npos : slash - start);
    const bool last = slash == std::string::npos;
    const int f = last ? flags : (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int fd = ::openat(cur.get(), comp.c_str(), f, (f & O_CREAT) ? mode : 0);
    if (fd < 0) {
      const int err = errno;
      if (err == ELOOP || ((err == ENOTDIR) && IsSymlinkAt(cur.get(), comp))) {
        return Refused(rel, "crosses a symlink; not followed");
      }
      if (err == ENOENT) return Status::NotFound(root_ + "/" + rel + ": no such file");
      return ErrnoStatus("open", root_ + "/" + rel, err);
    }
    Fd next(fd);
    if (last) {
      struct stat st;
      // O_PATH | O_NOFOLLOW opens a symlink itself rather than failing.
      if ((flags & O_PATH) && ::fstatat(next.get(), "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode)) {
        return Refused(rel, "is a symlink; not followed");
      }
      return next.release();
    }
    cur.reset(next.release());
    start = slash + 1;
  }
}

Result<int> ConfinedEnv::OpenParent(const std::string& rel, std::string* leaf) const {
  const size_t slash = rel.rfind('/');
  *leaf = slash == std::string::npos ? rel : rel.substr(slash + 1);
  return OpenBeneath(slash == std::string::npos ? "" : rel.substr(0, slash), O_PATH | O_DIRECTORY, 0);
}

Result<std::unique_ptr<WritableFile>> ConfinedEnv::OpenAppendable(const std::string& path) {
  auto rel = Relative(path);
  if (!rel.ok()) return rel.status();
  auto fd = OpenBeneath(*rel, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (!fd.ok()) return fd.status();
  return NewPosixWritableFile(path, *fd);
}

Result<std::unique_ptr<RandomAccessFile>> ConfinedEnv::OpenReadable(const std::string& path) {
  auto rel = Relative(path);
  if (!rel.ok()) return rel.status();
  auto fd = OpenBeneath(*rel, O_RDONLY, 0);
  if (!fd.ok()) return fd.status();
  return NewPosixRandomAccessFile(path, *fd);
}

Status ConfinedEnv::Truncate(const std::string& path, uint64_t size) {
  auto rel = Relative(path);
  if (!rel.ok()) return rel.status();
  auto fd = OpenBeneath(*rel, O_WRONLY, 0);
  if (!fd.ok()) return fd.status();
  Fd f(*fd);
  if (::ftruncate(f.get(), static_cast<off_t>(size)) != 0) return ErrnoStatus("ftruncate", path, errno);
  if (::fsync(f.get()) != 0) return ErrnoStatus("fsync", path, errno);
  return Status::Ok();
}

Status ConfinedEnv::CreateDir(const std::string& path) {
  auto rel = Relative(path);
  if (!rel.ok()) return rel.status();
  if (rel->empty()) {
    if (::mkdir(root_.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus("mkdir", root_, errno);
  } else {
    std::string leaf;
    auto parent = OpenParent(*rel, &leaf);
    if (!parent.ok()) return parent.status();
    Fd p(*parent);
    if (::mkdirat(p.get(), leaf.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus("mkdir", path, errno);
  }
  // Whatever is there now must be a real directory beneath root.
  auto fd = OpenBeneath(*rel, O_PATH | O_DIRECTORY, 0);
  if (!fd.ok()) {
    if (fd.status().code() == StatusCode::kIOError) return Status::IOError(path + ": exists and is not a directory");
    return fd.status();
  }
  ::close(*fd);
  return Status::Ok();
}

Status ConfinedEnv::SyncDir(const std::string& path) {
  auto rel = Relative(path);
  if (!rel.ok()) return rel.status();
  auto fd = OpenBeneath(*rel, O_RDONLY | O_DIRECTORY, 0);
  if (!fd.ok()) return fd.status();
  Fd f(*fd);
  if (::fsync(f.get()) != 0) return ErrnoStatus("fsync", path, errno);
  return Status::Ok();
}

Result<std::vector<std::string>> ConfinedEnv::ListDir(const std::string& path) {
  auto rel = Relative(path);
  if (!rel.ok()) return rel.status();
  auto fd = OpenBeneath(*rel, O_RDONLY | O_DIRECTORY, 0);
  if (!fd.ok()) {
    if (fd.status().code() == StatusCode::kNotFound) return Status::NotFound(path + ": no such directory");
    return fd.status();
  }
  DIR* d = ::fdopendir(*fd);
  if (d == nullptr) {
    const int err = errno;
    ::close(*fd);
    return ErrnoStatus("fdopendir", path, err);
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  return names;
}

Status ConfinedEnv::Remove(const std::string& path) {
  auto rel = Relative(path);
  if (!rel.ok()) return rel.status();
  if (rel->empty()) return Refused(path, "the data directory itself is never removed");
  std::string leaf;
  auto parent = OpenParent(*rel, &leaf);
  if (!parent.ok()) return parent.status();
  Fd p(*parent);
  if (::unlinkat(p.get(), leaf.c_str(), 0) != 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return ErrnoStatus("unlink", path, errno);
  }
  return Status::Ok();
}

Status ConfinedEnv::Rename(const std::string& from, const std::string& to) {
  auto rel_from = Relative(from);
  if (!rel_from.ok()) return rel_from.status();
  auto rel_to = Relative(to);
  if (!rel_to.ok()) return rel_to.status();
  if (rel_from->empty() || rel_to->empty()) return Refused(from, "the data directory itself is never renamed");
  std::string leaf_from, leaf_to;
  auto pf = OpenParent(*rel_from, &leaf_from);
  if (!pf.ok()) return pf.status();
  Fd f(*pf);
  auto pt = OpenParent(*rel_to, &leaf_to);
  if (!pt.ok()) return pt.status();
  Fd t(*pt);
  if (::renameat(f.get(), leaf_from.c_str(), t.get(), leaf_to.c_str()) != 0) {
    return ErrnoStatus("rename", from + " -> " + to, errno);
  }
  return Status::Ok();
}

bool ConfinedEnv::Exists(const std::string& path) {
  auto rel = Relative(path);
  if (!rel.ok()) return false;
  auto fd = OpenBeneath(*rel, O_PATH, 0);
  if (fd.ok()) {
    ::close(*fd);
    return true;
  }
  // Something is there, but it may not be opened: callers then get the
  // refusal from the open itself.
  return fd.status().code() == StatusCode::kPermissionDenied;
}

Result<std::unique_ptr<FileLock>> ConfinedEnv::LockFile(const std::string& path) {
  auto rel = Relative(path);
  if (!rel.ok()) return rel.status();
  auto fd = OpenBeneath(*rel, O_RDWR | O_CREAT, 0600);
  if (!fd.ok()) return fd.status();
  return LockOpenFile(path, *fd);
}

}  // namespace stele
