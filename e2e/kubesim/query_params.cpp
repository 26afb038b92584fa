#include "e2e/kubesim/query_params.h"

#include <charconv>
#include <limits>
#include <vector>

namespace vmesh::kubesim {
namespace {

// Go's %q for the strings kubesim quotes: quotes, backslashes and non-printable bytes escaped.
std::string GoQuote(std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

const std::string* Find(const QueryParams& query, const std::string& name) {
  auto it = query.find(name);
  return it == query.end() ? nullptr : &it->second;
}

std::string Value(const QueryParams& query, const std::string& name) {
  const std::string* v = Find(query, name);
  return v ? *v : std::string();
}

// field.ErrorList, rendered as apimachinery's field.Error.Error() does.
class FieldErrors {
 public:
  void Forbidden(const std::string& field, const std::string& detail) {
    errors_.push_back(field + ": Forbidden: " + detail);
  }
  void Required(const std::string& field, const std::string& detail) {
    errors_.push_back(field + ": Required value: " + detail);
  }
  void Invalid(const std::string& field, const std::string& value, const std::string& detail) {
    errors_.push_back(field + ": Invalid value: " + value + ": " + detail);
  }
  void TooLong(const std::string& field, size_t max) {
    errors_.push_back(field + ": Too long: may not be more than " + std::to_string(max) + " bytes");
  }
  void NotSupported(const std::string& field, const std::string& quoted_value,
                    const std::vector<std::string>& supported) {
    std::string list;
    for (const auto& s : supported) list += (list.empty() ? "" : ", ") + GoQuote(s);
    errors_.push_back(field + ": Unsupported value: " + quoted_value + ": supported values: " + list);
  }
  bool empty() const { return errors_.empty(); }

  // errors.NewInvalid(GroupKind{"meta.k8s.io", kind}, "", errs): one error plain, several as [a, b].
  ApiError ToError(const std::string& kind) const {
    std::string joined;
    for (const auto& e : errors_) joined += (joined.empty() ? "" : ", ") + e;
    if (errors_.size() > 1) joined = "[" + joined + "]";
    return InvalidError(kind + ".meta.k8s.io \"\" is invalid: " + joined);
  }

 private:
  std::vector<std::string> errors_;
};

// ValidateDryRun: every value must be "All".
void ValidateDryRun(const std::string* dry_run, FieldErrors& errors) {
  if (dry_run && *dry_run != "All") errors.NotSupported("dryRun", "[]string{" + GoQuote(*dry_run) + "}", {"All"});
}

constexpr size_t kFieldManagerMaxLength = 128;

}  // namespace

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [ptr, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && ptr == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
      } else {
        out += s[i];
      }
    } else {
      out += s[i];
    }
  }
  return out;
}

QueryParams ParseQuery(std::string_view target) {
  QueryParams params;
  size_t q = target.find('?');
  if (q == std::string_view::npos) return params;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
    if (!key.empty()) params.emplace(std::move(key), std::move(value));  // the first value wins
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return params;
}

bool QueryBool(std::string_view value) {
  if (value == "0") return false;
  if (value.size() != 5) return true;
  for (size_t i = 0; i < 5; ++i) {
    if ((value[i] | 0x20) != "false"[i]) return true;
  }
  return false;
}

ApiResult<int64_t> QueryInt(std::string_view name, std::string_view value) {
  auto fail = [&](const char* why) {
    return BadRequestError(std::string(name) + ": strconv.ParseInt: parsing " + GoQuote(value) + ": " + why);
  };
  std::string_view digits = value;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty()) return fail("invalid syntax");
  uint64_t magnitude = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, 10);
  if (ptr != digits.data() + digits.size() || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return fail("invalid syntax");
  }
  const uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (ec == std::errc::result_out_of_range || magnitude > max + (negative ? 1 : 0)) return fail("value out of range");
  if (negative) return magnitude == max + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(magnitude);
  return static_cast<int64_t>(magnitude);
}

bool IsWatchQuery(const QueryParams& query) {
  const std::string* watch = Find(query, "watch");
  return watch && QueryBool(*watch);
}

