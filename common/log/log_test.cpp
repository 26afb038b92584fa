#include "common/log/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace vmesh::log {
namespace {

using ::testing::HasSubstr;

std::string FormatOne(Format format, std::string_view logger, std::string_view payload) {
  spdlog::details::log_msg msg(logger, spdlog::level::warn, payload);
  spdlog::memory_buf_t buf;
  MakeFormatter(format)->format(msg, buf);
  return std::string(buf.data(), buf.size());
}

TEST(Log, JsonLinesAreValidJsonWithEscapedMessages) {
  std::string line = FormatOne(Format::kJson, "hub", "cluster \"c1\"\nsays\ttab \x01 and \\");
  ASSERT_EQ(line.back(), '\n');
  boost::json::value v = boost::json::parse(line);
  EXPECT_EQ(v.at("level").as_string(), "warning");
  EXPECT_EQ(v.at("logger").as_string(), "hub");
  EXPECT_EQ(v.at("msg").as_string(), "cluster \"c1\"\nsays\ttab \x01 and \\");
  EXPECT_THAT(std::string(v.at("time").as_string()), ::testing::MatchesRegex("....-..-..T..:..:..\\....Z"));
}

TEST(Log, TextLinesCarryLevelLoggerAndMessage) {
  std::string line = FormatOne(Format::kText, "agent", "hello");
  EXPECT_THAT(line, HasSubstr("warn"));
  EXPECT_THAT(line, HasSubstr("[agent] hello"));
}

TEST(Log, BadFlagValuesAreNamed) {
  EXPECT_EQ(ParseLevel("debug").value(), spdlog::level::debug);
  EXPECT_EQ(ParseLevel("warning").value(), spdlog::level::warn);
  EXPECT_THAT(ParseLevel("loud").error().message, HasSubstr("--log-level: expected one of"));
  EXPECT_THAT(ParseFormat("xml").error().message, HasSubstr("--log-format: expected text or json, got \"xml\""));
  EXPECT_FALSE(Init("x", "info", "xml").ok());
  EXPECT_TRUE(Init("x", "info", "json").ok());
}

TEST(Log, RedactTokenKeepsOnlyAPrefix) {
  EXPECT_EQ(RedactToken("abcdefghijklmnop"), "abcd…");
  EXPECT_EQ(RedactToken("short"), "…");
}

}  // namespace
}  // namespace vmesh::log
