// The phone intake's HTTP surface (docs/retell.md): the Retell integration, the three webhooks
// Retell calls (inbound, functions, events), and the calls. Retell's requests carry no API key:
// they are routed to a company by the number dialled (or the agent) and must carry that
// company's signature; a missing, stale or wrong one is 401 and nothing changes.
#include <chrono>

#include "domain/text.h"
#include "http/app.h"
#include "http/codec.h"
#include "http/decode.h"
#include "intake/calls.h"
#include "intake/functions.h"
#include "intake/inbound.h"
#include "intake/retell_config.h"
#include "intake/retell_signature.h"
#include "intake/retell_wire.h"
#include "sync/engine.h"

namespace appointd::http {
namespace {

using nlohmann::json;
namespace in = appointd::intake;

constexpr std::size_t kMaxKeyChars = 512;
constexpr std::size_t kMaxAgentChars = 128;

const sync::SecretBox* secrets(Env& env) {
  return env.sync ? env.sync->secrets() : nullptr;
}

Response no_secrets_key() {
  return problem(503, "secrets_key_missing", "Service Unavailable",
                 "no secrets key: start appointd with --secrets-key-file (the same file on every "
                 "instance) to store provider secrets");
}

Response unreadable() {
  return problem(503, "secrets_unreadable", "Service Unavailable",
                 "the stored Retell key does not open with this instance's secrets key");
}

json integration_json(const Integration& i, const std::string& key,
                      const std::vector<std::string>& agents) {
  const auto settings = in::parse_retell_settings(i.settings);
  return {{"provider", in::kProviderRetell},
          {"api_key", sync::mask_secret(key)},
          {"agent_ids", agents},
          {"language", in::to_string(settings.language)},
          {"inbound_url", "/v1/retell/inbound"},
          {"functions_url", "/v1/retell/functions"},
          {"events_url", "/v1/retell/events"},
          {"updated_at", format_rfc3339(i.updated_at)}};
}

bool valid_agent_id(const std::string& a) {
  if (a.empty() || a.size() > kMaxAgentChars) return false;
  for (char ch : a)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-')) return false;
  return true;
}

in::Language default_language(const std::string& country) {
  for (const char* c : {"DE", "AT", "CH", "LI", "LU"})
    if (country == c) return in::Language::kDe;
  return in::Language::kEn;
}

void put_integration(Env& env, const CtxPtr& c) {
  const auto* box = secrets(env);
  if (!box) return c->send(no_secrets_key());
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  const std::string key = d.str("api_key", kMaxKeyChars * 4);
  std::vector<std::string> agents;
  if (body->contains("agent_ids") && !(*body)["agent_ids"].is_null()) {
    const json& a = (*body)["agent_ids"];
    if (!a.is_array() || a.size() > in::kMaxAgents) {
      d.fail("agent_ids", "must be an array of at most 50 agent ids");
    } else {
      for (const auto& v : a) {
        if (!v.is_string() || !valid_agent_id(v.get<std::string>())) {
          d.fail("agent_ids", "each must be 1 to 128 letters, digits, '_' or '-'");
          break;
        }
        agents.push_back(v.get<std::string>());
      }
    }
  }
  std::sort(agents.begin(), agents.end());
  agents.erase(std::unique(agents.begin(), agents.end()), agents.end());
  in::RetellSettings settings{default_language(c->country)};
  if (auto l = d.opt_str("language", 8)) {
    if (auto parsed = in::parse_language(*l))
      settings.language = *parsed;
    else
      d.fail("language", "must be de or en");
  }
  if (d.ok() && (key.empty() || !fits_chars(key, kMaxKeyChars)))
    d.fail("api_key", "must be 1 to 512 characters");
  if (!d.ok()) return c->send(d.problem());
  Integration i;
  i.company_id = c->company();
  i.provider = in::kProviderRetell;
  i.secrets = in::seal_retell_key(*box, i.company_id, key);
  i.key_fingerprint = box->fingerprint();
  i.settings = in::settings_json(settings);
  i.updated_at = c->now;
  write(env, c, [i, key, agents](store::WriteTx& tx) {
    for (const auto& a : agents)
      if (auto owner = tx.agent_company(a); owner && *owner != i.company_id)
        return problem(409, "agent_taken", "Agent taken",
                       "agent " + a +
                           " answers for another company; an agent routes calls to "
                           "one company only");
    tx.put_integration(i);
    tx.replace_agents(i.company_id, agents);
    return json_response(200, integration_json(i, key, agents));
  });
}

void get_integration(Env& env, const CtxPtr& c) {
  std::optional<Integration> i;
  std::vector<std::string> agents;
  env.store.read([&](store::ReadTx& tx) {
    i = tx.integration(c->company(), in::kProviderRetell);
    if (i) agents = tx.agents(c->company());
  });
  if (!i) return c->send(problem(Error::not_found("Retell integration")));
  const auto* box = secrets(env);
  std::optional<std::string> key;
  if (box) key = in::open_retell_key(*box, *i);
  if (!key) return c->send(unreadable());
  c->send(json_response(200, integration_json(*i, *key, agents)));
}

void delete_integration(Env& env, const CtxPtr& c) {
  const Id company = c->company();
  write(env, c, [company](store::WriteTx& tx) {
    if (!tx.delete_integration(company, in::kProviderRetell))
      return problem(Error::not_found("Retell integration"));
    tx.replace_agents(company, {});
    Response r;
    r.status = 204;
    return r;
  });
}

// --- Retell's requests ---

void count_refusal(Env& env, std::string_view reason) {
  env.metrics
      .counter("appointd_retell_refused_total",
               "Retell requests refused before any work, by reason",
               {{"reason", std::string(reason)}})
      .inc();
}

Response unauthorized(std::string_view reason) {
  return problem(401, "invalid_signature", "Unauthorized",
                 "X-Retell-Signature is " + std::string(reason) +
                     ": sign the raw body with the company's Retell API key");
}

// A Retell request checked and routed: its JSON body and route; or nullopt, answered.
struct Checked {
  json body;
  in::Route route;
};

// The whole gate of a Retell request: the signature's form and age (before any parsing), the
// body's JSON, the route (to_number or agent_id, picked by `route_of`), then the MAC under the
// routed company's key.
template <class RouteOf>
std::optional<Checked> check(Env& env, const CtxPtr& c, RouteOf route_of) {
  const std::string header(c->req.header("x-retell-signature").value_or(""));
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  // With no key every well-formed, fresh header is a mismatch: what else it is, is its fault.
  const auto form = in::verify_retell_signature("", c->req.body, header, now_ms);
  if (form != in::SignatureCheck::kMismatch) {
    count_refusal(env, in::to_string(form));
    c->send(unauthorized(in::to_string(form)));
    return std::nullopt;
  }
  auto body = body_object(c);
  if (!body) return std::nullopt;
  const auto [to, agent] = route_of(*body);
  std::optional<in::Route> route;
  env.store.read([&](store::ReadTx& tx) { route = in::route_call(tx, to, agent); });
  if (!route) {
    count_refusal(env, "unrouted");
    c->send(problem(404, "not_found", "Not Found",
                    "no company with a Retell integration answers " +
                        (to.empty() ? std::string("this call") : to) +
                        ": give the branch this phone number, or add the agent to agent_ids"));
    return std::nullopt;
  }
  const auto* box = secrets(env);
  std::optional<std::string> key;
  if (box) key = in::open_retell_key(*box, route->integration);
  if (!key) {
    c->send(box ? unreadable() : no_secrets_key());
    return std::nullopt;
  }
  const auto verdict = in::verify_retell_signature(*key, c->req.body, header, now_ms);
  if (verdict != in::SignatureCheck::kOk) {
    count_refusal(env, in::to_string(verdict));
    c->send(unauthorized(in::to_string(verdict)));
    return std::nullopt;
  }
  return Checked{std::move(*body), std::move(*route)};
}

// to_number and agent_id of the object `key` of the body (empty where absent or not strings).
std::pair<std::string, std::string> route_fields(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_object()) return {"", ""};
  auto s = [&](const char* k) {
    auto f = it->find(k);
    return f != it->end() && f->is_string() ? f->get<std::string>() : std::string();
  };
  return {s("to_number"), s("agent_id")};
}

std::pair<std::string, std::string> route_of_call(const json& body) {
  return route_fields(body, "call");
}

Response text_response(std::string body) {
  Response r;
  r.status = 200;
  r.body = std::move(body);
  return r;
}

void inbound(Env& env, const CtxPtr& c) {
  auto checked = check(env, c, [](const json& b) { return route_fields(b, "call_inbound"); });
  if (!checked) return;
  auto req = in::decode_inbound(checked->body);
  if (!req) return c->send(problem(req.error()));
  json reply;
  env.store.read([&](store::ReadTx& tx) {
    reply = in::inbound_reply(tx, checked->route, *req, c->now, env.phones);
  });
  c->send(json_response(200, reply));
}

void count_function(obs::Registry& metrics, const std::string& function,
                    const std::string& outcome) {
  metrics
      .counter("appointd_retell_functions_total", "Retell function calls, by outcome",
               {{"function", function}, {"outcome", outcome}})
      .inc();
}

void functions(Env& env, const CtxPtr& c) {
  auto checked = check(env, c, route_of_call);
  if (!checked) return;
  auto req = in::decode_function(checked->body);
  if (!req) return c->send(problem(req.error()));
  auto scope = in::make_scope(checked->route, req->call, c->now, env.phones);
  if (!scope)
    return c->send(problem(500, "internal_error", "Internal error", "the branch has no zone"));
  const std::string name = req->name;
  const bool known = name == "check_availability" || name == "book_appointment" ||
                     name == "reschedule_appointment" || name == "cancel_appointment" ||
                     name == "list_my_appointments";
  const std::string function = known ? name : "unknown";
  // Read-only functions: answered from a read, nothing to deduplicate.
  if (!known || name == "check_availability" || name == "list_my_appointments") {
    in::Reply r;
    env.store.read([&](store::ReadTx& tx) {
      const in::Catalog cat = in::load_catalog(tx, scope->route.company.id);
      if (name == "check_availability")
        r = in::check_availability(tx, *scope, cat, req->args);
      else if (name == "list_my_appointments")
        r = in::list_my_appointments(tx, *scope, cat);
      else
        r = in::unknown_function(*scope, name);
    });
    count_function(env.metrics, function, r.error.empty() ? "ok" : r.error);
    return c->send(text_response(in::render(r)));
  }
  // Functions with an effect: resolved on a read, then applied once in a write.
  std::function<in::Reply(store::WriteTx&)> run;
  std::optional<in::Reply> early;
  auto cat = std::make_shared<in::Catalog>();
  env.store.read([&](store::ReadTx& tx) {
    *cat = in::load_catalog(tx, scope->route.company.id);
    if (name == "book_appointment") {
      auto p = in::prepare_book(tx, *scope, *cat, req->args, env.phones);
      if (auto* r = std::get_if<in::Reply>(&p)) {
        early = std::move(*r);
        return;
      }
      run = [s = *scope, cat, plan = std::get<in::BookPlan>(std::move(p))](store::WriteTx& tx) {
        return in::run_book(tx, s, *cat, plan);
      };
      return;
    }
    const bool reschedule = name == "reschedule_appointment";
    auto p = in::prepare_change(*scope, req->args, reschedule);
    if (auto* r = std::get_if<in::Reply>(&p)) {
      early = std::move(*r);
      return;
    }
    run = [s = *scope, cat, plan = std::get<in::ChangePlan>(p), reschedule](store::WriteTx& tx) {
      return reschedule ? in::run_reschedule(tx, s, *cat, plan) : in::run_cancel(tx, s, *cat, plan);
    };
  });
  if (early) {
    // Nothing to change: the same arguments always get this answer, so it needs no storing.
    count_function(env.metrics, function, early->error.empty() ? "ok" : early->error);
    return c->send(text_response(in::render(*early)));
  }
  write(
      env, c,
      [s = *scope, f = *req, run](store::WriteTx& tx) {
        in::Answer a = in::once(tx, s, f, run);
        Response r = text_response(std::move(a.body));
        r.code = std::move(a.outcome);  // for the metrics (a replay counts as what it replays)
        return r;
      },
      [metrics = &env.metrics, function](const Response& r) {
        count_function(*metrics, function, r.code.empty() ? "error" : r.code);
      });
}

void events(Env& env, const CtxPtr& c) {
  auto checked = check(env, c, route_of_call);
  if (!checked) return;
  auto ev = in::decode_event(checked->body);
  if (!ev) return c->send(problem(ev.error()));
  Response none;
  none.status = 204;
  if (!in::is_call_event(ev->event)) return c->send(none);
  auto scope = in::make_scope(checked->route, ev->call, c->now, env.phones);
  if (!scope)
    return c->send(problem(500, "internal_error", "Internal error", "the branch has no zone"));
  write(env, c, [skeleton = scope->skeleton, e = *ev, now = c->now](store::WriteTx& tx) {
    in::record_event(tx, skeleton, e, now);
    Response r;
    r.status = 204;
    return r;
  });
}

json call_json(const Call& k, const std::vector<Appointment>& appointments) {
  auto opt = [](const std::optional<Instant>& t) { return t ? json(format_rfc3339(*t)) : json(); };
  auto text = [](const std::string& s) { return s.empty() ? json() : json(s); };
  json list = json::array();
  for (const auto& a : appointments) list.push_back(to_json(a));
  return {{"call_id", k.call_id},
          {"branch_id", k.branch_id ? json(k.branch_id) : json()},
          {"agent_id", text(k.agent_id)},
          {"from_number", text(k.from_number)},
          {"to_number", text(k.to_number)},
          {"direction", text(k.direction)},
          {"status", text(k.status)},
          {"started_at", opt(k.started_at)},
          {"ended_at", opt(k.ended_at)},
          {"disconnection_reason", text(k.disconnection_reason)},
          {"summary", text(k.summary)},
          {"created_at", format_rfc3339(k.created_at)},
          {"updated_at", format_rfc3339(k.updated_at)},
          {"appointments", std::move(list)}};
}

void get_call(Env& env, const CtxPtr& c) {
  auto it = c->params.find("call_id");
  const std::string call_id = it == c->params.end() ? "" : std::string(it->second);
  std::optional<Call> call;
  std::vector<Appointment> appointments;
  if (!call_id.empty() && call_id.size() <= in::kMaxField)
    env.store.read([&](store::ReadTx& tx) {
      call = tx.call(c->company(), call_id);
      if (!call) return;
      for (Id id : tx.call_appointments(c->company(), call_id))
        if (auto a = tx.appointment(c->company(), id)) appointments.push_back(std::move(*a));
    });
  if (!call) return c->send(problem(Error::not_found("call")));
  c->send(json_response(200, call_json(*call, appointments)));
}

}  // namespace

void retell_routes(std::vector<RouteDef>& out) {
  out.push_back({"PUT", "/v1/integrations/retell", put_integration, Access::kCompany});
  out.push_back({"GET", "/v1/integrations/retell", get_integration, Access::kCompany});
  out.push_back({"DELETE", "/v1/integrations/retell", delete_integration, Access::kCompany});
  out.push_back({"POST", "/v1/retell/inbound", inbound, Access::kSigned});
  out.push_back({"POST", "/v1/retell/functions", functions, Access::kSigned});
  out.push_back({"POST", "/v1/retell/events", events, Access::kSigned});
  out.push_back({"GET", "/v1/calls/{call_id}", get_call, Access::kCompany});
}

}  // namespace appointd::http
