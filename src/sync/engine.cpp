#include "sync/engine.h"

#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "obs/log.h"
#include "sync/backoff.h"
#include "sync/executor.h"
#include "sync/integration.h"
#include "sync/jobs.h"
#include "sync/reconcile.h"
#include "sync/webhooks.h"

namespace appointd::sync {

namespace {

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "host";
  return buf;
}

}  // namespace

std::string ReconcileReport::to_text() const {
  if (!ok) return "reconciliation failed: " + error + "\n";
  return "listed " + std::to_string(listed) + " Cal.com bookings: " + std::to_string(matched) +
         " matched, " + std::to_string(imported) + " imported (" + std::to_string(conflicts) +
         " as conflict), " + std::to_string(reenqueued) + " appointments re-enqueued\n";
}

class Engine::Impl {
 public:
  Impl(store::Store& store, const Clock& clock, obs::Registry& metrics, const SecretBox* box,
       const SyncOptions& o)
      : store_(store),
        clock_(clock),
        metrics_(metrics),
        box_(box),
        o_(o),
        observer_(call_duration_observer(metrics)) {
    metrics_.gauge("appointd_sync_backlog", "Sync jobs due now (and expired leases)");
    metrics_.gauge("appointd_sync_oldest_due_seconds", "Age of the oldest due sync job");
    metrics_.gauge("appointd_sync_breakers_open", "Companies whose Cal.com breaker is open");
  }

