#include "domain/model.h"

namespace appointd {

const char* to_string(AppointmentStatus s) {
  return s == AppointmentStatus::kBooked ? "booked" : "cancelled";
}

}  // namespace appointd
