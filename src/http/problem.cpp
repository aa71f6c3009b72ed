#include "http/problem.h"

#include "domain/conflict.h"

namespace appointd::http {

Response problem(int status, std::string_view code, std::string_view title, std::string_view detail,
                 const nlohmann::json& extra) {
  nlohmann::json j = extra.is_object() ? extra : nlohmann::json::object();
  j["type"] = "https://appointd.dev/problems/" + std::string(code);
  j["title"] = title;
  j["status"] = status;
  j["detail"] = detail;
  j["code"] = code;
  Response r;
  r.status = status;
  r.code = code;
  r.content_type = "application/problem+json";
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response deferred_problem(Error e) {
  Response r;
  r.status = http_status(e.code);
  r.code = code_name(e.code);
  r.content_type = "application/problem+json";
  r.render = [e = std::move(e)](Response& self) { self.body = problem(e).body; };
  return r;
}

Response validation_problem(const nlohmann::json& errors) {
  return problem(
      422, "validation_failed", "Validation failed",
      errors[0]["field"].get<std::string>() + ": " + errors[0]["message"].get<std::string>(),
      {{"errors", errors}});
}

Response problem(const Error& e) {
  if (e.slot) {
    // The common 409: the fixed members through JSON, the conflict written as text after them.
    Response r =
        problem(http_status(e.code), code_name(e.code), title_of(e.code), e.detail, e.extra);
    r.body.pop_back();  // the closing brace
    r.body += ',';
    append_members(*e.slot, r.body);
    r.body += '}';
    return r;
  }
  nlohmann::json extra = e.extra;
  // Every validation_failed carries `errors: [{field, message}]`, rule errors included.
  if (e.code == ErrorCode::kValidationFailed && !extra.contains("errors")) {
    extra["errors"] = nlohmann::json::array(
        {{{"field", extra.value("field", std::string("body"))}, {"message", e.detail}}});
    extra.erase("field");
    return problem(422, code_name(e.code), title_of(e.code), e.detail, extra);
  }
  return problem(http_status(e.code), code_name(e.code), title_of(e.code), e.detail, extra);
}

}  // namespace appointd::http
