// The calendar sync's store methods (issue 13) on both backends: SQLite, and PostgreSQL when
// APPOINTD_PG_URL is set (scripts/pg_tmp.sh, as ./test.sh does; those variants skip themselves
// without it). Every test gets a fresh store, on PostgreSQL a fresh database: claims, stats and
// the webhook inbox are global, not per company. On PostgreSQL also: concurrent transactions'
// claims never return one appointment twice (FOR UPDATE SKIP LOCKED).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "booking/appointments.h"
#include "booking/attempt.h"
#include "booking/catalog.h"
#include "pg_test_db.h"
#include "store/postgres/pg.h"
#include "store/postgres/pg_tx.h"
#include "store/store.h"

using namespace appointd;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

Instant at(const char* s) {
  return *parse_rfc3339(s);
}

std::int64_t secs(Instant t) {
  return to_unix(t);
}

bool due(const SyncJob& j, Instant now) {
  return (j.state == JobState::kPending && j.next_attempt_at <= now) ||
         (j.state == JobState::kRunning && j.lease_until <= now);
}

void expect_same_job(const SyncJob& got, const SyncJob& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.appointment_id, want.appointment_id);
  EXPECT_EQ(got.company_id, want.company_id);
  EXPECT_EQ(got.action, want.action);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(to_string(got.state), std::string(to_string(want.state)));
  EXPECT_EQ(got.attempts, want.attempts);
  EXPECT_EQ(secs(got.next_attempt_at), secs(want.next_attempt_at));
  EXPECT_EQ(secs(got.created_at), secs(want.created_at));
  EXPECT_EQ(got.lease_owner, want.lease_owner);
  EXPECT_EQ(secs(got.lease_until), secs(want.lease_until));
  EXPECT_EQ(got.last_error, want.last_error);
  EXPECT_EQ(got.uncertain, want.uncertain);
  EXPECT_EQ(secs(got.lookup_from), secs(want.lookup_from));
  EXPECT_EQ(secs(got.lookup_until), secs(want.lookup_until));
}

void expect_same_booking(const ExternalBooking& got, const ExternalBooking& want) {
  EXPECT_EQ(got.appointment_id, want.appointment_id);
  EXPECT_EQ(got.ordinal, want.ordinal);
  EXPECT_EQ(got.provider, want.provider);
  EXPECT_EQ(got.uid, want.uid);
  EXPECT_EQ(got.event_type_id, want.event_type_id);
  EXPECT_EQ(secs(got.start), secs(want.start));
  EXPECT_EQ(got.live, want.live);
}

std::vector<Id> ids_of(const std::vector<Appointment>& as) {
  std::vector<Id> out;
  for (const auto& a : as) out.push_back(a.id);
  return out;
}

