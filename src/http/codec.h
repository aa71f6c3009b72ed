#pragma once
// JSON shapes of the API's resources (docs/api.md). Instants are written as UTC RFC 3339.
#include <nlohmann/json.hpp>

#include "domain/model.h"

namespace appointd::http {

nlohmann::json to_json(const Company& c);
nlohmann::json to_json(const Branch& b);
nlohmann::json to_json(const Service& s);
nlohmann::json to_json(const Staff& s);
nlohmann::json to_json(const Customer& c);
nlohmann::json to_json(const Appointment& a);  // active segments only, unless cancelled
nlohmann::json to_json(const Event& e);
nlohmann::json to_json(const TimeOff& t);
nlohmann::json to_json(const Hold& h);
// {"mon": [["09:00","12:00"], ...], ..., "sun": []}: every weekday, in order.
nlohmann::json weekly_hours_json(const std::vector<WorkingHours>& hours);

template <class T>
nlohmann::json items(const std::vector<T>& v) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& x : v) arr.push_back(to_json(x));
  return {{"items", std::move(arr)}};
}

}  // namespace appointd::http
