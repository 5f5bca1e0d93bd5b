// The POSIX file objects behind Env::Default(), shared with ConfinedEnv,
// which opens its descriptors differently (beneath a directory fd) but reads,
// writes and locks them the same way.  Internal to src/util.
#pragma once

#include <memory>
#include <string>

#include "util/env.h"

namespace stele {

Status ErrnoStatus(const std::string& what, const std::string& path, int err);
// Each takes ownership of `fd`.
std::unique_ptr<WritableFile> NewPosixWritableFile(std::string path, int fd);
std::unique_ptr<RandomAccessFile> NewPosixRandomAccessFile(std::string path, int fd);
Result<std::unique_ptr<FileLock>> LockOpenFile(const std::string& path, int fd);

}  // namespace stele