// A store of its own for one test: a temp folder (SQLite) or a database (PostgreSQL), with one
// company, a branch, two services and three staff members.
class SyncStoreBase : public ::testing::Test {
 protected:
  // False when the backend is not available here (PostgreSQL without APPOINTD_PG_URL).
  bool open(const std::string& backend, int pg_writers = 1) {
    store::Options o;
    o.durability_full = false;
    if (backend == "postgresql") {
      if (pgtest::pg_base_url().empty()) return false;
      static std::atomic<int> n{0};
      const std::string prefix = "appointd_sync_" + std::to_string(n++) + "_";
      pg_db_ = prefix + std::to_string(::getpid());
      url_ = pgtest::pg_schema_url(prefix);
      o.url = url_;
      o.pg_writers = pg_writers;
    } else {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '_');
      dir_ = std::filesystem::temp_directory_path() /
             ("appointd-sync-" + std::to_string(::getpid()) + "-" + name);
      std::filesystem::remove_all(dir_);
      std::filesystem::create_directories(dir_);
      o.url = "sqlite:" + (dir_ / "t.db").string();
    }
    store_ = store::open_store(o);
    write([&](store::WriteTx& tx) {
      company_ = booking::create_company(tx, {"Co", "Europe/Berlin", "DE", now_})->company.id;
      branch_ = booking::create_branch(tx, {company_, "B", std::nullopt, "", now_})->id;
      cut_ = booking::create_service(tx, {company_, "Cut", 30, 0, 10, now_})->id;
      long_ = booking::create_service(tx, {company_, "Long", 60, 5, 5, now_})->id;
      staff_.clear();
      for (int i = 0; i < 3; ++i)
        staff_.push_back(
            booking::create_staff(tx, {company_, branch_, "S", "", {cut_, long_}, now_})->id);
    });
    return true;
  }

  void TearDown() override {
    store_.reset();
    if (!pg_db_.empty()) {
      store::postgres::Connection admin(pgtest::pg_base_url(), {});
      admin.exec(("DROP DATABASE IF EXISTS " + pg_db_ + " WITH (FORCE)").c_str());
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void write(const store::WriteFn& fn) { store_->write_sync(fn); }
  void read(const store::ReadFn& fn) { store_->read(fn); }

  Id other_company() {
    Id id = 0;
    write([&](store::WriteTx& tx) {
      id = booking::create_company(tx, {"Other", "Europe/Berlin", "DE", now_})->company.id;
    });
    return id;
  }

  // A one-segment booking (its outbox job: "create", version 1, due at now_).
  Id book(Id staff, Instant start) {
    booking::Book b;
    b.company_id = company_;
    b.customer = booking::CustomerInput{"+49301234567", "X", ""};
    b.segments = {{staff, cut_, start, std::nullopt}};
    b.now = now_;
    std::optional<Result<Appointment>> r;
    write([&](store::WriteTx& tx) {
      r = booking::attempt(tx, [&] { return booking::book(tx, b); });
    });
    EXPECT_TRUE(r && r->ok());
    return r && r->ok() ? (*r)->id : 0;
  }

  void cancel(Id appointment, Instant when) {
    write([&](store::WriteTx& tx) {
      EXPECT_TRUE(booking::cancel(tx, {company_, appointment, std::nullopt, "", when}).ok());
    });
  }

  // The appointment's jobs, newest first.
  std::vector<SyncJob> jobs_of(Id appointment) {
    std::vector<SyncJob> out;
    read([&](store::ReadTx& tx) {
      out = tx.sync_jobs(company_, {std::nullopt, appointment, 100});
    });
    return out;
  }

  // Sets the appointment's job of `version`: its state, next attempt and lease (none: no owner).
  void set_job(Id appointment, JobState state, Instant next, std::optional<Instant> lease = {},
               std::int64_t version = 1) {
    for (SyncJob j : jobs_of(appointment)) {
      if (j.version != version) continue;
      j.state = state;
      j.next_attempt_at = next;
      j.lease_owner = lease ? "w" : "";
      j.lease_until = lease.value_or(Instant{});
      write([&](store::WriteTx& tx) { tx.save_sync_job(j); });
      return;
    }
    ADD_FAILURE() << "no job of version " << version << " for appointment " << appointment;
  }

  std::filesystem::path dir_;
  std::string pg_db_, url_;
  std::unique_ptr<store::Store> store_;
  Instant now_ = at("2026-11-28T08:00:00Z");
  Id company_ = 0, branch_ = 0, cut_ = 0, long_ = 0;
  std::vector<Id> staff_;
};

class SyncStore : public SyncStoreBase, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    if (!open(GetParam())) GTEST_SKIP() << "no APPOINTD_PG_URL";
  }
};

TEST_P(SyncStore, IntegrationsArePutReplacedListedAndDeleted) {
  const Id other = other_company();
  Integration mine{company_,
                   kProviderCalcom,
                   "sealed-1",
                   "fp-1",
                   R"({"placeholder_email_domain":"phone.invalid"})",
                   now_};
  Integration theirs{other, kProviderCalcom, "sealed-o", "fp-1", "{}", now_};
  write([&](store::WriteTx& tx) {
    tx.put_integration(mine);
    tx.put_integration(theirs);
  });
  read([&](store::ReadTx& tx) {
    auto i = tx.integration(company_, kProviderCalcom);
    ASSERT_TRUE(i);
    EXPECT_EQ(i->company_id, company_);
    EXPECT_EQ(i->provider, kProviderCalcom);
    EXPECT_EQ(i->secrets, "sealed-1");
    EXPECT_EQ(i->key_fingerprint, "fp-1");
    EXPECT_EQ(i->settings, mine.settings);
    EXPECT_EQ(secs(i->updated_at), secs(now_));
    EXPECT_FALSE(tx.integration(company_, "google"));
  });
  mine.secrets = "sealed-2";
  mine.key_fingerprint = "fp-2";
  mine.settings = "{}";
  mine.updated_at = now_ + hours(1);
  write([&](store::WriteTx& tx) { tx.put_integration(mine); });
  read([&](store::ReadTx& tx) {
    auto i = tx.integration(company_, kProviderCalcom);
    ASSERT_TRUE(i);
    EXPECT_EQ(i->secrets, "sealed-2");
    EXPECT_EQ(i->key_fingerprint, "fp-2");
    EXPECT_EQ(i->settings, "{}");
    EXPECT_EQ(secs(i->updated_at), secs(now_ + hours(1)));
    auto all = tx.integrations(kProviderCalcom);
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].company_id, company_);
    EXPECT_EQ(all[1].company_id, other);
    EXPECT_EQ(all[1].secrets, "sealed-o");
    EXPECT_TRUE(tx.integrations("google").empty());
  });
  bool first = false, again = true;
  write([&](store::WriteTx& tx) {
    first = tx.delete_integration(company_, kProviderCalcom);
    again = tx.delete_integration(company_, kProviderCalcom);
  });
  EXPECT_TRUE(first);
  EXPECT_FALSE(again);
  read([&](store::ReadTx& tx) {
    EXPECT_FALSE(tx.integration(company_, kProviderCalcom));
    auto all = tx.integrations(kProviderCalcom);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].company_id, other);
  });
}

