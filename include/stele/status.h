// Status and Result<T>: errors are values on every data path of stele.
//
// A Status is either OK or carries a code a caller can act on plus one
// human-readable line naming the field/file and the reason.  Result<T> holds
// either a T or a non-OK Status.  Neither throws.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace stele {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input: the message names the field and the reason
  kBusy,             // queue full past the deadline; retry later
  kRateLimited,      // over a configured rate
  kCorruption,       // stored bytes fail their checksum or structure
  kIOError,          // the OS refused a read/write/sync
  kReadOnly,         // an earlier write/fsync failed; the log refuses writes
  kLocked,           // another process holds the data directory
  kNotFound,
  kClosed,           // the log was shut down
  kPermissionDenied, // a path leaves the data directory or crosses a symlink
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }
  static Status RateLimited(std::string m) { return {StatusCode::kRateLimited, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status ReadOnly(std::string m) { return {StatusCode::kReadOnly, std::move(m)}; }
  static Status Locked(std::string m) { return {StatusCode::kLocked, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Closed(std::string m) { return {StatusCode::kClosed, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>", or "ok".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace stele

#define STELE_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::stele::Status _st = (expr);          \
    if (!_st.ok()) return _st;             \
  } while (0)
