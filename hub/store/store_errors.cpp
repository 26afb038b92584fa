#include "hub/store/store_errors.h"

#include "common/base/time.h"

namespace vmesh::hub::store_errors {

std::int64_t ToMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint FromMillis(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

std::string FormatTime(std::int64_t ms) { return FormatRfc3339(FromMillis(ms)); }

Error AlreadyBootstrapped(const std::string& cluster) {
  return MakeError("cluster " + cluster +
                       " is already registered and its agent has bootstrapped; run `vmeshctl "
                       "cluster deregister " +
                       cluster + "` first to register it anew",
                   ErrorCode::kConflict);
}

Error InvalidToken(const std::string& cluster) {
  // One message for unknown tokens and tokens of other clusters: a wrong token reveals nothing.
  return MakeError("invalid bootstrap token for cluster " + cluster +
                       " (not issued for it, or replaced by a newer `vmeshctl cluster register`)",
                   ErrorCode::kPermissionDenied);
}

Error TokenUsed(const std::string& cluster, std::int64_t used_at_ms) {
  return MakeError("bootstrap token for cluster " + cluster + " was already used at " + FormatTime(used_at_ms) +
                       "; tokens are single-use: run `vmeshctl cluster register " + cluster + "` for a new bundle",
                   ErrorCode::kPermissionDenied);
}

Error TokenExpired(const std::string& cluster, std::int64_t expires_at_ms) {
  return MakeError("bootstrap token for cluster " + cluster + " expired at " + FormatTime(expires_at_ms) +
                       "; run `vmeshctl cluster register " + cluster + "` for a new bundle",
                   ErrorCode::kPermissionDenied);
}

Error TokenConsumed(const std::string& cluster) {
  return MakeError("bootstrap token for cluster " + cluster + " was already used", ErrorCode::kPermissionDenied);
}

Error NotRegistered(const std::string& cluster) {
  return MakeError("cluster " + cluster + " is not registered", ErrorCode::kNotFound);
}

Error AlreadyDeregistered(const std::string& cluster) {
  return MakeError("cluster " + cluster + " is already deregistered", ErrorCode::kConflict);
}

Error SerialNotIssued(const std::string& serial) {
  return MakeError("certificate serial " + serial + " was not issued by this hub", ErrorCode::kPermissionDenied);
}

Error SerialOfAnotherCluster(const std::string& serial, const std::string& owner, const std::string& cluster) {
  return MakeError("certificate serial " + serial + " belongs to cluster " + owner + ", not " + cluster,
                   ErrorCode::kPermissionDenied);
}

Error ClusterDeregistered(const std::string& cluster) {
  return MakeError("cluster " + cluster + " was deregistered; its certificate is revoked",
                   ErrorCode::kPermissionDenied);
}

Error SerialRevoked(const std::string& serial, const std::string& cluster) {
  return MakeError("certificate serial " + serial + " of cluster " + cluster +
                       " is revoked (superseded by a renewed identity, or of an earlier registration)",
                   ErrorCode::kPermissionDenied);
}

Error LinkCaExists() { return MakeError("the hub already has a link CA; it is never replaced", ErrorCode::kConflict); }

Error KeyChanged(const std::string& virtual_mesh) {
  return MakeError((virtual_mesh.empty() ? std::string("the link CA key") : "the root key of " + virtual_mesh) +
                       " changed while it was being rewritten; nothing was changed",
                   ErrorCode::kConflict);
}

Error NoRootToRotate(const std::string& virtual_mesh) {
  return MakeError("VirtualMesh " + virtual_mesh + " has no root CA to rotate yet", ErrorCode::kNotFound);
}

Error RotationInProgress(const std::string& virtual_mesh, const std::string& phase) {
  return MakeError("a root rotation of VirtualMesh " + virtual_mesh + " is in progress already (phase " + phase +
                       "); wait for it to finish or abort it",
                   ErrorCode::kConflict);
}

Error NoRotation(const std::string& virtual_mesh) {
  return MakeError("no root rotation of VirtualMesh " + virtual_mesh + " is in progress", ErrorCode::kNotFound);
}

Error RotationPhaseChanged(const std::string& virtual_mesh, const std::string& expected, const std::string& actual) {
  return MakeError(std::string(kConflict) + ": the root rotation of VirtualMesh " + virtual_mesh + " is in phase " +
                       actual + ", not " + expected,
                   ErrorCode::kConflict);
}

Error MeshNotBound(const std::string& mesh, const std::string& cluster) {
  return MakeError("mesh " + mesh + ": binding to cluster " + cluster + " was not stored", ErrorCode::kConflict);
}

Error Conflict(const StoredObject& object, std::int64_t have, std::int64_t expected) {
  return MakeError(std::string(kConflict) + ": " + object.kind + " " + object.ns + "/" + object.name +
                       " was modified (resourceVersion " + std::to_string(have) + ", the update was based on " +
                       std::to_string(expected) + "); read it again and retry",
                   ErrorCode::kConflict);
}

Error AdminUnknown(const std::string& serial) {
  return MakeError("admin certificate serial " + serial + " is not a credential this hub pinned",
                   ErrorCode::kPermissionDenied);
}

Error AdminRevoked(const std::string& serial, std::int64_t revoked_at_ms, const std::string& replaced_by) {
  return MakeError(
      "admin certificate serial " + serial + " was revoked at " + FormatTime(revoked_at_ms) +
          (replaced_by.empty() ? "" : " (replaced by serial " + replaced_by + ", `vmeshctl admin rotate`)"),
      ErrorCode::kPermissionDenied);
}

}  // namespace vmesh::hub::store_errors
