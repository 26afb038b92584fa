// ApiError and ApiResult<T>: the Kubernetes-style failures of kubesim operations.
//
// An ApiError carries what a Kubernetes `Status` body needs (HTTP code, reason, message); the HTTP layer
// turns it into that body unchanged. Expected failures (not found, conflicts, bad input) are values.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace vmesh::kubesim {

// One entry of a Status' details.causes: which field is wrong and how.
struct StatusCause {
  std::string reason;  // Kubernetes CauseType, e.g. "FieldValueInvalid", "FieldValueRequired"
  std::string message;
  std::string field;  // "spec.size"
};

struct ApiError {
  int code = 500;
  std::string reason;  // Kubernetes StatusReason, e.g. "NotFound", "AlreadyExists", "Conflict"
  std::string message;
  // details (set for 422 Invalid errors about an object): its name, group, kind and the causes.
  std::string details_name;
  std::string details_group;
  std::string details_kind;
  std::vector<StatusCause> causes;
};

inline ApiError NotFoundError(const std::string& resource, const std::string& name) {
  return ApiError{404, "NotFound", resource + " \"" + name + "\" not found"};
}
inline ApiError AlreadyExistsError(const std::string& resource, const std::string& name) {
  return ApiError{409, "AlreadyExists", resource + " \"" + name + "\" already exists"};
}
inline ApiError ConflictError(const std::string& resource, const std::string& name) {
  return ApiError{
      409, "Conflict",
      "Operation cannot be fulfilled on " + resource + " \"" + name +
          "\": the object has been modified; please apply your changes to the latest version and try again"};
}
inline ApiError BadRequestError(std::string message) { return ApiError{400, "BadRequest", std::move(message)}; }
inline ApiError InvalidError(std::string message) { return ApiError{422, "Invalid", std::move(message)}; }
inline ApiError GoneError(std::string message) { return ApiError{410, "Expired", std::move(message)}; }

template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : v_(std::in_place_index<0>, std::move(value)) {}         // NOLINT: implicit by design
  ApiResult(ApiError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit by design

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
  const ApiError& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace vmesh::kubesim
