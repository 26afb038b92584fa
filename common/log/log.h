// Logging set-up shared by vmesh-hub, vmesh-agent, vmeshctl and kubesim (SPEC §2: --log-format text|json,
// --log-level). Everything logs through spdlog's default logger to stderr.
//
// JSON lines have the form {"time":"2026-11-26T22:40:19.123Z","level":"info","logger":"hub","msg":"..."};
// messages are escaped, so a log line is always one valid JSON object. Never log secrets: private keys,
// tokens and key-encryption keys stay out of messages (callers' responsibility; see RedactToken).
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace vmesh::log {

enum class Format { kText, kJson };

Result<Format> ParseFormat(std::string_view text);
// trace, debug, info, warn (or warning), error, critical, off.
Result<spdlog::level::level_enum> ParseLevel(std::string_view text);

// A formatter for the given format (what Init installs); exposed for tests and extra sinks.
std::unique_ptr<spdlog::formatter> MakeFormatter(Format format);

// Installs the default logger named `program`, writing to stderr. Returns an error naming the bad value.
Status Init(std::string_view program, std::string_view level, std::string_view format);

// JSON string escaping (without the surrounding quotes).
std::string JsonEscape(std::string_view text);

// "abcd…(64 chars)" -> "abcd…": enough to correlate a token or key in logs without revealing it.
std::string RedactToken(std::string_view token);

}  // namespace vmesh::log