  void start() {
    std::lock_guard lock(mu_);
    if (running_) return;
    running_ = true;
    const std::string base = host_name() + ":" + std::to_string(getpid()) + ":";
    for (int w = 0; w < o_.workers; ++w) {
      threads_.emplace_back([this, owner = base + std::to_string(w)] { dispatch(owner); });
      for (int i = 0; i < std::max(1, o_.concurrency); ++i)
        threads_.emplace_back([this] { execute(); });
    }
    threads_.emplace_back([this] { housekeeping(); });
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      if (!running_) return;
      running_ = false;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  void wake_inbox() {
    {
      std::lock_guard lock(mu_);
      inbox_due_ = true;
    }
    cv_.notify_all();
  }

  // Each delivery in its own transaction, so one that cannot be applied (it is marked "error"
  // after kMaxWebhookTries, and reconciliation repairs what it meant) never blocks the others.
  void drain_inbox() {
    std::vector<WebhookDelivery> batch;
    store_.write_sync([&](store::WriteTx& tx) { batch = tx.pending_webhooks(256); });
    for (const auto& d : batch) {
      std::string outcome;
      try {
        store_.write_sync(
            [&](store::WriteTx& tx) { outcome = process_webhook(tx, d, clock_.now()).outcome; });
      } catch (const std::exception& e) {
        if (++webhook_failures_[d.id] < kMaxWebhookTries) continue;
        webhook_failures_.erase(d.id);
        obs::log_warn("webhook delivery could not be applied",
                      "\"delivery\":" + std::to_string(d.id) + ",\"error\":\"" +
                          obs::json_escape(e.what()) + "\"");
        outcome = "error";
        store_.write_sync(
            [&](store::WriteTx& tx) { tx.finish_webhook(d.id, outcome, clock_.now()); });
      }
      if (outcome != "deferred") webhook_failures_.erase(d.id);
      count_webhook(outcome);
    }
  }

  ReconcileReport reconcile(Id company_id);

 private:
  struct Client {
    std::string api_key;
    std::unique_ptr<HttpClient> http;
    std::unique_ptr<calcom::CalcomClient> calcom;
  };

  std::shared_ptr<Client> client_for(Id company_id, const std::string& api_key, std::string* err) {
    std::lock_guard lock(clients_mu_);
    auto& c = clients_[company_id];
    if (c && c->api_key == api_key) return c;
    HttpClientOptions ho;
    ho.total_timeout = o_.call_timeout;
    ho.connect_timeout = std::min(o_.call_timeout, std::chrono::milliseconds(5000));
    ho.ca_file = o_.ca_file;
    auto made = HttpClient::create(o_.calcom_url, ho);
    if (!made.client) {
      *err = "cannot reach Cal.com at " + o_.calcom_url + ": " + made.error;
      return nullptr;
    }
    auto fresh = std::make_shared<Client>();
    fresh->api_key = api_key;
    fresh->http = std::move(made.client);
    calcom::CalcomClientOptions co;
    co.observer = observer_;
    co.clock = &clock_;
    fresh->calcom = std::make_unique<calcom::CalcomClient>(*fresh->http, api_key, co);
    c = fresh;
    return c;
  }

  Breaker& breaker_for(Id company_id) {
    std::lock_guard lock(clients_mu_);
    auto& b = breakers_[company_id];
    if (!b) b = std::make_unique<Breaker>(o_.breaker_failures, o_.breaker_open);
    return *b;
  }

  void count_webhook(const std::string& outcome) {
    metrics_
        .counter("appointd_calcom_webhooks_total", "Cal.com webhook deliveries by outcome",
                 {{"outcome", outcome}})
        .inc();
    if (outcome == "needs_attention")
      metrics_
          .counter("appointd_sync_needs_attention_total",
                   "Calendar changes appointd could not apply (appointment flagged)")
          .inc();
    if (outcome == "import_conflict")
      metrics_
          .counter("appointd_sync_import_conflicts_total",
                   "Calendar bookings imported as conflict (collide with appointd's)")
          .inc();
  }

  // Claims due jobs while there is room, and hands them to the executors.
  void dispatch(const std::string& owner) {
    std::unique_lock lock(mu_);
    while (running_) {
      const int room = std::max(1, o_.concurrency) - in_flight_[owner];
      if (room <= 0) {
        cv_.wait_for(lock, o_.poll);
        continue;
      }
      lock.unlock();
      std::vector<SyncJob> jobs;
      try {
        const Instant now = clock_.now();
        store_.write_sync(
            [&](store::WriteTx& tx) { jobs = claim_jobs(tx, owner, now, o_.lease, room); });
      } catch (const std::exception& e) {
        obs::log_warn("sync claim failed", "\"error\":\"" + obs::json_escape(e.what()) + "\"");
        jobs.clear();
      }
      lock.lock();
      for (auto& j : jobs) {
        ++in_flight_[owner];
        queue_.push_back({owner, std::move(j)});
      }
      if (!jobs.empty()) {
        cv_.notify_all();
        if (static_cast<int>(jobs.size()) == room) continue;  // maybe more are due
      }
      cv_.wait_for(lock, o_.poll);
    }
  }

  void execute() {
    std::mt19937_64 rng(std::random_device{}());
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return !running_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      auto [owner, job] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      try {
        run_one(owner, job, rng);
      } catch (const std::exception& e) {
        obs::log_warn("sync job failed to run", "\"job\":" + std::to_string(job.id) +
                                                    ",\"error\":\"" + obs::json_escape(e.what()) +
                                                    "\"");
      }
      lock.lock();
      --in_flight_[owner];
      cv_.notify_all();
    }
  }

