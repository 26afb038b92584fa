// What both Store implementations (sqlite_store.cpp, memory_store.cpp) say when a call is refused, and the
// millisecond time base they store, so that callers and tests see the same answers from either. Each error carries
// its ErrorCode (conflict, not found, permission denied), which the API's HTTP statuses and the link follow.
#pragma once

#include <cstdint>
#include <string>

#include "common/base/result.h"
#include "hub/store/store.h"

namespace vmesh::hub::store_errors {

// Times are stored with millisecond precision.
std::int64_t ToMillis(TimePoint t);
TimePoint FromMillis(std::int64_t ms);
// RFC 3339 (UTC, seconds) of a stored time, for messages.
std::string FormatTime(std::int64_t ms);

Error AlreadyBootstrapped(const std::string& cluster);
Error InvalidToken(const std::string& cluster);
Error TokenUsed(const std::string& cluster, std::int64_t used_at_ms);
Error TokenExpired(const std::string& cluster, std::int64_t expires_at_ms);
// A token consumed by a racing CompleteBootstrap.
Error TokenConsumed(const std::string& cluster);
Error NotRegistered(const std::string& cluster);
Error AlreadyDeregistered(const std::string& cluster);
Error SerialNotIssued(const std::string& serial);
Error SerialOfAnotherCluster(const std::string& serial, const std::string& owner, const std::string& cluster);
Error ClusterDeregistered(const std::string& cluster);
Error SerialRevoked(const std::string& serial, const std::string& cluster);
Error LinkCaExists();
// ReplaceStoredKeys: the key (of `virtual_mesh`, or the link CA's when empty) no longer holds the expected value.
Error KeyChanged(const std::string& virtual_mesh);
// Root rotation: no root to rotate, one in progress already, none in progress, or not in the expected phase.
Error NoRootToRotate(const std::string& virtual_mesh);
Error RotationInProgress(const std::string& virtual_mesh, const std::string& phase);
Error NoRotation(const std::string& virtual_mesh);
Error RotationPhaseChanged(const std::string& virtual_mesh, const std::string& expected, const std::string& actual);
Error MeshNotBound(const std::string& mesh, const std::string& cluster);
// Starts with kConflict.
Error Conflict(const StoredObject& object, std::int64_t have, std::int64_t expected);
Error AdminUnknown(const std::string& serial);
Error AdminRevoked(const std::string& serial, std::int64_t revoked_at_ms, const std::string& replaced_by);

}  // namespace vmesh::hub::store_errors
