#include "sync/executor.h"

#include <algorithm>

#include "sync/plan.h"

namespace appointd::sync {
namespace {

using calcom::CalcomOutcome;
using calcom::CallStatus;

std::string describe(const char* what, const CallStatus& s) {
  return std::string(what) + ": " + (s.error.empty() ? to_string(s.outcome) : s.error);
}

// One job's run: the facts it learns, and how it ends.
class Run {
 public:
  Run(const SyncJob& job, const JobContext& ctx, const calcom::CalcomClient& client)
      : job_(job), ctx_(ctx), client_(client), known_(ctx.known) {}

  JobRun go();

 private:
  void learn(const ExternalBooking& f) {
    run_.outcome.facts.push_back(f);
    for (auto& k : known_)
      if (k.uid == f.uid) {
        k.ordinal = f.ordinal;
        k.event_type_id = f.event_type_id;
        k.start = f.start;
        k.live = k.live && f.live;
        return;
      }
    known_.push_back(f);
  }
  // Ends the run with a retry; false, for `return fail(...)` in bool functions.
  bool retry(std::string error, const CallStatus* s, bool uncertain) {
    auto& o = run_.outcome;
    o.kind = JobOutcome::kRetry;
    o.error = std::move(error);
    // A call of this run whose effect is unknown keeps the doubt, whatever ends the run.
    o.uncertain = uncertain || doubt_;
    if (s) {
      if (s->retry_after) run_.retry_after = *s->retry_after;
      if (calcom::transient(s->outcome)) run_.provider_failure = true;
    }
    return false;
  }
  bool failed(std::string error) {
    run_.outcome.kind = JobOutcome::kFailed;
    run_.outcome.error = std::move(error);
    return false;
  }
  void saw(const CallStatus& s) {
    ++run_.calls;
    if (s.outcome != CalcomOutcome::kUnreachable && s.outcome != CalcomOutcome::kServerError &&
        s.outcome != CalcomOutcome::kUncertain && s.outcome != CalcomOutcome::kThrottled)
      run_.provider_ok = true;
  }

  // False (and the run ends with an immediate retry) when the lease is nearly over.
  bool time_left() {
    if (std::chrono::system_clock::now() < ctx_.deadline) return true;
    run_.retry_now = true;
    return retry("the lease ran out before the work was done; continuing in a new attempt", nullptr,
                 job_.uncertain);
  }
  bool look_up(const std::vector<std::int64_t>& event_types, Instant from, Instant until);
  bool refresh(const std::string& uid, int ordinal);
  bool create(const Wanted& w);
  bool cancel(const Step& s);
  bool reschedule(const Step& s);

