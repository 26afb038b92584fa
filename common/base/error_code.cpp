#include "common/base/error_code.h"

namespace vmesh {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknown:
      return "Unknown";
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kConflict:
      return "Conflict";
    case ErrorCode::kPermissionDenied:
      return "PermissionDenied";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

int HttpStatusOf(ErrorCode code, int unknown_status) {
  switch (code) {
    case ErrorCode::kUnknown:
      return unknown_status;
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return unknown_status;
}

LinkDisposition LinkDispositionOf(ErrorCode code) {
  // Only a fault of the link itself or of the receiver's machinery is worth a reconnect; anything about the
  // message's content is answered and the stream goes on.
  return code == ErrorCode::kInternal ? LinkDisposition::kDisconnect : LinkDisposition::kNack;
}

}  // namespace vmesh