TEST_P(SyncStore, EventTypesAreReplacedPerStaffMember) {
  const Id other = other_company();
  const Id s0 = staff_[0], s1 = staff_[1];
  write([&](store::WriteTx& tx) {
    tx.replace_event_types(company_, s1, {{s1, long_, 200}, {s1, cut_, 100}});
    tx.replace_event_types(company_, s0, {{s0, cut_, 300}});
  });
  read([&](store::ReadTx& tx) {
    EXPECT_EQ(tx.event_types(company_, s1),
              (std::vector<EventTypeMapping>{{s1, cut_, 100}, {s1, long_, 200}}));
    EXPECT_EQ(tx.event_types(company_, std::nullopt),
              (std::vector<EventTypeMapping>{{s0, cut_, 300}, {s1, cut_, 100}, {s1, long_, 200}}));
    EXPECT_TRUE(tx.event_types(company_, staff_[2]).empty());
    EXPECT_TRUE(tx.event_types(other, std::nullopt).empty());
    EXPECT_TRUE(tx.event_types(other, s1).empty());
  });
  write([&](store::WriteTx& tx) { tx.replace_event_types(company_, s1, {{s1, long_, 201}}); });
  read([&](store::ReadTx& tx) {
    EXPECT_EQ(tx.event_types(company_, s1), (std::vector<EventTypeMapping>{{s1, long_, 201}}));
    EXPECT_EQ(tx.event_types(company_, s0), (std::vector<EventTypeMapping>{{s0, cut_, 300}}));
  });
  write([&](store::WriteTx& tx) { tx.replace_event_types(company_, s0, {}); });
  read([&](store::ReadTx& tx) {
    EXPECT_EQ(tx.event_types(company_, std::nullopt),
              (std::vector<EventTypeMapping>{{s1, long_, 201}}));
  });
}

TEST_P(SyncStore, ExternalBookingsAreUpsertedAndNeverComeBackToLife) {
  const Id a = book(staff_[0], at("2026-12-01T09:00:00Z"));
  const Id b = book(staff_[1], at("2026-12-01T09:00:00Z"));
  const Instant t = at("2026-12-01T09:00:00Z");
  ExternalBooking x{a, 0, kProviderCalcom, "uid-1", 11, t, true};
  ExternalBooking y{a, 1, kProviderCalcom, "uid-2", 12, t + minutes(30), true};
  ExternalBooking z{b, 0, kProviderCalcom, "uid-3", 13, t, false};  // known only as gone
  write([&](store::WriteTx& tx) {
    tx.record_external_booking(x);
    tx.record_external_booking(y);
    tx.record_external_booking(z);
  });
  read([&](store::ReadTx& tx) {
    auto of_a = tx.external_bookings(a);
    ASSERT_EQ(of_a.size(), 2u);  // in insertion order
    expect_same_booking(of_a[0], x);
    expect_same_booking(of_a[1], y);
    auto got = tx.external_booking(kProviderCalcom, "uid-3");
    ASSERT_TRUE(got);
    expect_same_booking(*got, z);
    EXPECT_FALSE(tx.external_booking(kProviderCalcom, "uid-9"));
    EXPECT_FALSE(tx.external_booking("google", "uid-1"));
    EXPECT_TRUE(tx.external_bookings(b + 1000).empty());
  });
  // Moved, then cancelled in the calendar; a stale "live" afterwards changes the rest only.
  ExternalBooking moved = x;
  moved.ordinal = 2;
  moved.event_type_id = 21;
  moved.start = t + hours(1);
  write([&](store::WriteTx& tx) { tx.record_external_booking(moved); });
  ExternalBooking gone = moved;
  gone.live = false;
  write([&](store::WriteTx& tx) { tx.record_external_booking(gone); });
  ExternalBooking stale = gone;
  stale.live = true;
  stale.start = t + hours(2);
  write([&](store::WriteTx& tx) {
    tx.record_external_booking(stale);
    tx.record_external_booking({b, 0, kProviderCalcom, "uid-3", 13, t, true});
  });
  read([&](store::ReadTx& tx) {
    auto of_a = tx.external_bookings(a);
    ASSERT_EQ(of_a.size(), 2u);
    ExternalBooking want = stale;
    want.live = false;
    expect_same_booking(of_a[0], want);
    expect_same_booking(of_a[1], y);
    auto got = tx.external_booking(kProviderCalcom, "uid-3");
    ASSERT_TRUE(got);
    EXPECT_FALSE(got->live);
  });
}

