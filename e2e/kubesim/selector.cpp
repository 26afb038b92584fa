#include "e2e/kubesim/selector.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Splits on commas that are not inside parentheses.
Result<std::vector<std::string_view>> SplitTopLevel(std::string_view text) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      if (--depth < 0) return MakeError("unbalanced ')'");
    } else if (text[i] == ',' && depth == 0) {
      parts.push_back(Trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (depth != 0) return MakeError("unbalanced '('");
  parts.push_back(Trim(text.substr(start)));
  return parts;
}

// Label keys and values: alphanumerics, '-', '_', '.', and '/' in keys (prefix/name).
bool IsLabelChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
}

bool ValidToken(std::string_view s) { return std::all_of(s.begin(), s.end(), IsLabelChar); }

bool ParseInt(std::string_view s, long long* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Result<LabelSelector::Requirement> ParseLabelRequirement(std::string_view term) {
  using Op = LabelSelector::Op;
  LabelSelector::Requirement req;
  auto bad = [&](const std::string& why) {
    return MakeError("unable to parse requirement \"" + std::string(term) + "\": " + why);
  };
  if (term.empty()) return bad("empty requirement");
  if (term.front() == '!') {
    req.key = std::string(Trim(term.substr(1)));
    req.op = Op::kDoesNotExist;
    if (req.key.empty() || !ValidToken(req.key)) return bad("invalid label key");
    return req;
  }
  // Set-based: "key in (a,b)" / "key notin (a,b)".
  size_t paren = term.find('(');
  if (paren != std::string_view::npos) {
    if (term.back() != ')') return bad("expected ')' at the end");
    std::string_view head = Trim(term.substr(0, paren));
    size_t space = head.find_last_of(" \t");
    if (space == std::string_view::npos) return bad("expected 'in' or 'notin'");
    std::string_view op = head.substr(space + 1);
    req.key = std::string(Trim(head.substr(0, space)));
    if (op == "in") {
      req.op = Op::kIn;
    } else if (op == "notin") {
      req.op = Op::kNotIn;
    } else {
      return bad("unknown operator \"" + std::string(op) + "\"");
    }
    if (req.key.empty() || !ValidToken(req.key)) return bad("invalid label key");
    std::string_view inner = term.substr(paren + 1, term.size() - paren - 2);
    size_t start = 0;
    for (size_t i = 0; i <= inner.size(); ++i) {
      if (i == inner.size() || inner[i] == ',') {
        std::string_view v = Trim(inner.substr(start, i - start));
        if (!ValidToken(v)) return bad("invalid label value \"" + std::string(v) + "\"");
        req.values.emplace_back(v);
        start = i + 1;
      }
    }
    return req;
  }
  // Equality-based and numeric comparisons.
  struct OpText {
    std::string_view text;
    Op op;
  };
  static constexpr OpText kOps[] = {
      {"==", Op::kEquals}, {"!=", Op::kNotEquals}, {"=", Op::kEquals}, {">", Op::kGreaterThan}, {"<", Op::kLessThan}};
  for (const auto& candidate : kOps) {
    size_t at = term.find(candidate.text);
    if (at == std::string_view::npos) continue;
    req.key = std::string(Trim(term.substr(0, at)));
    std::string value(Trim(term.substr(at + candidate.text.size())));
    req.op = candidate.op;
    if (req.key.empty() || !ValidToken(req.key)) return bad("invalid label key");
    if (!ValidToken(value)) return bad("invalid label value \"" + value + "\"");
    if (req.op == Op::kGreaterThan || req.op == Op::kLessThan) {
      long long unused;
      if (!ParseInt(value, &unused)) return bad("for 'gt', 'lt' operators, the value must be an integer");
    }
    req.values.push_back(std::move(value));
    return req;
  }
  req.key = std::string(term);
  req.op = Op::kExists;
  if (!ValidToken(req.key)) return bad("invalid label key");
  return req;
}

const json::value* FindPath(const json::object& object, std::string_view path) {
  const json::object* current = &object;
  while (true) {
    size_t dot = path.find('.');
    auto it = current->find(path.substr(0, dot));
    if (it == current->end()) return nullptr;
    if (dot == std::string_view::npos) return &it->value();
    if (!it->value().is_object()) return nullptr;
    current = &it->value().get_object();
    path.remove_prefix(dot + 1);
  }
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector selector;
  text = Trim(text);
  if (text.empty()) return selector;
  auto parts = SplitTopLevel(text);
  if (!parts.ok()) return parts.error();
  for (std::string_view term : *parts) {
    auto req = ParseLabelRequirement(term);
    if (!req.ok()) return req.error();
    selector.requirements_.push_back(std::move(*req));
  }
  return selector;
}

bool LabelSelector::Matches(const json::object& labels) const {
  for (const auto& req : requirements_) {
    auto it = labels.find(req.key);
    const bool has = it != labels.end() && it->value().is_string();
    const std::string_view value = has ? std::string_view(it->value().get_string()) : std::string_view();
    auto in_values = [&] { return std::find(req.values.begin(), req.values.end(), value) != req.values.end(); };
    switch (req.op) {
      case Op::kEquals:
        if (!has || value != req.values[0]) return false;
        break;
      case Op::kNotEquals:
        if (has && value == req.values[0]) return false;
        break;
      case Op::kIn:
        if (!has || !in_values()) return false;
        break;
      case Op::kNotIn:
        if (has && in_values()) return false;
        break;
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kDoesNotExist:
        if (has) return false;
        break;
      case Op::kGreaterThan:
      case Op::kLessThan: {
        long long actual, bound;
        if (!has || !ParseInt(value, &actual) || !ParseInt(req.values[0], &bound)) return false;
        if (req.op == Op::kGreaterThan ? !(actual > bound) : !(actual < bound)) return false;
        break;
      }
    }
  }
  return true;
}

bool LabelSelector::MatchesObject(const json::object& object) const {
  if (requirements_.empty()) return true;
  static const json::object kNoLabels;
  const json::value* labels = FindPath(object, "metadata.labels");
  return Matches(labels && labels->is_object() ? labels->get_object() : kNoLabels);
}

Result<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector selector;
  text = Trim(text);
  if (text.empty()) return selector;
  auto parts = SplitTopLevel(text);
  if (!parts.ok()) return parts.error();
  for (std::string_view term : *parts) {
    Requirement req;
    size_t at;
    size_t op_len;
    if ((at = term.find("!=")) != std::string_view::npos) {
      req.equals = false;
      op_len = 2;
    } else if ((at = term.find("==")) != std::string_view::npos) {
      op_len = 2;
    } else if ((at = term.find('=')) != std::string_view::npos) {
      op_len = 1;
    } else {
      return MakeError("invalid field selector \"" + std::string(term) + "\": expected '=', '==' or '!='");
    }
    req.path = std::string(Trim(term.substr(0, at)));
    req.value = std::string(Trim(term.substr(at + op_len)));
    if (req.path.empty()) return MakeError("invalid field selector \"" + std::string(term) + "\": empty field");
    selector.requirements_.push_back(std::move(req));
  }
  return selector;
}

bool FieldSelector::MatchesObject(const json::object& object) const {
  for (const auto& req : requirements_) {
    const json::value* v = FindPath(object, req.path);
    std::string actual;
    if (v && v->is_string()) {
      actual = std::string(v->get_string());
    } else if (v && v->is_bool()) {
      actual = v->get_bool() ? "true" : "false";
    } else if (v && (v->is_int64() || v->is_uint64())) {
      actual = json::serialize(*v);
    }
    if ((actual == req.value) != req.equals) return false;
  }
  return true;
}

}  // namespace vmesh::kubesim
