// Availability computation: one staff member for one week with 500 existing appointments, and
// 20 such staff members. Target: one staff-week under 50 us.
//
//   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAPPOINTD_BENCH=ON
//   ninja -C build -j2 availability_bench && ./build/bench/availability_bench
//
// BM_StaffWeek* measure the pure computation (domain/availability.h): building the calendar
// (working hours in Europe/Berlin -> UTC intervals, merging time off and 500 busy intervals)
// and listing the free starts. BM_StaffWeekFromStore adds what GET /v1/availability does
// around it: the reads from a real SQLite store (booking::availability).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "booking/availability.h"
#include "booking/catalog.h"
#include "booking/schedule.h"
#include "domain/availability.h"
#include "store/store.h"

using namespace appointd;

namespace {

// 2030-01-07T00:00:00Z, a Monday.
const Instant kWeek = *parse_rfc3339("2030-01-07T00:00:00Z");
const Interval kWindow{kWeek, kWeek + date::days{7}};

std::vector<WorkingHours> week_hours() {
  std::vector<WorkingHours> h;
  for (int d = 0; d < 6; ++d) {
    h.push_back({d, 8 * 60, 12 * 60});
    h.push_back({d, 13 * 60, 20 * 60});
  }
  return h;
}

// n appointments of 5 or 10 minutes at random 5-minute starts of the week, not overlapping
// each other (as I1 guarantees): a dense calendar with free runs of random length between them.
std::vector<Interval> busy_week(unsigned seed, size_t n = 500) {
  std::mt19937 rnd(seed);
  std::vector<Interval> out;
  std::vector<bool> taken(7 * 24 * 12, false);  // 5-minute cells of the week
  while (out.size() < n) {
    const size_t cell = rnd() % (taken.size() - 1);
    const size_t len = 1 + rnd() % 2;
    if (taken[cell] || taken[cell + len - 1]) continue;
    for (size_t i = 0; i < len; ++i) taken[cell + i] = true;
    const Instant from = kWeek + Minutes{5 * static_cast<int>(cell)};
    out.push_back({from, from + Minutes{5 * static_cast<int>(len)}});
  }
  std::sort(out.begin(), out.end(),
            [](const Interval& a, const Interval& b) { return a.from < b.from; });
  return out;
}

const Service kService{1, 1, "cut", 30, 0, 10, {}};
const SlotRules kRules = slot_rules({15, 0, 90}, *parse_rfc3339("2030-01-01T00:00:00Z"));

void BM_StaffWeek(benchmark::State& state) {
  const Zone& z = *find_zone("Europe/Berlin");
  const auto hours = week_hours();
  const auto busy = busy_week(1, static_cast<size_t>(state.range(0)));
  const std::vector<Interval> off = {{kWeek + date::days{2}, kWeek + date::days{2} + Minutes{90}}};
  size_t slots = 0;
  for (auto _ : state) {
    auto cal = make_calendar(1, z, hours, off, busy, kWindow);
    auto starts = free_starts(cal, kService, kWindow, kRules);
    slots = starts.size();
    benchmark::DoNotOptimize(starts.data());
  }
  state.counters["slots"] = static_cast<double>(slots);
}
// Arg: appointments in the week (500: the target case; fewer for comparison).
BENCHMARK(BM_StaffWeek)->Arg(500)->Arg(100)->Arg(0)->Unit(benchmark::kMicrosecond);

void BM_TwentyStaffWeek(benchmark::State& state) {
  const Zone& z = *find_zone("Europe/Berlin");
  const auto hours = week_hours();
  std::vector<std::vector<Interval>> busy;
  for (unsigned i = 0; i < 20; ++i) busy.push_back(busy_week(i + 1));
  size_t slots = 0;
  for (auto _ : state) {
    slots = 0;
    for (unsigned i = 0; i < 20; ++i) {
      auto cal = make_calendar(i + 1, z, hours, {}, busy[i], kWindow);
      auto starts = free_starts(cal, kService, kWindow, kRules);
      slots += starts.size();
      benchmark::DoNotOptimize(starts.data());
    }
  }
  state.counters["slots"] = static_cast<double>(slots);
}
BENCHMARK(BM_TwentyStaffWeek)->Unit(benchmark::kMicrosecond);

// The same staff-week through the store: 500 booked segments in SQLite, read on a read-only
// connection and computed, as GET /v1/availability?staff_id= does it.
void BM_StaffWeekFromStore(benchmark::State& state) {
  auto dir =
      std::filesystem::temp_directory_path() / ("appointd-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  store::Options o;
  o.url = "sqlite:" + (dir / "b.db").string();
  o.durability_full = false;
  auto st = store::open_store(o);
  const Instant now = *parse_rfc3339("2030-01-01T00:00:00Z");
  Id company = 0, service = 0, staff = 0;
  st->write_sync([&](store::WriteTx& tx) {
    company = booking::create_company(tx, {"B", "Europe/Berlin", "DE", now})->company.id;
    Id br = booking::create_branch(tx, {company, "B", std::nullopt, "", now})->id;
    service = booking::create_service(tx, {company, "cut", 30, 0, 10, now})->id;
    staff = booking::create_staff(tx, {company, br, "S", "", {service}, now})->id;
    (void)booking::set_working_hours(tx, {company, staff, week_hours()});
    Customer cu{0, company, "+49301234567", "X", "", "api", now};
    Id cid = tx.upsert_customer(cu).customer.id;
    for (const auto& b : busy_week(1)) {
      Appointment a;
      a.company_id = company;
      a.branch_id = br;
      a.customer_id = cid;
      a.created_at = a.updated_at = now;
      a.id = tx.insert_appointment(a);
      Segment s{0, a.id, staff, service, b, b, true};
      tx.insert_segment(company, s);
    }
  });
  size_t slots = 0;
  for (auto _ : state) {
    st->read([&](store::ReadTx& tx) {
      auto r = booking::availability(tx, {company, service, staff, kWindow, now, {}});
      slots = r.ok() ? r.value().staff.at(0).starts.size() : 0;
    });
  }
  state.counters["slots"] = static_cast<double>(slots);
  st.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_StaffWeekFromStore)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