TEST_P(SyncStore, JobsAreListedNewestFirstAndSavedWhole) {
  const Id other = other_company();
  const Id a1 = book(staff_[0], at("2026-12-01T09:00:00Z"));
  const Id a2 = book(staff_[1], at("2026-12-01T09:00:00Z"));
  cancel(a1, now_ + minutes(1));
  std::vector<SyncJob> all;
  read([&](store::ReadTx& tx) { all = tx.sync_jobs(company_, {}); });
  ASSERT_EQ(all.size(), 3u);
  EXPECT_GT(all[0].id, all[1].id);
  EXPECT_GT(all[1].id, all[2].id);
  EXPECT_EQ(all[0].appointment_id, a1);
  EXPECT_EQ(all[0].action, "cancel");
  EXPECT_EQ(all[0].version, 2);
  EXPECT_EQ(all[1].appointment_id, a2);
  EXPECT_EQ(all[2].appointment_id, a1);
  EXPECT_EQ(all[2].action, "create");
  EXPECT_EQ(all[2].version, 1);
  for (const auto& j : all) {
    const Instant enqueued = j.action == "cancel" ? now_ + minutes(1) : now_;
    EXPECT_EQ(j.company_id, company_);
    EXPECT_EQ(j.state, JobState::kPending);
    EXPECT_EQ(j.attempts, 0);
    EXPECT_EQ(secs(j.next_attempt_at), secs(enqueued));
    EXPECT_EQ(secs(j.created_at), secs(enqueued));  // enqueue_sync sets created_at
    EXPECT_EQ(j.lease_owner, "");
    EXPECT_EQ(j.last_error, "");
    EXPECT_FALSE(j.uncertain);
  }
  read([&](store::ReadTx& tx) {
    auto of_a1 = tx.sync_jobs(company_, {std::nullopt, a1, 100});
    ASSERT_EQ(of_a1.size(), 2u);
    EXPECT_EQ(of_a1[0].id, all[0].id);
    EXPECT_EQ(of_a1[1].id, all[2].id);
    auto newest = tx.sync_jobs(company_, {JobState::kPending, std::nullopt, 1});
    ASSERT_EQ(newest.size(), 1u);
    EXPECT_EQ(newest[0].id, all[0].id);
    EXPECT_TRUE(tx.sync_jobs(company_, {JobState::kDone, std::nullopt, 100}).empty());
    EXPECT_TRUE(tx.sync_jobs(other, {}).empty());
    EXPECT_TRUE(tx.sync_jobs(other, {std::nullopt, a1, 100}).empty());
    auto one = tx.sync_job(company_, all[1].id);
    ASSERT_TRUE(one);
    expect_same_job(*one, all[1]);
    EXPECT_FALSE(tx.sync_job(other, all[1].id));
    EXPECT_FALSE(tx.sync_job(company_, all[0].id + 1000));
  });

  SyncJob j = all[2];
  j.state = JobState::kRunning;
  j.attempts = 3;
  j.next_attempt_at = now_ + minutes(5);
  j.created_at = now_ - hours(1);
  j.lease_owner = "worker-1";
  j.lease_until = now_ + minutes(1);
  j.last_error = "HTTP 503 from cal.com";
  j.uncertain = true;
  j.lookup_from = now_ - hours(2);
  j.lookup_until = now_ + hours(2);
  write([&](store::WriteTx& tx) { tx.save_sync_job(j); });
  read([&](store::ReadTx& tx) {
    auto got = tx.sync_job(company_, j.id);
    ASSERT_TRUE(got);
    expect_same_job(*got, j);
    auto running = tx.sync_jobs(company_, {JobState::kRunning, std::nullopt, 100});
    ASSERT_EQ(running.size(), 1u);
    EXPECT_EQ(running[0].id, j.id);
    auto pending_a1 = tx.sync_jobs(company_, {JobState::kPending, a1, 100});
    ASSERT_EQ(pending_a1.size(), 1u);
    EXPECT_EQ(pending_a1[0].id, all[0].id);
  });
  // Without an owner the lease is gone; the lookup window stays while it is one (from < until),
  // doubt or not.
  j.state = JobState::kDone;
  j.lease_owner = "";
  j.last_error = "";
  j.uncertain = false;
  write([&](store::WriteTx& tx) { tx.save_sync_job(j); });
  SyncJob want = j;
  want.lease_until = from_unix(0);
  read([&](store::ReadTx& tx) {
    auto got = tx.sync_job(company_, j.id);
    ASSERT_TRUE(got);
    expect_same_job(*got, want);
  });
  j.lookup_from = j.lookup_until = now_;  // empty: none
  write([&](store::WriteTx& tx) { tx.save_sync_job(j); });
  want.lookup_from = want.lookup_until = from_unix(0);
  read([&](store::ReadTx& tx) {
    auto got = tx.sync_job(company_, j.id);
    ASSERT_TRUE(got);
    expect_same_job(*got, want);
  });
}

