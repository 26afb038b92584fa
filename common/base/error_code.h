// What kind of failure an Error is, and what each kind becomes at the edges: an HTTP status on the hub's API, a
// NACK or a dropped connection on the hub-agent link. The one place these mappings live.
#pragma once

#include <cstdint>

namespace vmesh {

enum class ErrorCode : std::uint8_t {
  kUnknown = 0,       // not classified (the default): the caller's fallback applies
  kInvalidArgument,   // the request, manifest or CSR is malformed or invalid: fix the input
  kNotFound,          // the named object does not exist
  kConflict,          // the object exists already, was modified meanwhile, or its state forbids the change
  kPermissionDenied,  // the peer is not allowed to do this (unknown identity, bad or used token, revoked credential)
  kUnavailable,       // a dependency is not ready yet: retry later
  kInternal,          // a bug or a broken dependency (storage, random generator)
};

// "InvalidArgument", "NotFound", ... ("Unknown" for kUnknown).
const char* ErrorCodeName(ErrorCode code);

// The HTTP status of an API answer failing with `code`: 400, 404, 409, 403, 503, 500; `unknown_status` for
// kUnknown (a route's status for the failures it does not tell apart).
int HttpStatusOf(ErrorCode code, int unknown_status = 500);

// How the hub-agent link answers a message it cannot process: a NACK keeps the stream (the peer can fix the
// input or wait), a disconnect makes the peer reconnect with backoff (SPEC's two error levels).
enum class LinkDisposition { kNack, kDisconnect };
LinkDisposition LinkDispositionOf(ErrorCode code);

}  // namespace vmesh