  void run_one(const std::string& owner, const SyncJob& job, std::mt19937_64& rng) {
    JobContext ctx;
    std::optional<Integration> integ;
    bool found = false;
    store_.read([&](store::ReadTx& tx) {
      integ = tx.integration(job.company_id, kProviderCalcom);
      auto a = tx.appointment(job.company_id, job.appointment_id);
      found = a.has_value();
      if (!a) return;
      ctx.appointment = std::move(*a);
      ctx.customer = tx.customer(job.company_id, ctx.appointment.customer_id);
      if (auto b = tx.branch(job.company_id, ctx.appointment.branch_id)) ctx.timezone = b->timezone;
      ctx.mappings = tx.event_types(job.company_id, std::nullopt);
      ctx.known = tx.external_bookings(job.appointment_id);
    });
    ctx.deadline = std::chrono::system_clock::time_point(job.lease_until) - o_.call_timeout -
                   std::chrono::milliseconds(250);
    JobRun run;
    const Instant now = clock_.now();
    std::optional<CalcomSecrets> secrets;
    if (integ && box_) secrets = open_calcom_secrets(*box_, *integ);
    ctx.connected = secrets.has_value();
    if (integ) ctx.settings = parse_settings(integ->settings);
    std::shared_ptr<Client> client;
    std::string err;
    if (ctx.connected) client = client_for(job.company_id, secrets->api_key, &err);
    Breaker& breaker = breaker_for(job.company_id);
    if (!found) {
      run.outcome.kind = JobOutcome::kSkipped;
      run.outcome.error = "appointment not found";
    } else if (ctx.connected && !client) {
      run.outcome.kind = JobOutcome::kRetry;
      run.outcome.error = err;
    } else if (ctx.connected && !breaker.allow(now)) {
      run.outcome.kind = JobOutcome::kRetry;
      run.outcome.error = "Cal.com keeps failing: calls paused (circuit breaker open)";
      run.outcome.uncertain = job.uncertain;
      run.retry_after = std::chrono::duration_cast<std::chrono::seconds>(
          std::max(breaker.reopens_at() - now, std::chrono::seconds(1)));
    } else {
      run = run_calcom_job(job, ctx, client ? *client->calcom : *null_client());
      if (run.provider_failure)
        breaker.failure(clock_.now());
      else if (run.provider_ok)
        breaker.success();
      else
        breaker.abandon();  // no call was made: it proved nothing either way
    }
    JobOutcome& o = run.outcome;
    if (o.kind == JobOutcome::kRetry) {
      const Instant t = clock_.now();
      o.retry_at = run.retry_now
                       ? t
                       : t + backoff_delay({o_.backoff_base, o_.backoff_cap}, job.attempts, rng,
                                           // instants are whole seconds: round up
                                           run.retry_after.count() > 0
                                               ? run.retry_after + std::chrono::seconds(1)
                                               : run.retry_after);
    }
    std::optional<JobState> state;
    store_.write_sync([&](store::WriteTx& tx) {
      state = finish_job(tx, job, owner, o, clock_.now(), o_.max_age);
    });
    metrics_.counter("appointd_sync_attempts_total", "Sync job attempts").inc();
    const char* label = !state ? "lease_lost"
                        : o.kind == JobOutcome::kRetry && *state == JobState::kPending
                            ? "retry"
                            : to_string(*state);
    metrics_
        .counter("appointd_sync_job_results_total", "Sync job attempts by result and action",
                 {{"result", label}, {"action", job.action}})
        .inc();
    if (state == JobState::kFailed)
      obs::log_warn("sync job failed", "\"job\":" + std::to_string(job.id) + ",\"appointment\":" +
                                           std::to_string(job.appointment_id) + ",\"error\":\"" +
                                           obs::json_escape(o.error) + "\"");
  }

  // Only reached when not connected: run_calcom_job then makes no call.
  const calcom::CalcomClient* null_client() {
    std::call_once(null_once_, [this] {
      null_http_ = HttpClient::create("http://127.0.0.1:9").client;
      null_calcom_ = std::make_unique<calcom::CalcomClient>(*null_http_, "");
    });
    return null_calcom_.get();
  }

  void refresh_gauges() {
    const Instant now = clock_.now();
    SyncStats st;
    store_.read([&](store::ReadTx& tx) { st = tx.sync_stats(now); });
    for (const auto& c : st.jobs)
      metrics_
          .gauge("appointd_sync_jobs", "Sync jobs by state and action",
                 {{"state", c.state}, {"action", c.action}})
          .set(c.count);
    metrics_.gauge("appointd_sync_backlog", "").set(st.due);
    metrics_.gauge("appointd_sync_oldest_due_seconds", "")
        .set(st.oldest_due ? std::max<std::int64_t>(0, (now - *st.oldest_due).count()) : 0);
    long open = 0;
    {
      std::lock_guard lock(clients_mu_);
      for (auto& [id, b] : breakers_) open += b->state(now) != Breaker::kClosed;
    }
    metrics_.gauge("appointd_sync_breakers_open", "").set(open);
  }