TEST_P(SyncStore, ClaimTakesTheDueAppointmentsLongestDueFirst) {
  const Instant t = now_;
  std::vector<Id> a;  // a[1] .. a[6]
  a.push_back(0);
  for (int i = 1; i <= 6; ++i)
    a.push_back(book(staff_[static_cast<size_t>(i % 3)],
                     at("2026-12-01T09:00:00Z") + hours(i)));  // distinct times
  cancel(a[5], now_);                                          // a second job, version 2
  set_job(a[1], JobState::kPending, t - minutes(10));
  set_job(a[2], JobState::kRunning, t - hours(2), t - minutes(20));  // lease expired
  set_job(a[3], JobState::kPending, t + hours(1));                   // not due yet
  set_job(a[4], JobState::kRunning, t - hours(2), t + minutes(5));   // lease held
  set_job(a[5], JobState::kPending, t - minutes(30), {}, 1);
  set_job(a[5], JobState::kPending, t - minutes(1), {}, 2);
  set_job(a[6], JobState::kDone, t - hours(3));

  std::vector<Id> all, two, none, later;
  write([&](store::WriteTx& tx) { all = tx.claim_due_appointments(t, 10); });
  write([&](store::WriteTx& tx) { two = tx.claim_due_appointments(t, 2); });
  write([&](store::WriteTx& tx) { none = tx.claim_due_appointments(t - hours(5), 10); });
  write([&](store::WriteTx& tx) { later = tx.claim_due_appointments(t + minutes(6), 10); });
  EXPECT_EQ(all, (std::vector<Id>{a[5], a[2], a[1]}));
  EXPECT_EQ(two, (std::vector<Id>{a[5], a[2]}));
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(later, (std::vector<Id>{a[5], a[2], a[1], a[4]}));

  // Open jobs: pending and running ones, in the order of the ids given, then by version.
  std::vector<SyncJob> open, empty;
  write([&](store::WriteTx& tx) {
    tx.lock_appointment(a[5]);
    const Id ids[] = {a[5], a[3], a[6], a[1], a[4]};
    open = tx.open_sync_jobs(ids);
    empty = tx.open_sync_jobs({});
  });
  EXPECT_TRUE(empty.empty());
  ASSERT_EQ(open.size(), 5u);
  const std::vector<std::pair<Id, std::int64_t>> want = {
      {a[5], 1}, {a[5], 2}, {a[3], 1}, {a[1], 1}, {a[4], 1}};
  for (size_t i = 0; i < open.size(); ++i) {
    EXPECT_EQ(open[i].appointment_id, want[i].first) << i;
    EXPECT_EQ(open[i].version, want[i].second) << i;
    EXPECT_EQ(open[i].company_id, company_);
  }
  EXPECT_EQ(open[4].state, JobState::kRunning);
  EXPECT_EQ(open[4].lease_owner, "w");
  EXPECT_EQ(secs(open[4].lease_until), secs(t + minutes(5)));
}

