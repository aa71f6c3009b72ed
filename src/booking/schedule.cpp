#include "booking/schedule.h"

#include <algorithm>

#include "domain/schedule.h"
#include "domain/text.h"

namespace appointd::booking {

Result<Company> update_settings(store::WriteTx& tx, const UpdateSettings& c) {
  auto co = tx.company(c.company_id);
  if (!co) return Error::not_found("company");
  SchedulingSettings s = co->settings;
  if (c.slot_step_minutes) s.slot_step_minutes = *c.slot_step_minutes;
  if (c.min_notice_minutes) s.min_notice_minutes = *c.min_notice_minutes;
  if (c.horizon_days) s.horizon_days = *c.horizon_days;
  if (auto e = check_settings(s)) return *e;
  if (s != co->settings) tx.update_company_settings(c.company_id, s);
  co->settings = s;
  return std::move(*co);
}

Result<std::vector<WorkingHours>> set_working_hours(store::WriteTx& tx, const SetWorkingHours& c) {
  if (!tx.staff(c.company_id, c.staff_id)) return Error::not_found("staff");
  if (auto e = check_working_hours(c.hours)) return *e;
  std::vector<WorkingHours> hours = c.hours;
  std::sort(hours.begin(), hours.end(), [](const WorkingHours& a, const WorkingHours& b) {
    return a.weekday < b.weekday || (a.weekday == b.weekday && a.start_minute < b.start_minute);
  });
  tx.replace_working_hours(c.staff_id, hours);
  return hours;
}

Result<TimeOff> add_time_off(store::WriteTx& tx, const AddTimeOff& c) {
  if (!tx.staff(c.company_id, c.staff_id)) return Error::not_found("staff");
  if (c.time.until <= c.time.from) return Error::validation("ends_at must be after starts_at");
  if (c.time.length() > date::days{kMaxTimeOffDays})
    return Error::validation("time off lasts at most " + std::to_string(kMaxTimeOffDays) + " days");
  if (!fits_chars(c.reason, 500)) return Error::validation("reason is at most 500 characters");
  TimeOff t{0, c.staff_id, c.time, c.reason};
  t.id = tx.insert_time_off(t);
  return t;
}

Result<Id> remove_time_off(store::WriteTx& tx, Id company_id, Id staff_id, Id id) {
  if (!tx.delete_time_off(company_id, staff_id, id)) return Error::not_found("time off");
  return id;
}

}  // namespace appointd::booking
