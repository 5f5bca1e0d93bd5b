// Env: the one seam all of stele's file I/O goes through (after LevelDB's
// Env), so tests can inject failed writes, failed syncs or a slow disk.
// Implementations must be thread-safe; file objects are used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stele/status.h"

namespace stele {

// An append-only file.  A failed Append or Sync leaves the file in an
// unknown state; callers must not retry (fsyncgate) but stop writing.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;  // fdatasync
  virtual Status Close() = 0;
  virtual uint64_t Size() const = 0;
};

class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into scratch; *got < n only at EOF.
  virtual Status Read(uint64_t offset, size_t n, char* scratch, size_t* got) const = 0;
  virtual Result<uint64_t> Size() const = 0;
};

// Held lock on a data directory; released by destruction or process death.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();  // POSIX; lives for the program's lifetime

  // Opens for appending at the end, creating (mode 0600) if missing.
  virtual Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& path) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual Status CreateDir(const std::string& path) = 0;  // mode 0700; OK if it exists
  virtual Status SyncDir(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual Status Remove(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Exclusive, non-blocking advisory lock (flock).  kLocked if held elsewhere.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
};

// Reads a whole file; kCorruption if it is larger than `limit` bytes.
Result<std::string> ReadFileToString(Env* env, const std::string& path, size_t limit);

// Writes `bytes` to `path` atomically: a temporary file beside it, fsync,
// rename.  (The caller syncs the directory when the rename must survive a
// crash.)
Status WriteFileAtomically(Env* env, const std::string& path, std::string_view bytes);

}  // namespace stele
