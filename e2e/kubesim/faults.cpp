#include "e2e/kubesim/faults.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "e2e/kubesim/query_params.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

HttpResponse BadRequest(const std::string& message) {
  return HttpResponse{400, "application/json", StatusBody(ApiError{400, "BadRequest", message})};
}

json::object ToJson(const FaultConfig& c) {
  return json::object{{"latencyMs", c.latency.count()},
                      {"errorRate", c.error_rate},
                      {"seed", c.seed},
                      {"dropWatchAfterEvents", c.drop_watch_after_events},
                      {"dropWatchAfterSeconds", static_cast<double>(c.drop_watch_after.count()) / 1000.0},
                      {"expireNextWatch", c.expire_next_watch}};
}

// A non-negative number from a JSON value, or nullopt.
std::optional<double> NonNegative(const json::value& v) {
  double d;
  if (v.is_int64()) {
    d = static_cast<double>(v.get_int64());
  } else if (v.is_uint64()) {
    d = static_cast<double>(v.get_uint64());
  } else if (v.is_double()) {
    d = v.get_double();
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(d) || d < 0) return std::nullopt;
  return d;
}

}  // namespace

FaultInjector::FaultInjector(FaultConfig config) : config_(config), random_(config.seed) {}

FaultConfig FaultInjector::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

void FaultInjector::Set(const FaultConfig& config) {
  std::lock_guard lock(mu_);
  config_ = config;
  random_.seed(config.seed);
}

HttpResponse FaultInjector::HandleAdmin(const HttpRequest& request) {
  if (request.method == "GET") return HttpResponse{200, "application/json", json::serialize(ToJson(config()))};
  if (request.method != "POST" && request.method != "PUT") {
    return HttpResponse{405, "application/json", StatusBody(ApiError{405, "MethodNotAllowed", "use GET, POST or PUT"})};
  }
  boost::system::error_code ec;
  json::value body = json::parse(request.body, ec);
  if (ec || !body.is_object()) return BadRequest("the body must be a JSON object");
  std::lock_guard lock(mu_);
  FaultConfig next = config_;
  bool reseed = false;
  for (const auto& [key, value] : body.get_object()) {
    if (key == "expireNextWatch") {
      if (!value.is_bool()) return BadRequest("expireNextWatch must be a boolean");
      next.expire_next_watch = value.get_bool();
      continue;
    }
    auto number = NonNegative(value);
    if (!number) return BadRequest(std::string(key) + " must be a non-negative number");
    if (key == "latencyMs") {
      next.latency = std::chrono::milliseconds(static_cast<int64_t>(*number));
    } else if (key == "errorRate") {
      if (*number > 1) return BadRequest("errorRate must be within [0, 1]");
      next.error_rate = *number;
    } else if (key == "seed") {
      next.seed = static_cast<uint64_t>(*number);
      reseed = true;
    } else if (key == "dropWatchAfterEvents") {
      next.drop_watch_after_events = static_cast<uint64_t>(*number);
    } else if (key == "dropWatchAfterSeconds") {
      next.drop_watch_after = std::chrono::milliseconds(static_cast<int64_t>(std::llround(*number * 1000)));
    } else {
      return BadRequest("unknown field " + std::string(key));
    }
  }
  config_ = next;
  if (reseed) random_.seed(config_.seed);
  return HttpResponse{200, "application/json", json::serialize(ToJson(config_))};
}

std::optional<HttpResponse> FaultInjector::MaybeFail() {
  std::lock_guard lock(mu_);
  if (config_.error_rate <= 0) return std::nullopt;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  if (unit(random_) >= config_.error_rate) return std::nullopt;
  if (random_() % 2 == 0) {
    return HttpResponse{500, "application/json",
                        StatusBody(ApiError{500, "InternalError", "Internal error occurred: injected by kubesim"})};
  }
  return HttpResponse{429, "application/json",
                      StatusBody(ApiError{429, "TooManyRequests",
                                          "the server has received too many requests and "
                                          "has asked us to try again later (injected by "
                                          "kubesim)"})};
}

bool FaultInjector::TakeExpireNextWatch() {
  std::lock_guard lock(mu_);
  bool expire = config_.expire_next_watch;
  config_.expire_next_watch = false;
  return expire;
}

bool IsWatchTarget(const std::string& target) { return IsWatchQuery(ParseQuery(target)); }

std::string ExpiredWatchLine() {
  return R"({"type":"ERROR","object":)" +
         StatusBody(ApiError{410, "Expired", "too old resource version (expired by kubesim fault injection)"}) + "}\n";
}

}  // namespace vmesh::kubesim
