#pragma once
// Domain values from the rows of the statements in sql.h (their column order is the contract).
#include "domain/model.h"
#include "store/postgres/pg.h"

namespace appointd::store::postgres {

Company read_company(const Result& r, int row, int first_col = 0);  // kCompany's columns
TimeOff read_time_off(const Result& r, int row);                    // APPOINTD_TIME_OFF_COLS
Branch read_branch(const Result& r, int row);                       // kBranch
Service read_service(const Result& r, int row);                     // APPOINTD_SERVICE_COLS
Staff read_staff(const Result& r, int row);                         // APPOINTD_STAFF_COLS
Customer read_customer(const Result& r, int row, int col = 0);      // APPOINTD_CUSTOMER_COLS
// kAppointment's columns (its segments are read apart).
Appointment read_appointment(const Result& r, int row);
// An appointment row (kAppointment, row 0) with its segment rows (kSegmentsOf).
Appointment appointment_of(const Result& head, const Result& segments);

}  // namespace appointd::store::postgres
