#include "obs/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace appointd::obs {

void init_logging(std::string_view level) {
  auto logger = spdlog::stderr_logger_mt("appointd");
  // The message itself carries the JSON fields; the pattern wraps them into one object.
  logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})",
                      spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
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
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

namespace {
void emit(spdlog::level::level_enum lvl, std::string_view msg, std::string_view fields) {
  if (!spdlog::default_logger_raw()->should_log(lvl)) return;
  std::string line = "\"msg\":\"" + json_escape(msg) + "\"";
  if (!fields.empty()) {
    line += ',';
    line += fields;
  }
  spdlog::default_logger_raw()->log(lvl, "{}", line);
}
}  // namespace

void log_info(std::string_view msg, std::string_view fields) {
  emit(spdlog::level::info, msg, fields);
}
void log_warn(std::string_view msg, std::string_view fields) {
  emit(spdlog::level::warn, msg, fields);
}
void log_error(std::string_view msg, std::string_view fields) {
  emit(spdlog::level::err, msg, fields);
}

}  // namespace appointd::obs
