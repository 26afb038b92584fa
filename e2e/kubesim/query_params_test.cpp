#include "e2e/kubesim/query_params.h"

#include <gtest/gtest.h>

#include <limits>

namespace vmesh::kubesim {
namespace {

ApiResult<ListParams> List(const std::string& query) { return ParseListParams(ParseQuery("/api/v1/pods?" + query)); }

ApiResult<WriteParams> Write(const std::string& query, WriteVerb verb) {
  return ParseWriteParams(ParseQuery("/api/v1/pods?" + query), verb);
}

TEST(QueryParamsTest, DecodesAndKeepsTheFirstValue) {
  QueryParams q = ParseQuery("/x?labelSelector=app%3Dweb%2Ctier+in+(a)&watch&limit=2&limit=9");
  EXPECT_EQ(q.at("labelSelector"), "app=web,tier in (a)");
  EXPECT_EQ(q.at("watch"), "");
  EXPECT_EQ(q.at("limit"), "2");
  EXPECT_TRUE(ParseQuery("/x").empty());
}

// apimachinery's Convert_Slice_string_To_bool: only "0" and "false" (any case) are false.
TEST(QueryParamsTest, BooleansAsTheApiServerConvertsThem) {
  for (const char* v : {"1", "t", "T", "TRUE", "true", "True", "yes", "", "f", "2"}) EXPECT_TRUE(QueryBool(v)) << v;
  for (const char* v : {"0", "false", "False", "FALSE", "fAlSe"}) EXPECT_FALSE(QueryBool(v)) << v;
  EXPECT_TRUE(IsWatchQuery(ParseQuery("/api/v1/configmaps?watch=True")));  // the Python client's spelling
  EXPECT_TRUE(IsWatchQuery(ParseQuery("/api/v1/configmaps?watch")));
  EXPECT_FALSE(IsWatchQuery(ParseQuery("/api/v1/configmaps?watch=False")));
  EXPECT_FALSE(IsWatchQuery(ParseQuery("/api/v1/configmaps?nowatch=1")));
}

TEST(QueryParamsTest, IntegersAsStrconvParseInt) {
  EXPECT_EQ(*QueryInt("limit", "42"), 42);
  EXPECT_EQ(*QueryInt("limit", "+7"), 7);
  EXPECT_EQ(*QueryInt("limit", "-3"), -3);
  EXPECT_EQ(*QueryInt("limit", "-9223372036854775808"), std::numeric_limits<int64_t>::min());
  auto bad = QueryInt("timeoutSeconds", "1O");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, 400);
  EXPECT_EQ(bad.error().reason, "BadRequest");
  EXPECT_EQ(bad.error().message, R"(timeoutSeconds: strconv.ParseInt: parsing "1O": invalid syntax)");
  EXPECT_EQ(QueryInt("limit", "9223372036854775808").error().message,
            R"(limit: strconv.ParseInt: parsing "9223372036854775808": value out of range)");
  for (const char* v : {"", "+", " 1", "1.5", "0x10"}) EXPECT_FALSE(QueryInt("limit", v).ok()) << v;
}

TEST(QueryParamsTest, ListAndWatchOptions) {
  auto list = List("limit=5&continue=abc&labelSelector=app%3Dweb&resourceVersion=10&resourceVersionMatch=");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_FALSE(list->watch);
  EXPECT_EQ(list->limit, 5);
  EXPECT_EQ(list->continue_token, "abc");
  EXPECT_EQ(list->resource_version, "10");
  EXPECT_FALSE(list->labels.empty());

  auto watch = List(
      "watch=1&allowWatchBookmarks=True&timeoutSeconds=30&sendInitialEvents=true"
      "&resourceVersionMatch=NotOlderThan");
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  EXPECT_TRUE(watch->watch);
  EXPECT_TRUE(watch->allow_watch_bookmarks);
  EXPECT_EQ(watch->timeout_seconds, 30);
  EXPECT_EQ(watch->send_initial_events, true);

  auto bad_limit = List("limit=ten");
  ASSERT_FALSE(bad_limit.ok());
  EXPECT_EQ(bad_limit.error().code, 400);
  EXPECT_NE(bad_limit.error().message.find(R"(limit: strconv.ParseInt: parsing "ten")"), std::string::npos);
  EXPECT_EQ(List("labelSelector=a%20in%20(").error().code, 400);
}

// apimachinery's ValidateListOptions, answered 422 Invalid in its wording.
TEST(QueryParamsTest, ResourceVersionMatchRules) {
  auto expect_invalid = [](const std::string& query, const std::string& message) {
    auto parsed = List(query);
    ASSERT_FALSE(parsed.ok()) << query;
    EXPECT_EQ(parsed.error().code, 422) << query;
    EXPECT_EQ(parsed.error().reason, "Invalid") << query;
    EXPECT_EQ(parsed.error().message, message) << query;
  };
  expect_invalid("resourceVersionMatch=Exact",
                 R"(ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is )"
                 R"(forbidden unless resourceVersion is provided)");
  expect_invalid("resourceVersion=5&resourceVersionMatch=Newest",
                 R"(ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Newest": )"
                 R"(supported values: "Exact", "NotOlderThan", "")");
  expect_invalid("resourceVersion=0&resourceVersionMatch=Exact",
                 R"(ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch )"
                 R"("exact" is forbidden for resourceVersion "0")");
  expect_invalid("resourceVersion=5&resourceVersionMatch=Exact&continue=x",
                 R"(ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is )"
                 R"(forbidden when continue is provided)");
  expect_invalid("sendInitialEvents=true",
                 R"(ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is )"
                 R"(forbidden for list)");
  expect_invalid("watch=1&sendInitialEvents=true",
                 R"(ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents )"
                 R"(requires setting resourceVersionMatch to NotOlderThan)");
  expect_invalid("watch=1&resourceVersionMatch=NotOlderThan",
                 R"(ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is )"
                 R"(forbidden for watch unless sendInitialEvents is provided)");
  expect_invalid("watch=true&sendInitialEvents=1&resourceVersionMatch=Exact",
                 R"(ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: sendInitialEvents )"
                 R"(requires setting resourceVersionMatch to NotOlderThan, resourceVersionMatch: Unsupported value: )"
                 R"("Exact": supported values: "NotOlderThan"])");
  EXPECT_TRUE(List("resourceVersion=0&resourceVersionMatch=NotOlderThan").ok());
  EXPECT_TRUE(List("resourceVersion=7&resourceVersionMatch=Exact").ok());
  EXPECT_TRUE(List("watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion=3").ok());
}

