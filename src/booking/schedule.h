#pragma once
// Use cases for the rules of the calendar: company scheduling settings, staff working hours
// and time off. Each is `Result<T> f(WriteTx&, const Command&)`; see booking/attempt.h.
#include <vector>

#include "booking/commands.h"
#include "domain/error.h"
#include "store/tx.h"

namespace appointd::booking {

// Changes the given settings; the others keep their values. Errors: not_found,
// validation_failed (ranges of domain/schedule.h check_settings).
Result<Company> update_settings(store::WriteTx& tx, const UpdateSettings& c);

// Replaces all working hours of a staff member and returns them as stored (by weekday and
// start). Empty hours make the staff member unscheduled again (bookable at any time).
// Errors: not_found (staff), validation_failed (check_working_hours).
Result<std::vector<WorkingHours>> set_working_hours(store::WriteTx& tx, const SetWorkingHours& c);

// Adds time off. Existing appointments in it stay (they are not cancelled). Errors: not_found,
// validation_failed (end not after start, longer than a year, reason over 500 characters).
Result<TimeOff> add_time_off(store::WriteTx& tx, const AddTimeOff& c);

// Deletes time off `id` of the staff member. Errors: not_found.
Result<Id> remove_time_off(store::WriteTx& tx, Id company_id, Id staff_id, Id id);

}  // namespace appointd::booking
