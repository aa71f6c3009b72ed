// The calendar sync's HTTP surface (docs/sync.md): the Cal.com integration, staff event type
// mappings, sync jobs, the appointment view with its sync state, and Cal.com's webhooks.
#include "booking/attempt.h"
#include "domain/hash.h"
#include "domain/text.h"
#include "http/app.h"
#include "http/codec.h"
#include "http/decode.h"
#include "sync/engine.h"
#include "sync/integration.h"
#include "sync/jobs.h"
#include "sync/webhooks.h"

namespace appointd::http {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxSecretChars = 512;

Response unavailable(const char* code, const std::string& detail) {
  Response r = problem(503, code, "Service Unavailable", detail);
  return r;
}

json integration_json(const Integration& i, const sync::CalcomSecrets& s) {
  const auto settings = sync::parse_settings(i.settings);
  return {{"provider", i.provider},
          {"api_key", sync::mask_secret(s.api_key)},
          {"webhook_secret", sync::mask_secret(s.webhook_secret)},
          {"webhook_url", "/v1/webhooks/calcom/" + std::to_string(i.company_id)},
          {"placeholder_email_domain", settings.placeholder_email_domain},
          {"updated_at", format_rfc3339(i.updated_at)}};
}

json job_json(const SyncJob& j) {
  return {{"id", j.id},
          {"appointment_id", j.appointment_id},
          {"action", j.action},
          {"version", j.version},
          {"state", to_string(j.state)},
          {"attempts", j.attempts},
          {"next_attempt_at", format_rfc3339(j.next_attempt_at)},
          {"last_error", j.last_error.empty() ? json(nullptr) : json(j.last_error)},
          {"created_at", format_rfc3339(j.created_at)}};
}

void put_integration(Env& env, const CtxPtr& c) {
  if (!env.sync) return c->send(unavailable("sync_disabled", "the calendar sync is not running"));
  const auto* box = env.sync->secrets();
  if (!box)
    return c->send(unavailable("secrets_key_missing",
                               "no secrets key: start appointd with --secrets-key-file (the same "
                               "file on every instance) to store provider secrets"));
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  sync::CalcomSecrets s;
  s.api_key = d.str("api_key", kMaxSecretChars * 4);
  s.webhook_secret = d.str("webhook_secret", kMaxSecretChars * 4);
  sync::CalcomSettings settings;
  if (auto v = d.opt_str("placeholder_email_domain", 253)) settings.placeholder_email_domain = *v;
  if (d.ok()) {
    if (s.api_key.empty() || !fits_chars(s.api_key, kMaxSecretChars))
      d.fail("api_key", "must be 1 to 512 characters");
    if (s.webhook_secret.empty() || !fits_chars(s.webhook_secret, kMaxSecretChars))
      d.fail("webhook_secret", "must be 1 to 512 characters");
    const auto& dom = settings.placeholder_email_domain;
    if (dom.empty() || dom.find_first_of("@ /\\\"<>") != std::string::npos)
      d.fail("placeholder_email_domain", "must be a domain name");
  }
  if (!d.ok()) return c->send(d.problem());
  Integration i;
  i.company_id = c->company();
  i.provider = kProviderCalcom;
  i.secrets = sync::seal_calcom_secrets(*box, i.company_id, s);
  i.key_fingerprint = box->fingerprint();
  i.settings = sync::settings_json(settings);
  i.updated_at = c->now;
  write(env, c, [i, s](store::WriteTx& tx) {
    tx.put_integration(i);
    return json_response(200, integration_json(i, s));
  });
}

void get_integration(Env& env, const CtxPtr& c) {
  std::optional<Integration> i;
  env.store.read([&](store::ReadTx& tx) { i = tx.integration(c->company(), kProviderCalcom); });
  if (!i) return c->send(problem(Error::not_found("Cal.com integration")));
  const auto* box = env.sync ? env.sync->secrets() : nullptr;
  std::optional<sync::CalcomSecrets> s;
  if (box) s = sync::open_calcom_secrets(*box, *i);
  if (!s)
    return c->send(unavailable("secrets_unreadable",
                               "the stored secrets do not open with this instance's secrets key"));
  c->send(json_response(200, integration_json(*i, *s)));
}

void delete_integration(Env& env, const CtxPtr& c) {
  const Id company = c->company();
  write(env, c, [company](store::WriteTx& tx) {
    if (!tx.delete_integration(company, kProviderCalcom))
      return problem(Error::not_found("Cal.com integration"));
    Response r;
    r.status = 204;
    return r;
  });
}

json mapping_json(Id staff_id, const std::vector<EventTypeMapping>& ms) {
  json types = json::object();
  for (const auto& m : ms) types[std::to_string(m.service_id)] = m.event_type_id;
  return {{"staff_id", staff_id}, {"event_types", std::move(types)}};
}

void put_staff_calcom(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  auto body = body_object(c);
  if (!body) return;
  Decoder d(*body);
  std::vector<EventTypeMapping> ms;
  if (!body->contains("event_types") || !(*body)["event_types"].is_object()) {
    d.fail("event_types", "must be an object of service id to Cal.com event type id");
  } else if ((*body)["event_types"].size() > 200) {
    d.fail("event_types", "at most 200 services");
  } else {
    for (auto& [k, v] : (*body)["event_types"].items()) {
      Id service = 0;
      if (k.empty() || k.size() > 18 || k.find_first_not_of("0123456789") != std::string::npos ||
          (service = std::stoll(k)) <= 0) {
        d.fail("event_types", "keys must be service ids");
        break;
      }
      if (!v.is_number_integer() || v.get<std::int64_t>() <= 0) {
        d.fail("event_types." + k, "must be a positive integer (a Cal.com event type id)");
        continue;
      }
      ms.push_back({*id, service, v.get<std::int64_t>()});
    }
  }
  if (!d.ok()) return c->send(d.problem());
  const Id company = c->company();
  write(env, c, [company, staff = *id, ms](store::WriteTx& tx) {
    if (!tx.staff(company, staff)) return problem(Error::not_found("staff"));
    for (const auto& m : ms)
      if (!tx.service(company, m.service_id))
        return validation_problem(
            json::array({{{"field", "event_types." + std::to_string(m.service_id)},
                          {"message", "service " + std::to_string(m.service_id) + " not found"}}}));
    tx.replace_event_types(company, staff, ms);
    return json_response(200, mapping_json(staff, ms));
  });
}

void get_staff_calcom(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  bool found = false;
  std::vector<EventTypeMapping> ms;
  env.store.read([&](store::ReadTx& tx) {
    found = tx.staff(c->company(), *id).has_value();
    if (found) ms = tx.event_types(c->company(), *id);
  });
  if (!found) return c->send(problem(Error::not_found("staff")));
  c->send(json_response(200, mapping_json(*id, ms)));
}

void list_jobs(Env& env, const CtxPtr& c) {
  SyncJobFilter f;
  json errors = json::array();
  if (auto it = c->query.find("state"); it != c->query.end()) {
    if (auto s = parse_job_state(it->second))
      f.state = *s;
    else
      errors.push_back(
          {{"field", "state"},
           {"message", "must be pending, running, done, superseded, skipped or failed"}});
  }
  if (auto it = c->query.find("limit"); it != c->query.end()) {
    const auto& v = it->second;
    if (!v.empty() && v.size() < 5 && v.find_first_not_of("0123456789") == std::string::npos &&
        std::stoi(v) >= 1 && std::stoi(v) <= 1000)
      f.limit = std::stoi(v);
    else
      errors.push_back({{"field", "limit"}, {"message", "must be 1 to 1000"}});
  }
  if (auto it = c->query.find("appointment_id"); it != c->query.end()) {
    const auto& v = it->second;
    if (!v.empty() && v.size() < 19 && v.find_first_not_of("0123456789") == std::string::npos)
      f.appointment_id = std::stoll(v);
    else
      errors.push_back({{"field", "appointment_id"}, {"message", "must be an id"}});
  }
  if (!errors.empty()) return c->send(validation_problem(errors));
  json items = json::array();
  env.store.read([&](store::ReadTx& tx) {
    for (const auto& j : tx.sync_jobs(c->company(), f)) items.push_back(job_json(j));
  });
  c->send(json_response(200, {{"jobs", std::move(items)}}));
}

void retry(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  const Id company = c->company();
  const Instant now = c->now;
  write(env, c, [company, job = *id, now](store::WriteTx& tx) {
    auto r = booking::attempt(tx, [&] { return sync::retry_job(tx, company, job, now); });
    return respond(r, 200, [](const SyncJob& j) { return job_json(j); });
  });
}

// The appointment with its sync state.
void get_appointment(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  std::optional<Appointment> a;
  std::vector<SyncJob> jobs;
  std::vector<ExternalBooking> ext;
  env.store.read([&](store::ReadTx& tx) {
    a = tx.appointment(c->company(), *id);
    if (!a) return;
    jobs = tx.sync_jobs(c->company(), {std::nullopt, *id, 1});
    ext = tx.external_bookings(*id);
  });
  if (!a) return c->send(problem(Error::not_found("appointment")));
  json j = to_json(*a);
  json uids = json::array();
  for (const auto& e : ext)
    if (e.live) uids.push_back(e.uid);
  const char* state = "synced";
  json last_error = nullptr;
  int attempts = 0;
  if (!jobs.empty()) {
    const SyncJob& s = jobs.front();
    attempts = s.attempts;
    if (!s.last_error.empty()) last_error = s.last_error;
    switch (s.state) {
      case JobState::kPending:
      case JobState::kRunning:
      case JobState::kSuperseded:
        state = "pending";
        break;
      case JobState::kDone:
        state = "synced";
        break;
      case JobState::kSkipped:
        state = "skipped";
        break;
      case JobState::kFailed:
        state = "failed";
        break;
    }
  } else if (a->source != "calcom") {
    state = "skipped";  // made before the outbox existed
  }
  j["sync"] = {{"state", state},
               {"external_uids", std::move(uids)},
               {"attempts", attempts},
               {"last_error", std::move(last_error)}};
  c->send(json_response(200, j));
}

void webhook(Env& env, const CtxPtr& c) {
  auto company = path_id(c, "company_id");
  if (!company) return;
  auto denied = [&](const char* why) {
    env.metrics
        .counter("appointd_calcom_webhooks_total", "Cal.com webhook deliveries by outcome",
                 {{"outcome", "invalid_signature"}})
        .inc();
    c->send(problem(401, "invalid_signature", "Unauthorized", why));
  };
  const auto header = c->req.header("x-cal-signature-256");
  if (!header) return denied("X-Cal-Signature-256 is missing");
  std::optional<Integration> i;
  env.store.read([&](store::ReadTx& tx) { i = tx.integration(*company, kProviderCalcom); });
  const auto* box = env.sync ? env.sync->secrets() : nullptr;
  std::optional<sync::CalcomSecrets> s;
  if (i && box) s = sync::open_calcom_secrets(*box, *i);
  if (!s || !sync::valid_signature(s->webhook_secret, c->req.body, *header))
    return denied("the signature does not match the body under the company's webhook secret");
  const std::string digest = sha256_hex(c->req.body);
  auto* engine = env.sync;
  auto& metrics = env.metrics;
  write(
      env, c,
      [company = *company, digest, body = c->req.body, now = c->now](store::WriteTx& tx) {
        const bool fresh =
            tx.insert_webhook(company, kProviderCalcom, digest, body, now).has_value();
        return json_response(200, {{"received", true}, {"duplicate", !fresh}});
      },
      [engine, &metrics](const Response& r) {
        if (r.status != 200) return;
        const bool dup = r.body.find("\"duplicate\":true") != std::string::npos;
        metrics
            .counter("appointd_calcom_webhooks_total", "Cal.com webhook deliveries by outcome",
                     {{"outcome", dup ? "duplicate" : "accepted"}})
            .inc();
        if (!dup && engine) engine->wake_inbox();
      });
}

}  // namespace

void sync_routes(std::vector<RouteDef>& out) {
  out.push_back({"PUT", "/v1/integrations/calcom", put_integration, Access::kCompany});
  out.push_back({"GET", "/v1/integrations/calcom", get_integration, Access::kCompany});
  out.push_back({"DELETE", "/v1/integrations/calcom", delete_integration, Access::kCompany});
  out.push_back({"PUT", "/v1/staff/{id}/calcom", put_staff_calcom, Access::kCompany});
  out.push_back({"GET", "/v1/staff/{id}/calcom", get_staff_calcom, Access::kCompany});
  out.push_back({"GET", "/v1/sync/jobs", list_jobs, Access::kCompany});
  out.push_back({"POST", "/v1/sync/jobs/{id}/retry", retry, Access::kCompany});
  out.push_back({"GET", "/v1/appointments/{id}", get_appointment, Access::kCompany});
  out.push_back({"POST", "/v1/webhooks/calcom/{company_id}", webhook, Access::kSigned});
}

}  // namespace appointd::http