TEST_P(SyncStore, StatsCountJobsByStateAndActionAndTheDue) {
  const Id a1 = book(staff_[0], at("2026-12-01T09:00:00Z"));
  book(staff_[1], at("2026-12-01T09:00:00Z"));
  cancel(a1, now_ + minutes(1));
  SyncStats st;
  read([&](store::ReadTx& tx) { st = tx.sync_stats(now_); });
  ASSERT_EQ(st.jobs.size(), 2u);
  EXPECT_EQ(st.jobs[0].state, "pending");
  EXPECT_EQ(st.jobs[0].action, "cancel");
  EXPECT_EQ(st.jobs[0].count, 1);
  EXPECT_EQ(st.jobs[1].state, "pending");
  EXPECT_EQ(st.jobs[1].action, "create");
  EXPECT_EQ(st.jobs[1].count, 2);
  EXPECT_EQ(st.due, 2);
  ASSERT_TRUE(st.oldest_due);
  EXPECT_EQ(secs(*st.oldest_due), secs(now_));
  read([&](store::ReadTx& tx) { st = tx.sync_stats(now_ - seconds(1)); });
  EXPECT_EQ(st.due, 0);
  EXPECT_FALSE(st.oldest_due);
  EXPECT_EQ(st.jobs.size(), 2u);

  set_job(a1, JobState::kRunning, now_, now_ - minutes(5), 1);  // an expired lease
  read([&](store::ReadTx& tx) { st = tx.sync_stats(now_ + minutes(1)); });
  ASSERT_EQ(st.jobs.size(), 3u);
  EXPECT_EQ(st.jobs[2].state, "running");
  EXPECT_EQ(st.jobs[2].action, "create");
  EXPECT_EQ(st.jobs[2].count, 1);
  EXPECT_EQ(st.jobs[1].count, 1);
  EXPECT_EQ(st.due, 3);
  ASSERT_TRUE(st.oldest_due);
  EXPECT_EQ(secs(*st.oldest_due), secs(now_ - minutes(5)));
}

TEST_P(SyncStore, WebhooksAreStoredOnceAndFinished) {
  const Id other = other_company();
  std::optional<Id> w1, dup, w2, w3;
  write([&](store::WriteTx& tx) {
    w1 = tx.insert_webhook(company_, kProviderCalcom, "d1", R"({"n":1})", now_);
    dup = tx.insert_webhook(company_, kProviderCalcom, "d1", R"({"n":1})", now_ + seconds(1));
    w2 = tx.insert_webhook(other, kProviderCalcom, "d1", R"({"o":1})", now_ + seconds(2));
    w3 = tx.insert_webhook(company_, kProviderCalcom, "d2", R"({"n":2})", now_ + seconds(3));
  });
  ASSERT_TRUE(w1 && w2 && w3);
  EXPECT_FALSE(dup);
  EXPECT_LT(*w1, *w2);
  EXPECT_LT(*w2, *w3);
  std::vector<WebhookDelivery> pending, first_two;
  write([&](store::WriteTx& tx) {
    pending = tx.pending_webhooks(10);
    first_two = tx.pending_webhooks(2);
  });
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].id, *w1);
  EXPECT_EQ(pending[0].company_id, company_);
  EXPECT_EQ(pending[0].provider, kProviderCalcom);
  EXPECT_EQ(pending[0].body, R"({"n":1})");
  EXPECT_EQ(secs(pending[0].received_at), secs(now_));
  EXPECT_EQ(pending[1].id, *w2);
  EXPECT_EQ(pending[1].company_id, other);
  EXPECT_EQ(pending[2].id, *w3);
  EXPECT_EQ(secs(pending[2].received_at), secs(now_ + seconds(3)));
  ASSERT_EQ(first_two.size(), 2u);
  EXPECT_EQ(first_two[1].id, *w2);

  write([&](store::WriteTx& tx) { tx.finish_webhook(*w1, "imported", now_ + seconds(10)); });
  write([&](store::WriteTx& tx) {
    pending = tx.pending_webhooks(10);
    dup = tx.insert_webhook(company_, kProviderCalcom, "d1", R"({"n":1})", now_ + seconds(11));
  });
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].id, *w2);
  EXPECT_EQ(pending[1].id, *w3);
  EXPECT_FALSE(dup);  // still a duplicate once processed
}