  const SyncJob& job_;
  const JobContext& ctx_;
  const calcom::CalcomClient& client_;
  std::vector<ExternalBooking> known_;
  bool doubt_ = false;  // a call's effect is unknown (the next attempt must look)
  JobRun run_;
};

// Lists the event types' bookings in [from, until) and learns those tagged with the appointment.
bool Run::look_up(const std::vector<std::int64_t>& event_types, Instant from, Instant until) {
  for (std::int64_t et : event_types) {
    calcom::ListFilter f;
    f.event_type_ids = {et};
    f.after_start = from;
    // An event type may last longer than the segment it mirrors: its booking then ends later.
    f.before_end = until + std::chrono::hours(24);
    if (!time_left()) return false;
    auto r = client_.list_bookings(f);
    saw(r.status);
    if (!r.complete) return retry(describe("look-up", r.status), &r.status, true);
    for (const auto& b : tagged(r.bookings, job_.appointment_id))
      learn(fact_of(b, job_.appointment_id, 0));
  }
  return true;
}

// GETs a booking we know of (and the booking a reschedule made of it) and learns its state.
bool Run::refresh(const std::string& uid, int ordinal) {
  if (!time_left()) return false;
  auto r = client_.get_booking(uid);
  saw(r.status);
  if (r.status.outcome == CalcomOutcome::kNotFound) {
    for (const auto& k : known_)
      if (k.uid == uid)
        learn({k.appointment_id, k.ordinal, k.provider, uid, k.event_type_id, k.start, false});
    return true;
  }
  if (!r.status.ok()) return retry(describe("look-up", r.status), &r.status, true);
  learn(fact_of(*r.booking, job_.appointment_id, ordinal));
  if (!r.booking->rescheduled_to_uid.empty())
    return refresh(r.booking->rescheduled_to_uid, ordinal);
  return true;
}

bool Run::create(const Wanted& w) {
  calcom::CreateBooking req;
  req.start = w.start;
  req.event_type_id = w.event_type_id;
  const auto& cu = ctx_.customer;
  req.attendee.name = cu && !cu->name.empty() ? cu->name : "Customer";
  req.attendee.email = attendee_email(cu ? cu->email : "", cu ? cu->phone : "", ctx_.settings);
  req.attendee.time_zone = ctx_.timezone.empty() ? "UTC" : ctx_.timezone;
  if (cu && !cu->phone.empty() && cu->phone[0] == '+') req.attendee.phone_number = cu->phone;
  req.appointment_id = job_.appointment_id;
  req.version = job_.version;
  req.segment_id = w.ordinal;
  if (!time_left()) return false;
  auto r = client_.create_booking(req);
  saw(r.status);
  if (r.status.ok()) {
    learn(fact_of(*r.booking, job_.appointment_id, w.ordinal));
    return true;
  }
  const auto o = r.status.outcome;
  if (calcom::effect_uncertain(o)) doubt_ = true;
  if (o == CalcomOutcome::kConflict || calcom::effect_uncertain(o)) {
    // Did this (or an earlier, unseen) attempt book it? Look before creating again.
    if (!look_up({w.event_type_id}, w.start, w.end)) return false;
    for (const auto& k : known_)
      if (k.live && k.ordinal == w.ordinal && k.event_type_id == w.event_type_id &&
          k.start == w.start)
        return true;
    if (o == CalcomOutcome::kConflict)
      return retry(
          "Cal.com: the host is busy at " + format_rfc3339(w.start) + " (" + r.status.error + ")",
          nullptr, false);
    // Not found yet; but a request Cal.com is still working on may land after the look-up, so
    // the next attempt (and any job that supersedes this one) looks again.
    return retry(describe("create (not found by a look-up; will look again)", r.status), &r.status,
                 true);
  }
  if (o == CalcomOutcome::kRejected || o == CalcomOutcome::kNotFound)
    return failed(describe("create refused", r.status));
  return retry(describe("create", r.status), &r.status, false);  // throttled, unreachable
}

bool Run::cancel(const Step& s) {
  if (!time_left()) return false;
  auto r = client_.cancel_booking(s.uid, "Cancelled in appointd");
  saw(r.status);
  const auto o = r.status.outcome;
  auto dead = [&] {
    for (const auto& k : known_)
      if (k.uid == s.uid)
        learn({k.appointment_id, k.ordinal, k.provider, k.uid, k.event_type_id, k.start, false});
    return true;
  };
  if (r.status.ok() || r.status.already_cancelled || o == CalcomOutcome::kNotFound) return dead();
  if (calcom::effect_uncertain(o)) {
    doubt_ = true;
    if (!refresh(s.uid, s.wanted.ordinal)) return false;
    for (const auto& k : known_)
      if (k.uid == s.uid && !k.live) return true;
    return retry(describe("cancel", r.status), &r.status, true);
  }
  if (o == CalcomOutcome::kRejected) return failed(describe("cancel refused", r.status));
  return retry(describe("cancel", r.status), &r.status, false);
}

bool Run::reschedule(const Step& s) {
  if (!time_left()) return false;
  auto r = client_.reschedule_booking(s.uid, s.wanted.start, "Rescheduled in appointd");
  saw(r.status);
  const auto o = r.status.outcome;
  if (r.status.ok()) {
    for (const auto& k : known_)
      if (k.uid == s.uid)
        learn({k.appointment_id, k.ordinal, k.provider, k.uid, k.event_type_id, k.start, false});
    learn(fact_of(*r.booking, job_.appointment_id, s.wanted.ordinal));
    return true;
  }
  if (calcom::effect_uncertain(o)) doubt_ = true;
  if (r.status.already_cancelled || calcom::effect_uncertain(o) || o == CalcomOutcome::kNotFound) {
    // Follow what happened to the booking; the next attempt plans from there.
    if (!refresh(s.uid, s.wanted.ordinal)) return false;
    run_.retry_now = true;
    return retry(describe("reschedule", r.status), &r.status, false);
  }
  if (o == CalcomOutcome::kConflict)
    return retry("Cal.com: the host is busy at " + format_rfc3339(s.wanted.start) + " (" +
                     r.status.error + ")",
                 nullptr, false);
  if (o == CalcomOutcome::kRejected) return failed(describe("reschedule refused", r.status));
  return retry(describe("reschedule", r.status), &r.status, false);
}

JobRun Run::go() {
  auto& o = run_.outcome;
  const Appointment& a = ctx_.appointment;
  o.synced_version = a.version;
  if (!ctx_.connected) {
    o.kind = JobOutcome::kSkipped;
    o.error = "Cal.com is not connected";
    return run_;
  }
  if (a.status == AppointmentStatus::kConflict) {
    o.kind = JobOutcome::kSkipped;
    o.error = "a conflicting import: a person resolves it";
    return run_;
  }
  std::vector<Wanted> wanted;
  std::string unmapped;
  if (a.status == AppointmentStatus::kBooked) {
    int ordinal = 0;
    for (const auto& g : a.segments) {
      if (!g.active) continue;
      auto m = std::find_if(ctx_.mappings.begin(), ctx_.mappings.end(), [&](const auto& x) {
        return x.staff_id == g.staff_id && x.service_id == g.service_id;
      });
      const bool held = std::any_of(known_.begin(), known_.end(),
                                    [&](const auto& k) { return k.live && k.ordinal == ordinal; });
      // Cal.com refuses bookings in the past: a segment that started before it was ever synced
      // (e.g. an old outbox row, a long outage) is not created there.
      const bool past = g.time.from <= std::chrono::time_point_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now());
      if (m != ctx_.mappings.end()) {
        if (held || !past) wanted.push_back({ordinal, m->event_type_id, g.time.from, g.time.until});
      } else {
        unmapped += (unmapped.empty() ? "" : ", ") + std::string("staff ") +
                    std::to_string(g.staff_id) + " service " + std::to_string(g.service_id);
      }
      ++ordinal;
    }
  }
  if (job_.uncertain) {
    // Where an unseen booking may be: the event types of every segment the appointment has
    // (a cancelled one keeps its segments, inactive) and of every booking known. A reschedule
    // to another staff member forgets the old segments; reconciliation finds what is left there.
    std::vector<std::int64_t> types;
    for (const auto& w : wanted) types.push_back(w.event_type_id);
    for (const auto& g : a.segments)
      for (const auto& m : ctx_.mappings)
        if (m.staff_id == g.staff_id && m.service_id == g.service_id)
          types.push_back(m.event_type_id);
    for (const auto& k : known_) types.push_back(k.event_type_id);
    std::sort(types.begin(), types.end());
    types.erase(std::unique(types.begin(), types.end()), types.end());
    if (job_.lookup_until > job_.lookup_from &&
        !look_up(types, job_.lookup_from, job_.lookup_until))
      return run_;
    const auto snapshot = known_;
    for (const auto& k : snapshot)
      if (k.live && !refresh(k.uid, k.ordinal)) return run_;
  }
  const bool any_live = std::any_of(known_.begin(), known_.end(), [](auto& k) { return k.live; });
  if (wanted.empty() && !any_live) {
    if (!unmapped.empty()) {
      o.kind = JobOutcome::kSkipped;
      o.error = "not mapped to a Cal.com event type: " + unmapped;
    } else {
      o.kind = JobOutcome::kDone;  // nothing to hold (e.g. cancelled before it was synced)
    }
    return run_;
  }
  for (const Step& s : plan_steps(wanted, known_)) {
    bool ok = s.kind == Step::kCreate   ? create(s.wanted)
              : s.kind == Step::kCancel ? cancel(s)
                                        : reschedule(s);
    if (!ok) return run_;
  }
  // Duplicates found by a look-up are cancelled by the next attempt, right away.
  if (!plan_steps(wanted, known_).empty()) {
    run_.retry_now = true;
    o.kind = JobOutcome::kRetry;
    o.error = "found more bookings than planned; cancelling the extra ones";
    return run_;
  }
  o.kind = JobOutcome::kDone;
  if (!unmapped.empty()) o.error = "not mapped (not synced): " + unmapped;
  return run_;
}

}  // namespace

ExternalBooking fact_of(const calcom::CalcomBooking& b, Id appointment_id, int ordinal) {
  ExternalBooking f;
  f.appointment_id = appointment_id;
  f.ordinal = ordinal;
  if (auto it = b.metadata.find(calcom::kMetaSegment); it != b.metadata.end()) {
    try {
      f.ordinal = std::stoi(it->second);
    } catch (...) {
    }
  }
  f.provider = kProviderCalcom;
  f.uid = b.uid;
  f.event_type_id = b.event_type_id;
  f.start = b.start;
  f.live = b.live();
  return f;
}

std::vector<calcom::CalcomBooking> tagged(const std::vector<calcom::CalcomBooking>& list,
                                          Id appointment_id) {
  std::vector<calcom::CalcomBooking> out;
  const std::string want = std::to_string(appointment_id);
  for (const auto& b : list)
    if (auto it = b.metadata.find(calcom::kMetaAppointment);
        it != b.metadata.end() && it->second == want)
      out.push_back(b);
  return out;
}

JobRun run_calcom_job(const SyncJob& job, const JobContext& ctx,
                      const calcom::CalcomClient& client) {
  return Run(job, ctx, client).go();
}

}  // namespace appointd::sync
