#pragma once
// RFC 9457 problem+json responses with a stable `code`.
#include <nlohmann/json.hpp>

#include <string>

#include "domain/error.h"
#include "http/message.h"

namespace appointd::http {

// {"type":"about:blank"?, "title", "status", "detail", "code", ...extra}
Response problem(int status, std::string_view code, std::string_view title, std::string_view detail,
                 const nlohmann::json& extra = nlohmann::json::object());
Response problem(const Error& e);
// 422 validation_failed listing `errors` ([{field, message}], non-empty); the first is the detail.
Response validation_problem(const nlohmann::json& errors);
// problem(e) with status, code and content type set now and the body rendered later
// (Response::render): for answers decided on the store's writer thread.
Response deferred_problem(Error e);

}  // namespace appointd::http
