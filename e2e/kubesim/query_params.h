// Query parameters of Kubernetes API requests, decoded and validated the way kube-apiserver 1.32 does.
//
// kube-apiserver first decodes the query into ListOptions, CreateOptions, ... (apimachinery's parameter
// codec): an integer that strconv.ParseInt rejects or a selector that does not parse is a 400 BadRequest.
// Booleans never fail: apimachinery's Convert_Slice_string_To_bool makes "0" and "false" (any case)
// false and every other value — "1", "t", "yes", the empty string — true (strconv.ParseBool is NOT what
// it uses: "f" is true there). Then it validates the options: a rejected combination or an unsupported
// enum value (resourceVersionMatch, fieldValidation, dryRun, propagationPolicy) is a 422 Invalid whose
// message reads `ListOptions.meta.k8s.io "" is invalid: <field>: <what>`, in the API server's wording.
//
// Pure functions; every handler of api_handler.cpp goes through them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "e2e/kubesim/api_error.h"
#include "e2e/kubesim/selector.h"

namespace vmesh::kubesim {

// Query parameters by name, percent-decoded. A repeated parameter keeps its first value, as Go's
// url.Values[name][0] does; `?watch` (no `=`) has the empty value.
using QueryParams = std::map<std::string, std::string>;

std::string PercentDecode(std::string_view s);
// The parameters of a request target ("/api/v1/pods?watch=1&limit=5"); none without a '?'.
QueryParams ParseQuery(std::string_view target);

// A boolean parameter value as apimachinery converts it (see above).
bool QueryBool(std::string_view value);
// An int64 as Go's strconv.ParseInt(value, 10, 64); the error message is Go's
// (`strconv.ParseInt: parsing "abc": invalid syntax`), prefixed with the parameter's name.
ApiResult<int64_t> QueryInt(std::string_view name, std::string_view value);

// Whether a GET collection request is a watch (the `watch` parameter, decoded as above).
bool IsWatchQuery(const QueryParams& query);

// ListOptions (LIST and WATCH of a collection).
struct ListParams {
  bool watch = false;
  LabelSelector labels;
  FieldSelector fields;
  std::string resource_version;        // as sent; "" when absent
  std::string resource_version_match;  // "", "NotOlderThan" or "Exact"
  std::optional<bool> send_initial_events;
  bool allow_watch_bookmarks = false;
  std::optional<int64_t> timeout_seconds;
  int64_t limit = 0;  // <= 0: no limit
  std::string continue_token;
};
ApiResult<ListParams> ParseListParams(const QueryParams& query);

// The options of writes: CreateOptions, UpdateOptions, PatchOptions (plain or apply) and DeleteOptions.
enum class WriteVerb { kCreate, kUpdate, kPatch, kApply, kDelete };
struct WriteParams {
  bool dry_run = false;                         // dryRun=All
  std::string field_manager;                    // "" when absent
  std::string field_validation;                 // "", "Ignore", "Warn" or "Strict"
  std::optional<bool> force;                    // apply only
  std::optional<int64_t> grace_period_seconds;  // delete only
  std::string propagation_policy;               // delete only: "", "Foreground", "Background", "Orphan"
};
ApiResult<WriteParams> ParseWriteParams(const QueryParams& query, WriteVerb verb);

}  // namespace vmesh::kubesim
