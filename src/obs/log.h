#pragma once
// Structured logging: JSON lines on stderr via spdlog. Call init_logging once in main.
#include <string>
#include <string_view>

namespace appointd::obs {

void init_logging(std::string_view level);  // "debug" | "info" | "warn" | "error"

// One JSON line: {"ts":...,"level":...,"msg":...,<fields>}. `fields` is a JSON object text
// without braces (e.g. "\"request_id\":\"abc\""), may be empty.
void log_info(std::string_view msg, std::string_view fields = {});
void log_warn(std::string_view msg, std::string_view fields = {});
void log_error(std::string_view msg, std::string_view fields = {});

// Escapes a value for inclusion inside a JSON string literal.
std::string json_escape(std::string_view s);

}  // namespace appointd::obs
