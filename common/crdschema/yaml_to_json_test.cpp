#include "common/crdschema/yaml_to_json.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <limits>

namespace vmesh::crdschema {
namespace {

namespace json = boost::json;

TEST(YamlToJsonTest, ResolvesPlainScalarsWithTheCoreSchema) {
  EXPECT_EQ(ResolvePlainScalar("~"), json::value(nullptr));
  EXPECT_EQ(ResolvePlainScalar("null"), json::value(nullptr));
  EXPECT_EQ(ResolvePlainScalar("true"), json::value(true));
  EXPECT_EQ(ResolvePlainScalar("False"), json::value(false));
  EXPECT_EQ(ResolvePlainScalar("80"), json::value(80));
  EXPECT_EQ(ResolvePlainScalar("-1"), json::value(-1));
  EXPECT_EQ(ResolvePlainScalar("+7"), json::value(7));
  EXPECT_EQ(ResolvePlainScalar("0x1F"), json::value(31));
  EXPECT_EQ(ResolvePlainScalar("0o17"), json::value(15));
  EXPECT_EQ(ResolvePlainScalar("4294967295"), json::value(4294967295LL));
  EXPECT_TRUE(ResolvePlainScalar("18446744073709551615").is_uint64());
  EXPECT_EQ(ResolvePlainScalar("-9223372036854775808"), json::value(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(ResolvePlainScalar("1.5"), json::value(1.5));
  EXPECT_EQ(ResolvePlainScalar("1e3"), json::value(1000.0));
  EXPECT_EQ(ResolvePlainScalar(".inf"), json::value(std::numeric_limits<double>::infinity()));
  // YAML 1.1 spellings are plain strings in 1.2, as are things that only look numeric.
  EXPECT_EQ(ResolvePlainScalar("yes"), json::value("yes"));
  EXPECT_EQ(ResolvePlainScalar("80s"), json::value("80s"));
  EXPECT_EQ(ResolvePlainScalar("1.2.3"), json::value("1.2.3"));
  EXPECT_EQ(ResolvePlainScalar("-"), json::value("-"));
  EXPECT_EQ(ResolvePlainScalar("0x"), json::value("0x"));
}

TEST(YamlToJsonTest, ConvertsDocumentsAndKeepsQuotedScalarsAsStrings) {
  Result<std::vector<json::value>> docs = YamlDocumentsToJson(R"(a: 1
b: "2"
c: [x, 'true', true]
d: |
  text
e:
---
---
- 1
)");
  ASSERT_TRUE(docs.ok()) << docs.error().message;
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0], json::parse(R"({"a":1,"b":"2","c":["x","true",true],"d":"text\n","e":null})"));
  EXPECT_TRUE((*docs)[1].is_null());
  EXPECT_EQ((*docs)[2], json::parse("[1]"));
}

TEST(YamlToJsonTest, SyntaxErrorsNameTheLine) {
  Result<std::vector<json::value>> docs = YamlDocumentsToJson("a: 1\nb: [unclosed\n");
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(docs.error().message.find("line "), std::string::npos) << docs.error().message;
}

TEST(YamlToJsonTest, RejectsNonScalarKeys) {
  Result<std::vector<json::value>> docs = YamlDocumentsToJson("? [a, b]\n: 1\n");
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(docs.error().message.find("mapping key is not a scalar"), std::string::npos) << docs.error().message;
}

}  // namespace
}  // namespace vmesh::crdschema
