// ConfinedEnv: the Env a data directory is opened through (SPEC §7).  Every
// path it is given must name a file beneath `root`; it is resolved relative
// to a descriptor of `root` with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
// (or, where the kernel lacks openat2, one openat(O_NOFOLLOW) per component),
// so no `..`, absolute path, symlink, or name spelled to look harmless
// reaches a file outside it, even if someone plants a symlink inside the
// directory.  Such a path fails with kPermissionDenied naming it.
//
// Owns only the root's name: each call opens the root afresh, so the object
// is cheap to make on the stack and holds no descriptor between calls.  The
// root itself is trusted as given (it may be a symlink the operator made).
// Directories are created 0700 and files 0600.  Thread-safe.
#pragma once

#include <string>

#include "util/env.h"

namespace stele {

class ConfinedEnv final : public Env {
 public:
  explicit ConfinedEnv(std::string root);

  const std::string& root() const { return root_; }
  // The part of `path` beneath root ("segments/0001.seg"; runs of slashes
  // count as one, as they do on POSIX), or
  // kPermissionDenied when `path` is not beneath it or a component is not a
  // plain name: empty, ".", "..", or anything outside [A-Za-z0-9._+-] (which
  // every name the engine makes fits: no NUL, backslash or percent sign).
  Result<std::string> Relative(const std::string& path) const;

  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override;
  Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& path) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status CreateDir(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Status Remove(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  bool Exists(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

  // Tests run both resolution strategies; the default uses openat2 when the
  // kernel has it.
  static void UseComponentWalkForTesting(bool on);

 private:
  // An fd for `rel` beneath root (rel "" is the root itself), opened with
  // `flags` (O_CLOEXEC | O_NOFOLLOW added) and `mode`.
  Result<int> OpenBeneath(const std::string& rel, int flags, unsigned mode) const;
  // The parent directory of `rel` (an O_PATH fd) and rel's last component.
  Result<int> OpenParent(const std::string& rel, std::string* leaf) const;

  std::string root_;
};

}  // namespace stele
