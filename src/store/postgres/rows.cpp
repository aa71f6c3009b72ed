#include "store/postgres/rows.h"

#include <string>

namespace appointd::store::postgres {

Company read_company(const Result& r, int i, int k) {
  Company c{r.i64(i, k),      r.text(i, k + 1),           r.text(i, k + 2),
            r.text(i, k + 3), from_unix(r.i64(i, k + 4)), {}};
  c.settings = {static_cast<int>(r.i64(i, k + 5)), static_cast<int>(r.i64(i, k + 6)),
                static_cast<int>(r.i64(i, k + 7))};
  return c;
}
TimeOff read_time_off(const Result& r, int i) {
  return {r.i64(i, 0), r.i64(i, 1), {from_unix(r.i64(i, 2)), from_unix(r.i64(i, 3))}, r.text(i, 4)};
}
Branch read_branch(const Result& r, int i) {
  return {r.i64(i, 0),  r.i64(i, 1),  r.text(i, 2),
          r.text(i, 3), r.text(i, 4), from_unix(r.i64(i, 5))};
}
Service read_service(const Result& r, int i) {
  return {r.i64(i, 0),
          r.i64(i, 1),
          r.text(i, 2),
          static_cast<int>(r.i64(i, 3)),
          static_cast<int>(r.i64(i, 4)),
          static_cast<int>(r.i64(i, 5)),
          from_unix(r.i64(i, 6))};
}
Staff read_staff(const Result& r, int i) {
  Staff st;
  st.id = r.i64(i, 0);
  st.company_id = r.i64(i, 1);
  st.branch_id = r.i64(i, 2);
  st.name = r.text(i, 3);
  st.email = r.text(i, 4);
  st.active = r.boolean(i, 5);
  st.created_at = from_unix(r.i64(i, 6));
  std::string ids = r.text(i, 7);  // "1,2,3", ascending
  size_t pos = 0;
  while (pos < ids.size()) {
    size_t comma = ids.find(',', pos);
    if (comma == std::string::npos) comma = ids.size();
    st.service_ids.push_back(std::stoll(ids.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return st;
}
Customer read_customer(const Result& r, int i, int c) {
  return {r.i64(i, c),      r.i64(i, c + 1),  r.text(i, c + 2),          r.text(i, c + 3),
          r.text(i, c + 4), r.text(i, c + 5), from_unix(r.i64(i, c + 6))};
}

Appointment read_appointment(const Result& r, int i) {
  Appointment a;
  a.id = r.i64(i, 0);
  a.company_id = r.i64(i, 1);
  a.branch_id = r.i64(i, 2);
  a.customer_id = r.i64(i, 3);
  a.status = parse_appointment_status(r.text(i, 4)).value_or(AppointmentStatus::kBooked);
  a.version = r.i64(i, 5);
  a.source = r.text(i, 6);
  a.notes = r.text(i, 7);
  a.call_id = r.text(i, 8);
  a.external_provider = r.text(i, 9);
  a.external_id = r.text(i, 10);
  a.created_at = from_unix(r.i64(i, 11));
  a.updated_at = from_unix(r.i64(i, 12));
  a.needs_attention = r.boolean(i, 13);
  return a;
}

// An appointment row (kAppointment) with its segment rows (kSegmentsOf).
Appointment appointment_of(const Result& head, const Result& r) {
  Appointment a = read_appointment(head, 0);
  for (int i = 0; i < r.rows(); ++i) {
    Segment seg;
    seg.id = r.i64(i, 0);
    seg.appointment_id = r.i64(i, 1);
    seg.staff_id = r.i64(i, 2);
    seg.service_id = r.i64(i, 3);
    seg.time = {from_unix(r.i64(i, 4)), from_unix(r.i64(i, 5))};
    seg.blocked = {from_unix(r.i64(i, 6)), from_unix(r.i64(i, 7))};
    seg.active = r.boolean(i, 8);
    a.segments.push_back(seg);
  }
  return a;
}

}  // namespace appointd::store::postgres