  void housekeeping() {
    auto next_gauges = std::chrono::steady_clock::now();
    auto next_reconcile = std::chrono::steady_clock::now() + o_.reconcile_every;
    auto next_inbox = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_);
    while (running_) {
      const bool inbox = inbox_due_;
      inbox_due_ = false;
      lock.unlock();
      const auto t = std::chrono::steady_clock::now();
      try {
        if (o_.inbox && (inbox || t >= next_inbox)) {
          drain_inbox();
          next_inbox = t + std::chrono::seconds(1);
        }
        if (t >= next_gauges) {
          refresh_gauges();
          next_gauges = t + std::chrono::seconds(5);
        }
        if (o_.reconcile_every.count() > 0 && t >= next_reconcile) {
          next_reconcile = t + o_.reconcile_every;
          std::vector<Integration> all;
          store_.read([&](store::ReadTx& tx) { all = tx.integrations(kProviderCalcom); });
          for (const auto& i : all) {
            auto r = reconcile(i.company_id);
            obs::log_info("calcom reconciliation", "\"company\":" + std::to_string(i.company_id) +
                                                       ",\"report\":\"" +
                                                       obs::json_escape(r.to_text()) + "\"");
          }
        }
      } catch (const std::exception& e) {
        obs::log_warn("sync housekeeping failed",
                      "\"error\":\"" + obs::json_escape(e.what()) + "\"");
      }
      lock.lock();
      if (!inbox_due_) cv_.wait_for(lock, std::chrono::milliseconds(250));
    }
  }

  store::Store& store_;
  const Clock& clock_;
  obs::Registry& metrics_;
  const SecretBox* box_;
  const SyncOptions o_;
  CallObserver observer_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;
  bool inbox_due_ = false;
  std::deque<std::pair<std::string, SyncJob>> queue_;
  std::map<std::string, int> in_flight_;
  std::vector<std::thread> threads_;

  std::mutex clients_mu_;
  std::map<Id, std::shared_ptr<Client>> clients_;
  std::map<Id, std::unique_ptr<Breaker>> breakers_;
  static constexpr int kMaxWebhookTries = 5;
  std::map<Id, int> webhook_failures_;  // housekeeping thread only
  std::once_flag null_once_;
  std::unique_ptr<HttpClient> null_http_;
  std::unique_ptr<calcom::CalcomClient> null_calcom_;

  friend class Engine;
};

ReconcileReport Engine::Impl::reconcile(Id company_id) {
  ReconcileReport rep;
  std::optional<Integration> integ;
  store_.read([&](store::ReadTx& tx) { integ = tx.integration(company_id, kProviderCalcom); });
  if (!integ) {
    rep.error = "company " + std::to_string(company_id) + " has no Cal.com integration";
    return rep;
  }
  std::optional<CalcomSecrets> secrets;
  if (box_) secrets = open_calcom_secrets(*box_, *integ);
  if (!secrets) {
    rep.error = "the Cal.com secrets do not open with this secrets key";
    return rep;
  }
  std::string err;
  auto client = client_for(company_id, secrets->api_key, &err);
  if (!client) {
    rep.error = err;
    return rep;
  }
  rep = reconcile_company(store_, clock_, *client->calcom, company_id, o_.horizon_days);
  if (rep.ok) {
    auto& c = metrics_;
    c.counter("appointd_sync_reconcile_repairs_total", "Drift repaired by reconciliation",
              {{"kind", "imported"}})
        .inc(rep.imported);
    c.counter("appointd_sync_reconcile_repairs_total", "", {{"kind", "reenqueued"}})
        .inc(rep.reenqueued);
  }
  return rep;
}

Engine::Engine(store::Store& store, const Clock& clock, obs::Registry& metrics,
               std::shared_ptr<const SecretBox> box, SyncOptions options)
    : box_(std::move(box)),
      options_(std::move(options)),
      impl_(std::make_unique<Impl>(store, clock, metrics, box_.get(), options_)) {}

Engine::~Engine() {
  stop();
}
void Engine::start() {
  impl_->start();
}
void Engine::stop() {
  impl_->stop();
}
void Engine::wake_inbox() {
  impl_->wake_inbox();
}
void Engine::drain_inbox() {
  impl_->drain_inbox();
}
ReconcileReport Engine::reconcile(Id company_id) {
  return impl_->reconcile(company_id);
}

}  // namespace appointd::sync
