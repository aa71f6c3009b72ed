#include "domain/model.h"

#include "domain/sync.h"

namespace appointd {

const char* to_string(AppointmentStatus s) {
  switch (s) {
    case AppointmentStatus::kBooked:
      return "booked";
    case AppointmentStatus::kCancelled:
      return "cancelled";
    case AppointmentStatus::kConflict:
      return "conflict";
  }
  return "booked";
}

std::optional<AppointmentStatus> parse_appointment_status(std::string_view s) {
  if (s == "booked") return AppointmentStatus::kBooked;
  if (s == "cancelled") return AppointmentStatus::kCancelled;
  if (s == "conflict") return AppointmentStatus::kConflict;
  return std::nullopt;
}

const char* to_string(JobState s) {
  switch (s) {
    case JobState::kPending:
      return "pending";
    case JobState::kRunning:
      return "running";
    case JobState::kDone:
      return "done";
    case JobState::kSuperseded:
      return "superseded";
    case JobState::kSkipped:
      return "skipped";
    case JobState::kFailed:
      return "failed";
  }
  return "pending";
}

std::optional<JobState> parse_job_state(std::string_view s) {
  for (JobState j : {JobState::kPending, JobState::kRunning, JobState::kDone, JobState::kSuperseded,
                     JobState::kSkipped, JobState::kFailed})
    if (s == to_string(j)) return j;
  return std::nullopt;
}

}  // namespace appointd
