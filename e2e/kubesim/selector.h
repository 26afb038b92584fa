// Kubernetes label and field selectors, parsed from their query-string form and matched against objects.
//
// Label selectors support `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>n`, `k<n`,
// comma-separated (all must hold). Field selectors support `path=v`, `path==v`, `path!=v` where path is a
// dotted path into the object whose value is a string, e.g. metadata.name, metadata.namespace,
// status.phase; a missing field matches as the empty string, as Kubernetes does. Parse errors are
// returned as messages. Pure; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace vmesh::kubesim {

class LabelSelector {
 public:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist, kGreaterThan, kLessThan };
  struct Requirement {
    std::string key;
    Op op = Op::kEquals;
    std::vector<std::string> values;
  };

  // An empty string parses to the selector that matches everything.
  static Result<LabelSelector> Parse(std::string_view text);

  bool Matches(const boost::json::object& labels) const;
  // Matches the labels in an object's metadata.
  bool MatchesObject(const boost::json::object& object) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  struct Requirement {
    std::string path;  // dotted, e.g. "metadata.name"
    bool equals = true;
    std::string value;
  };

  static Result<FieldSelector> Parse(std::string_view text);

  bool MatchesObject(const boost::json::object& object) const;
  bool empty() const { return requirements_.empty(); }

 private:
  std::vector<Requirement> requirements_;
};

}  // namespace vmesh::kubesim
