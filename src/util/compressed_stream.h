// Byte streams to and from files that may be gzip- or zstd-compressed: what
// `stele import` reads (rotated logs are usually .gz) and `stele export`
// writes.  zlib and libzstd do the work; these classes only choose between
// them and keep the buffers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "stele/status.h"

namespace stele {

// Reads a file, or standard input for "-", as its content: a gzip stream
// (any number of members, as `cat a.gz b.gz` makes) or a zstd stream (any
// number of frames) is decompressed, told by its magic number rather than
// its name; anything else is read as it is.
//
// Owns the file descriptor (not stdin's).  One thread.  A damaged or
// truncated compressed stream is an error naming the file, never a silent
// short read.
class CompressedReader {
 public:
  enum class Kind { kPlain, kGzip, kZstd };

  static Result<std::unique_ptr<CompressedReader>> Open(const std::string& path);
  ~CompressedReader();
  CompressedReader(const CompressedReader&) = delete;
  CompressedReader& operator=(const CompressedReader&) = delete;

  // Up to n bytes of content into buf; 0 at the end of it.
  Result<size_t> Read(char* buf, size_t n);

  Kind kind() const { return kind_; }
  const std::string& path() const { return path_; }
  // Bytes of the file read so far, and its size (0 for a pipe): progress.
  uint64_t consumed() const { return consumed_; }
  uint64_t file_size() const { return file_size_; }

 private:
  struct Codec;
  CompressedReader(std::string path, int fd, uint64_t file_size);
  // Refills in_ from the file; false at its end.
  Result<bool> Fill();
  Status Damaged(const std::string& why) const;

  const std::string path_;
  const int fd_;
  const uint64_t file_size_;
  Kind kind_ = Kind::kPlain;
  std::unique_ptr<Codec> codec_;
  std::string in_;       // file bytes not yet consumed: in_[in_pos_, in_end_)
  size_t in_pos_ = 0, in_end_ = 0;
  bool file_done_ = false;
  bool in_frame_ = false;  // inside a gzip member or zstd frame not yet ended
  uint64_t consumed_ = 0;
};

// Writes a file whose name says how to compress it: ".gz" gzip (level 6),
// ".zst" zstd (level 3), anything else as it is; "-" is standard output,
// uncompressed.  The content goes to "<path>.tmp-<pid>" and becomes <path>
// only in Finish(), after an fdatasync: a crash or an error never leaves
// a half-written file under the final name.
//
// One thread.  Destroyed without Finish(), it removes the temporary file.
class CompressedWriter {
 public:
  // kAlreadyExists-like refusal (kInvalidArgument) when path exists and
  // !overwrite.
  static Result<std::unique_ptr<CompressedWriter>> Create(const std::string& path, bool overwrite);
  ~CompressedWriter();
  CompressedWriter(const CompressedWriter&) = delete;
  CompressedWriter& operator=(const CompressedWriter&) = delete;

  Status Write(std::string_view bytes);
  // Ends the stream, syncs and renames into place.
  Status Finish();
  // Bytes written to the file so far (compressed).
  uint64_t written() const { return written_; }

 private:
  struct Codec;
  CompressedWriter(std::string path, std::string tmp, int fd);
  Status WriteFile(const char* p, size_t n);
  Status Compress(std::string_view bytes, bool end);

  const std::string path_, tmp_;
  const int fd_;
  std::unique_ptr<Codec> codec_;
  std::string out_;
  uint64_t written_ = 0;
  bool finished_ = false;
};

}  // namespace stele