TEST(QueryParamsTest, WriteOptions) {
  auto create = Write("dryRun=All&fieldManager=me&fieldValidation=Strict", WriteVerb::kCreate);
  ASSERT_TRUE(create.ok()) << create.error().message;
  EXPECT_TRUE(create->dry_run);
  EXPECT_EQ(create->field_manager, "me");
  EXPECT_EQ(create->field_validation, "Strict");
  for (const char* v : {"Ignore", "Warn", "Strict"}) {
    EXPECT_TRUE(Write(std::string("fieldValidation=") + v, WriteVerb::kUpdate).ok()) << v;
  }
  EXPECT_EQ(Write("fieldValidation=strict", WriteVerb::kPatch).error().message,
            R"(PatchOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported )"
            R"(values: "", "Ignore", "Strict", "Warn")");
  auto dry_run = Write("dryRun=Some", WriteVerb::kCreate);
  ASSERT_FALSE(dry_run.ok());
  EXPECT_EQ(dry_run.error().code, 422);
  EXPECT_EQ(dry_run.error().message,
            R"(CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Some"}: supported )"
            R"(values: "All")");
  EXPECT_EQ(Write("", WriteVerb::kApply).error().message,
            R"(PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch)");
  auto apply = Write("fieldManager=me&force=True", WriteVerb::kApply);
  ASSERT_TRUE(apply.ok());
  EXPECT_EQ(apply->force, true);
  EXPECT_EQ(Write("force=false", WriteVerb::kPatch).error().message,
            R"(PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch)");
  EXPECT_EQ(Write("fieldManager=" + std::string(129, 'm'), WriteVerb::kCreate).error().message,
            R"(CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes)");
  EXPECT_TRUE(Write("fieldManager=" + std::string(128, 'm'), WriteVerb::kCreate).ok());
}

TEST(QueryParamsTest, DeleteOptions) {
  auto del = Write("gracePeriodSeconds=0&propagationPolicy=Foreground", WriteVerb::kDelete);
  ASSERT_TRUE(del.ok()) << del.error().message;
  EXPECT_EQ(del->grace_period_seconds, 0);
  EXPECT_EQ(del->propagation_policy, "Foreground");
  EXPECT_EQ(Write("gracePeriodSeconds=soon", WriteVerb::kDelete).error().code, 400);
  EXPECT_EQ(Write("propagationPolicy=Later", WriteVerb::kDelete).error().message,
            R"(DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Later": supported )"
            R"(values: "Foreground", "Background", "Orphan", "nil")");
  EXPECT_EQ(Write("dryRun=all", WriteVerb::kDelete).error().code, 422);
}

}  // namespace
}  // namespace vmesh::kubesim
