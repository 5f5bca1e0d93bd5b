#include "util/compressed_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

namespace stele {
namespace {

constexpr size_t kBufferBytes = 1 << 20;

std::string Errno(const std::string& what, const std::string& path) {
  return path + ": " + what + ": " + std::strerror(errno);
}

}  // namespace

// --- reading -----------------------------------------------------------------

struct CompressedReader::Codec {
  z_stream z{};
  bool z_ready = false;
  ZSTD_DStream* zstd = nullptr;
  ~Codec() {
    if (z_ready) inflateEnd(&z);
    ZSTD_freeDStream(zstd);
  }
};

CompressedReader::CompressedReader(std::string path, int fd, uint64_t file_size)
    : path_(std::move(path)), fd_(fd), file_size_(file_size), codec_(std::make_unique<Codec>()) {
  in_.resize(kBufferBytes);
}

CompressedReader::~CompressedReader() {
  if (fd_ != STDIN_FILENO) ::close(fd_);
}

Result<std::unique_ptr<CompressedReader>> CompressedReader::Open(const std::string& path) {
  int fd = STDIN_FILENO;
  uint64_t size = 0;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return errno == ENOENT ? Status::NotFound(Errno("open", path)) : Status::IOError(Errno("open", path));
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) size = static_cast<uint64_t>(st.st_size);
  }
  std::unique_ptr<CompressedReader> r(new CompressedReader(path == "-" ? "<stdin>" : path, fd, size));
  // The magic number decides: gzip 1f 8b, zstd 28 b5 2f fd.
  while (r->in_end_ < 4) {
    auto more = r->Fill();
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  const auto* b = reinterpret_cast<const unsigned char*>(r->in_.data());
  if (r->in_end_ >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
    r->kind_ = Kind::kGzip;
    // 15 + 16: a gzip wrapper, the largest window.
    if (inflateInit2(&r->codec_->z, 15 + 16) != Z_OK) return Status::IOError(r->path_ + ": zlib: out of memory");
    r->codec_->z_ready = true;
  } else if (r->in_end_ >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) {
    r->kind_ = Kind::kZstd;
    r->codec_->zstd = ZSTD_createDStream();
    if (r->codec_->zstd == nullptr) return Status::IOError(r->path_ + ": zstd: out of memory");
  }
  return r;
}

Result<bool> CompressedReader::Fill() {
  if (file_done_) return false;
  if (in_pos_ > 0) {
    std::memmove(in_.data(), in_.data() + in_pos_, in_end_ - in_pos_);
    in_end_ -= in_pos_;
    in_pos_ = 0;
  }
  if (in_end_ == in_.size()) return true;  // full: the caller consumes first
  while (true) {
    const ssize_t n = ::read(fd_, in_.data() + in_end_, in_.size() - in_end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(Errno("read", path_));
    if (n == 0) {
      file_done_ = true;
      return false;
    }
    in_end_ += static_cast<size_t>(n);
    consumed_ += static_cast<uint64_t>(n);
    return true;
  }
}

Status CompressedReader::Damaged(const std::string& why) const {
  const char* what = kind_ == Kind::kGzip ? "gzip" : "zstd";
  return Status::Corruption(path_ + ": " + what + " stream " + why);
}

Result<size_t> CompressedReader::Read(char* buf, size_t n) {
  if (n == 0) return size_t{0};
  while (true) {
    bool file_ended = false;  // and the decoder may still hold output
    if (in_pos_ == in_end_) {
      auto more = Fill();
      if (!more.ok()) return more.status();
      if (!*more) {
        if (!in_frame_) return size_t{0};
        file_ended = true;
      }
    }
    if (kind_ == Kind::kPlain) {
      const size_t k = std::min(n, in_end_ - in_pos_);
      std::memcpy(buf, in_.data() + in_pos_, k);
      in_pos_ += k;
      return k;
    }
    size_t produced = 0;
    if (kind_ == Kind::kGzip) {
      z_stream& z = codec_->z;
      z.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
      z.avail_in = static_cast<uInt>(in_end_ - in_pos_);
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = static_cast<uInt>(std::min<size_t>(n, UINT32_MAX));
      const int rc = inflate(&z, Z_NO_FLUSH);
      in_pos_ = in_end_ - z.avail_in;
      produced = std::min<size_t>(n, UINT32_MAX) - z.avail_out;
      if (rc == Z_STREAM_END) {
        in_frame_ = false;
        inflateReset(&z);  // another member may follow
      } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
        in_frame_ = true;
      } else {
        return Damaged(std::string("is damaged: ") + (z.msg ? z.msg : "zlib error " + std::to_string(rc)));
      }
    } else {
      ZSTD_inBuffer in{in_.data(), in_end_, in_pos_};
      ZSTD_outBuffer out{buf, n, 0};
      const size_t rc = ZSTD_decompressStream(codec_->zstd, &out, &in);
      if (ZSTD_isError(rc)) return Damaged(std::string("is damaged: ") + ZSTD_getErrorName(rc));
      in_pos_ = in.pos;
      produced = out.pos;
      in_frame_ = rc != 0;  // 0: a frame ended
    }
    if (produced > 0) return produced;
    if (file_ended) return Damaged("is truncated (the file ends inside it)");
  }
}

