#include "common/log/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <cstdio>

#include "common/base/time.h"

namespace vmesh::log {
namespace {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = "{\"time\":\"";
    line += FormatRfc3339(msg.time, 3);
    line += "\",\"level\":\"";
    auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += "\",\"logger\":\"";
    line += JsonEscape(std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    line += "\",\"msg\":\"";
    line += JsonEscape(std::string_view(msg.payload.data(), msg.payload.size()));
    line += "\"}\n";
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

Result<Format> ParseFormat(std::string_view text) {
  if (text == "text") return Format::kText;
  if (text == "json") return Format::kJson;
  return MakeError("--log-format: expected text or json, got \"" + std::string(text) + "\"");
}

Result<spdlog::level::level_enum> ParseLevel(std::string_view text) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace},       {"debug", spdlog::level::debug},  {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},         {"warning", spdlog::level::warn}, {"error", spdlog::level::err},
      {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
  for (const auto& [name, level] : kLevels) {
    if (text == name) return level;
  }
  return MakeError("--log-level: expected one of trace, debug, info, warn, error, critical, off, got \"" +
                   std::string(text) + "\"");
}

std::unique_ptr<spdlog::formatter> MakeFormatter(Format format) {
  if (format == Format::kJson) return std::make_unique<JsonFormatter>();
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v",
                                                     spdlog::pattern_time_type::utc);
}

Status Init(std::string_view program, std::string_view level, std::string_view format) {
  auto parsed_level = ParseLevel(level);
  if (!parsed_level.ok()) return parsed_level.error();
  auto parsed_format = ParseFormat(format);
  if (!parsed_format.ok()) return parsed_format.error();
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(std::string(program), sink);
  logger->set_formatter(MakeFormatter(*parsed_format));
  logger->set_level(*parsed_level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return OkStatus();
}

std::string JsonEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string RedactToken(std::string_view token) {
  if (token.size() <= 8) return "…";
  return std::string(token.substr(0, 4)) + "…";
}

}  // namespace vmesh::log
