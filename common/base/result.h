// Result<T>: a value or an Error with a human-readable message and an ErrorCode (common/base/error_code.h) that
// says what kind of failure it is, so the API and the link can answer it without reading the message.
//
// Expected failures (bad input, a peer's refusal, a missing file) are values, not exceptions:
// functions that can fail that way return Result<T>. Accessing value() of an error Result, or error()
// of an ok Result, is a programming error and asserts.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "common/base/error_code.h"

namespace vmesh {

struct Error {
  std::string message;
  ErrorCode code = ErrorCode::kUnknown;

  // Returns a copy with "context: " put in front of the message (the code is kept).
  Error Wrap(const std::string& context) const { return Error{context + ": " + message, code}; }
  // Returns a copy with `c` as its code.
  Error WithCode(ErrorCode c) const { return Error{message, c}; }
  // Returns a copy with `c` as its code unless it has one already (classifying what a lower layer left open).
  Error WithDefaultCode(ErrorCode c) const { return Error{message, code == ErrorCode::kUnknown ? c : code}; }
};

inline Error MakeError(std::string message, ErrorCode code = ErrorCode::kUnknown) {
  return Error{std::move(message), code};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status OkStatus() { return Status(); }

}  // namespace vmesh