// --- writing -----------------------------------------------------------------

struct CompressedWriter::Codec {
  enum class Kind { kPlain, kGzip, kZstd } kind = Kind::kPlain;
  z_stream z{};
  bool z_ready = false;
  ZSTD_CCtx* zstd = nullptr;
  ~Codec() {
    if (z_ready) deflateEnd(&z);
    ZSTD_freeCCtx(zstd);
  }
};

CompressedWriter::CompressedWriter(std::string path, std::string tmp, int fd)
    : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd), codec_(std::make_unique<Codec>()) {}

CompressedWriter::~CompressedWriter() {
  if (fd_ == STDOUT_FILENO) return;
  ::close(fd_);
  if (!finished_) ::unlink(tmp_.c_str());
}

Result<std::unique_ptr<CompressedWriter>> CompressedWriter::Create(const std::string& path, bool overwrite) {
  if (path == "-") return std::unique_ptr<CompressedWriter>(new CompressedWriter("<stdout>", "", STDOUT_FILENO));
  struct stat st {};
  if (!overwrite && ::stat(path.c_str(), &st) == 0) {
    return Status::InvalidArgument(path + ": exists (choose another name, or overwrite it with --force)");
  }
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(Errno("create", tmp));
  std::unique_ptr<CompressedWriter> w(new CompressedWriter(path, tmp, fd));
  Codec& c = *w->codec_;
  if (path.ends_with(".gz")) {
    c.kind = Codec::Kind::kGzip;
    if (deflateInit2(&c.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      return Status::IOError(path + ": zlib: out of memory");
    }
    c.z_ready = true;
  } else if (path.ends_with(".zst")) {
    c.kind = Codec::Kind::kZstd;
    c.zstd = ZSTD_createCCtx();
    if (c.zstd == nullptr) return Status::IOError(path + ": zstd: out of memory");
    ZSTD_CCtx_setParameter(c.zstd, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(c.zstd, ZSTD_c_checksumFlag, 1);
  }
  w->out_.resize(kBufferBytes);
  return w;
}

Status CompressedWriter::WriteFile(const char* p, size_t n) {
  while (n > 0) {
    const ssize_t k = ::write(fd_, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return Status::IOError(Errno("write", fd_ == STDOUT_FILENO ? path_ : tmp_));
    p += k;
    n -= static_cast<size_t>(k);
    written_ += static_cast<uint64_t>(k);
  }
  return Status::Ok();
}

Status CompressedWriter::Compress(std::string_view bytes, bool end) {
  Codec& c = *codec_;
  if (c.kind == Codec::Kind::kGzip) {
    c.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    c.z.avail_in = static_cast<uInt>(bytes.size());
    while (true) {
      c.z.next_out = reinterpret_cast<Bytef*>(out_.data());
      c.z.avail_out = static_cast<uInt>(out_.size());
      const int rc = deflate(&c.z, end ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) return Status::IOError(path_ + ": zlib: deflate failed");
      STELE_RETURN_IF_ERROR(WriteFile(out_.data(), out_.size() - c.z.avail_out));
      if (end ? rc == Z_STREAM_END : c.z.avail_in == 0 && c.z.avail_out != 0) return Status::Ok();
    }
  }
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  while (true) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    const size_t left = ZSTD_compressStream2(c.zstd, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(left)) return Status::IOError(path_ + ": zstd: " + ZSTD_getErrorName(left));
    STELE_RETURN_IF_ERROR(WriteFile(out_.data(), out.pos));
    if (end ? left == 0 : in.pos == in.size) return Status::Ok();
  }
}

Status CompressedWriter::Write(std::string_view bytes) {
  if (finished_) return Status::InvalidArgument(path_ + ": written after Finish()");
  if (codec_->kind == Codec::Kind::kPlain) return WriteFile(bytes.data(), bytes.size());
  return Compress(bytes, false);
}

Status CompressedWriter::Finish() {
  if (finished_) return Status::Ok();
  if (codec_->kind != Codec::Kind::kPlain) STELE_RETURN_IF_ERROR(Compress({}, true));
  if (fd_ == STDOUT_FILENO) {
    finished_ = true;
    return Status::Ok();
  }
  if (::fdatasync(fd_) != 0) return Status::IOError(Errno("fdatasync", tmp_));
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return Status::IOError(Errno("rename into place", path_));
  finished_ = true;
  // The rename itself is durable once the directory is synced.
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    ::close(dfd);
    if (rc != 0) return Status::IOError(Errno("fsync", dir));
  }
  return Status::Ok();
}

}  // namespace stele