ApiResult<ListParams> ParseListParams(const QueryParams& query) {
  // Decoding (400 BadRequest).
  ListParams params;
  params.watch = IsWatchQuery(query);
  auto labels = LabelSelector::Parse(Value(query, "labelSelector"));
  if (!labels.ok()) return BadRequestError(labels.error().message);
  params.labels = std::move(*labels);
  auto fields = FieldSelector::Parse(Value(query, "fieldSelector"));
  if (!fields.ok()) return BadRequestError(fields.error().message);
  params.fields = std::move(*fields);
  params.resource_version = Value(query, "resourceVersion");
  params.resource_version_match = Value(query, "resourceVersionMatch");
  params.continue_token = Value(query, "continue");
  if (const std::string* v = Find(query, "allowWatchBookmarks")) params.allow_watch_bookmarks = QueryBool(*v);
  if (const std::string* v = Find(query, "sendInitialEvents")) params.send_initial_events = QueryBool(*v);
  if (const std::string* v = Find(query, "limit")) {
    auto n = QueryInt("limit", *v);
    if (!n.ok()) return n.error();
    params.limit = *n;
  }
  if (const std::string* v = Find(query, "timeoutSeconds")) {
    auto n = QueryInt("timeoutSeconds", *v);
    if (!n.ok()) return n.error();
    params.timeout_seconds = *n;
  }

  // Validation (422 Invalid), apimachinery's ValidateListOptions with the WatchList feature on (1.32's
  // default).
  FieldErrors errors;
  const std::string& match = params.resource_version_match;
  if (params.watch) {
    if (params.send_initial_events && match != "NotOlderThan") {
      errors.Forbidden("resourceVersionMatch",
                       "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
    }
    if (!match.empty()) {
      if (!params.send_initial_events) {
        errors.Forbidden("resourceVersionMatch",
                         "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
      }
      if (match != "NotOlderThan") errors.NotSupported("resourceVersionMatch", GoQuote(match), {"NotOlderThan"});
      if (!params.continue_token.empty()) {
        errors.Forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided");
      }
    }
  } else {
    if (!match.empty()) {
      if (params.resource_version.empty()) {
        errors.Forbidden("resourceVersionMatch",
                         "resourceVersionMatch is forbidden unless resourceVersion is provided");
      }
      if (!params.continue_token.empty()) {
        errors.Forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided");
      }
      if (match != "Exact" && match != "NotOlderThan") {
        errors.NotSupported("resourceVersionMatch", GoQuote(match), {"Exact", "NotOlderThan", ""});
      }
      if (match == "Exact" && params.resource_version == "0") {
        errors.Forbidden("resourceVersionMatch",
                         "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
      }
    }
    if (params.send_initial_events) errors.Forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list");
  }
  if (!errors.empty()) return errors.ToError("ListOptions");
  return params;
}

ApiResult<WriteParams> ParseWriteParams(const QueryParams& query, WriteVerb verb) {
  WriteParams params;
  params.field_manager = Value(query, "fieldManager");
  params.field_validation = Value(query, "fieldValidation");
  params.propagation_policy = Value(query, "propagationPolicy");
  const std::string* dry_run = Find(query, "dryRun");
  params.dry_run = dry_run && *dry_run == "All";
  if (const std::string* v = Find(query, "force")) params.force = QueryBool(*v);
  if (const std::string* v = Find(query, "gracePeriodSeconds"); v && verb == WriteVerb::kDelete) {
    auto n = QueryInt("gracePeriodSeconds", *v);
    if (!n.ok()) return n.error();
    params.grace_period_seconds = *n;
  }

  FieldErrors errors;
  const char* kind = "CreateOptions";
  switch (verb) {
    case WriteVerb::kCreate:
      kind = "CreateOptions";
      break;
    case WriteVerb::kUpdate:
      kind = "UpdateOptions";
      break;
    case WriteVerb::kPatch:
    case WriteVerb::kApply:
      kind = "PatchOptions";
      break;
    case WriteVerb::kDelete:
      kind = "DeleteOptions";
      break;
  }
  if (verb == WriteVerb::kDelete) {
    if (Find(query, "orphanDependents") && Find(query, "propagationPolicy")) {
      errors.Invalid("propagationPolicy", GoQuote(params.propagation_policy),
                     "orphanDependents and deletionPropagation cannot be both set");
    }
    const std::string& policy = params.propagation_policy;
    if (Find(query, "propagationPolicy") && policy != "Foreground" && policy != "Background" && policy != "Orphan") {
      errors.NotSupported("propagationPolicy", GoQuote(policy), {"Foreground", "Background", "Orphan", "nil"});
    }
    ValidateDryRun(dry_run, errors);
    if (!errors.empty()) return errors.ToError(kind);
    return params;
  }
  if (verb == WriteVerb::kPatch && params.force) errors.Forbidden("force", "may not be specified for non-apply patch");
  if (verb == WriteVerb::kApply && params.field_manager.empty()) {
    errors.Required("fieldManager", "is required for apply patch");
  }
  if (params.field_manager.size() > kFieldManagerMaxLength) {
    errors.TooLong("fieldManager", kFieldManagerMaxLength);
  }
  for (unsigned char c : params.field_manager) {
    if (c < 0x20 || c == 0x7f) {
      errors.Invalid("fieldManager", GoQuote(params.field_manager), "invalid character");
      break;
    }
  }
  ValidateDryRun(dry_run, errors);
  const std::string& validation = params.field_validation;
  if (validation != "" && validation != "Ignore" && validation != "Warn" && validation != "Strict") {
    errors.NotSupported("fieldValidation", GoQuote(validation), {"", "Ignore", "Strict", "Warn"});
  }
  if (!errors.empty()) return errors.ToError(kind);
  return params;
}

}  // namespace vmesh::kubesim