TEST_P(SyncStore, ConflictStatusAndNeedsAttentionRoundTripAndAreListed) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id a = book(staff_[0], t);
  const Id b = book(staff_[0], t + hours(2));
  const Id c = book(staff_[1], t);
  cancel(c, now_);
  write([&](store::WriteTx& tx) {
    auto ap = tx.appointment(company_, a);
    ASSERT_TRUE(ap);
    EXPECT_FALSE(ap->needs_attention);
    ap->status = AppointmentStatus::kConflict;  // blocks no time
    ap->needs_attention = true;
    ap->version += 1;
    ap->updated_at = now_ + minutes(1);
    tx.deactivate_segments(a);
    tx.update_appointment(*ap);
    auto bp = tx.appointment(company_, b);
    ASSERT_TRUE(bp);
    bp->needs_attention = true;
    tx.update_appointment(*bp);
  });
  read([&](store::ReadTx& tx) {
    auto ap = tx.appointment(company_, a);
    ASSERT_TRUE(ap);
    EXPECT_EQ(ap->status, AppointmentStatus::kConflict);
    EXPECT_TRUE(ap->needs_attention);
    EXPECT_EQ(ap->version, 2);
    EXPECT_EQ(secs(ap->updated_at), secs(now_ + minutes(1)));
    ASSERT_EQ(ap->segments.size(), 1u);
    EXPECT_FALSE(ap->segments[0].active);
    auto bp = tx.appointment(company_, b);
    ASSERT_TRUE(bp);
    EXPECT_EQ(bp->status, AppointmentStatus::kBooked);
    EXPECT_TRUE(bp->needs_attention);

    store::AppointmentFilter f;
    EXPECT_EQ(ids_of(tx.appointments(company_, f)), (std::vector<Id>{a, b, c}));
    f.status = AppointmentStatus::kConflict;
    auto conflicts = tx.appointments(company_, f);
    ASSERT_EQ(ids_of(conflicts), (std::vector<Id>{a}));
    EXPECT_TRUE(conflicts[0].needs_attention);
    EXPECT_EQ(conflicts[0].status, AppointmentStatus::kConflict);
    f.status = AppointmentStatus::kBooked;
    EXPECT_EQ(ids_of(tx.appointments(company_, f)), (std::vector<Id>{b}));
    f.status.reset();
    f.staff_id = staff_[0];
    f.window = Interval{t - minutes(10), t + minutes(10)};
    EXPECT_EQ(ids_of(tx.appointments(company_, f)), (std::vector<Id>{a}));
    f.staff_id.reset();
    EXPECT_EQ(ids_of(tx.appointments(company_, f)), (std::vector<Id>{a, c}));
  });
  write([&](store::WriteTx& tx) {
    auto ap = tx.appointment(company_, a);
    ASSERT_TRUE(ap);
    ap->needs_attention = false;
    tx.update_appointment(*ap);
  });
  read([&](store::ReadTx& tx) {
    auto ap = tx.appointment(company_, a);
    ASSERT_TRUE(ap);
    EXPECT_FALSE(ap->needs_attention);
    EXPECT_EQ(ap->status, AppointmentStatus::kConflict);
  });
}

// As the import of a calendar booking that collides with one of appointd's writes it (sync
// webhooks): a conflict appointment whose segment is inserted, then deactivated. It blocks
// nothing at any point, so PostgreSQL's segments_no_overlap must not refuse it.
TEST_P(SyncStore, AConflictImportedOverABookingIsStoredAndBlocksNothing) {
  const Instant t = at("2026-12-01T09:00:00Z");
  const Id booked = book(staff_[0], t);
  Id imported = 0;
  write([&](store::WriteTx& tx) {
    const Id ids[] = {staff_[0]};
    tx.lock_staff(ids);
    Segment g;
    g.staff_id = staff_[0];
    g.service_id = cut_;
    g.time = g.blocked = {t + minutes(10), t + minutes(40)};
    EXPECT_EQ(tx.blocks(staff_[0], g.blocked, 0, now_).size(), 1u);
    auto b = tx.appointment(company_, booked);
    ASSERT_TRUE(b);
    Appointment a;
    a.company_id = company_;
    a.branch_id = branch_;
    a.customer_id = b->customer_id;
    a.status = AppointmentStatus::kConflict;
    a.source = "calcom";
    a.external_provider = kProviderCalcom;
    a.external_id = "uid-import";
    a.created_at = a.updated_at = now_;
    a.id = tx.insert_appointment(a);
    g.appointment_id = a.id;
    g.id = tx.insert_segment(company_, g);
    EXPECT_GT(g.id, 0);
    tx.deactivate_segments(a.id);
    tx.append_event({0, company_, a.id, "appointment.import_conflict", "{}", now_});
    tx.enqueue_sync(a.id, "import", 1, now_);
    imported = a.id;
  });
  ASSERT_GT(imported, 0);
  read([&](store::ReadTx& tx) {
    auto a = tx.appointment(company_, imported);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, AppointmentStatus::kConflict);
    EXPECT_EQ(a->external_id, "uid-import");
    ASSERT_EQ(a->segments.size(), 1u);
    EXPECT_FALSE(a->segments[0].active);
    EXPECT_EQ(secs(a->segments[0].time.from), secs(t + minutes(10)));
    auto blocks = tx.blocks(staff_[0], {t, t + hours(1)}, 0, now_);
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0].appointment_id, booked);
    store::AppointmentFilter f;
    f.status = AppointmentStatus::kConflict;
    EXPECT_EQ(ids_of(tx.appointments(company_, f)), (std::vector<Id>{imported}));
  });
}

