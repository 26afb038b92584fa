#include "common/base/error_code.h"

#include <gtest/gtest.h>

#include "common/base/result.h"

namespace vmesh {
namespace {

TEST(ErrorCode, MapsToHttpStatuses) {
  EXPECT_EQ(HttpStatusOf(ErrorCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kConflict), 409);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kInternal), 500);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kUnknown), 500);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kUnknown, 403), 403) << "a route's fallback for what it does not tell apart";
  EXPECT_EQ(HttpStatusOf(ErrorCode::kNotFound, 403), 404) << "a classified error keeps its status";
}

TEST(ErrorCode, OnlyInternalFaultsDropTheLink) {
  EXPECT_EQ(LinkDispositionOf(ErrorCode::kInternal), LinkDisposition::kDisconnect);
  for (ErrorCode c : {ErrorCode::kUnknown, ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kConflict,
                      ErrorCode::kPermissionDenied, ErrorCode::kUnavailable}) {
    EXPECT_EQ(LinkDispositionOf(c), LinkDisposition::kNack) << ErrorCodeName(c);
  }
}

TEST(ErrorCode, TravelsWithTheErrorThroughWrap) {
  Error e = MakeError("cluster c1 is already registered", ErrorCode::kConflict).Wrap("register");
  EXPECT_EQ(e.message, "register: cluster c1 is already registered");
  EXPECT_EQ(e.code, ErrorCode::kConflict);
  EXPECT_EQ(MakeError("x").code, ErrorCode::kUnknown);
  EXPECT_EQ(MakeError("x").WithDefaultCode(ErrorCode::kNotFound).code, ErrorCode::kNotFound);
  EXPECT_EQ(e.WithDefaultCode(ErrorCode::kNotFound).code, ErrorCode::kConflict);
  EXPECT_EQ(e.WithCode(ErrorCode::kNotFound).code, ErrorCode::kNotFound);
  Result<int> r = MakeError("gone", ErrorCode::kNotFound);
  EXPECT_EQ(HttpStatusOf(r.error().code), 404);
  EXPECT_STREQ(ErrorCodeName(ErrorCode::kPermissionDenied), "PermissionDenied");
}

}  // namespace
}  // namespace vmesh