INSTANTIATE_TEST_SUITE_P(Sync, SyncStore, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// --- PostgreSQL only: claims of concurrent transactions ---------------------------------------

class SyncPg : public SyncStoreBase {
 protected:
  void SetUp() override {
    if (!open("postgresql")) GTEST_SKIP() << "no APPOINTD_PG_URL";
  }
  std::unique_ptr<store::postgres::Connection> connect() {
    return std::make_unique<store::postgres::Connection>(
        url_, std::vector<std::string>{"SET TIME ZONE 'UTC'", "SET lock_timeout = 10000"});
  }
};

TEST_F(SyncPg, ConcurrentClaimsSkipTheRowsAnotherTransactionHolds) {
  using store::postgres::PgTx;
  std::vector<Id> booked;
  for (int i = 0; i < 6; ++i)
    booked.push_back(
        book(staff_[static_cast<size_t>(i % 3)], at("2026-12-01T09:00:00Z") + hours(i)));
  std::sort(booked.begin(), booked.end());  // all due at now_: by id
  auto c1 = connect(), c2 = connect(), c3 = connect();
  PgTx t1(*c1, true), t2(*c2, true), t3(*c3, true);
  const auto first = t1.claim_due_appointments(now_, 4);
  const auto second = t2.claim_due_appointments(now_, 10);
  const auto third = t3.claim_due_appointments(now_, 10);
  EXPECT_EQ(first, (std::vector<Id>(booked.begin(), booked.begin() + 4)));
  EXPECT_EQ(second, (std::vector<Id>(booked.begin() + 4, booked.end())));
  EXPECT_TRUE(third.empty());
  // The first worker leases its jobs and commits; the others end without writing.
  for (SyncJob j : t1.open_sync_jobs(first)) {
    j.state = JobState::kRunning;
    j.lease_owner = "w1";
    j.lease_until = now_ + hours(1);
    t1.save_sync_job(j);
  }
  t1.commit();
  t2.commit();
  t3.commit();
  {
    PgTx t(*c1, true);
    EXPECT_EQ(t.claim_due_appointments(now_, 10), second);  // the leased ones are not due
    t.commit();
  }
  // A row locked by lock_appointment (or a use case's locked read) is skipped too.
  PgTx holder(*c1, true);
  holder.lock_appointment(second[0]);
  c1->flush();
  {
    PgTx t(*c2, true);
    EXPECT_EQ(t.claim_due_appointments(now_, 10), (std::vector<Id>{second[1]}));
    t.commit();
  }
  holder.commit();
  {
    PgTx t(*c2, true);
    EXPECT_EQ(t.claim_due_appointments(now_, 10), second);
    t.commit();
  }
}

// Workers racing through the store, as the sync worker would: claim, lease what is due, commit.
// Every appointment is claimed exactly once, with one write driver and with two.
class SyncPgWorkers : public SyncStoreBase, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override {
    if (!open("postgresql", GetParam())) GTEST_SKIP() << "no APPOINTD_PG_URL";
  }
};

TEST_P(SyncPgWorkers, EveryDueAppointmentIsClaimedExactlyOnce) {
  std::vector<Id> booked;
  for (int i = 0; i < 24; ++i)
    booked.push_back(
        book(staff_[static_cast<size_t>(i % 3)], at("2026-12-01T09:00:00Z") + hours(i / 3)));
  std::mutex mu;
  std::map<Id, int> claims;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      for (;;) {
        std::vector<Id> mine;
        write([&](store::WriteTx& tx) {
          mine = tx.claim_due_appointments(now_, 3);
          for (SyncJob j : tx.open_sync_jobs(mine)) {
            if (!due(j, now_)) continue;
            j.state = JobState::kRunning;
            j.lease_owner = "w" + std::to_string(w);
            j.lease_until = now_ + hours(1);
            tx.save_sync_job(j);
          }
        });
        if (mine.empty()) return;
        std::lock_guard l(mu);
        for (Id id : mine) ++claims[id];
      }
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(claims.size(), booked.size());
  for (Id id : booked) EXPECT_EQ(claims[id], 1) << id;
  std::vector<Id> left;
  write([&](store::WriteTx& tx) { left = tx.claim_due_appointments(now_, 100); });
  EXPECT_TRUE(left.empty());
}

INSTANTIATE_TEST_SUITE_P(Sync, SyncPgWorkers, ::testing::Values(1, 2), [](const auto& info) {
  return info.param == 1 ? std::string("one_driver") : std::string("two_drivers");
});

}  // namespace
