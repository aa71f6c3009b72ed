#pragma once
// Shared steps of the functions (intake/functions.h): what the caller named (a service, a staff
// member, a time), the free starts to offer, and the sentences for the use cases' errors.
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "domain/conflict.h"
#include "domain/error.h"
#include "intake/functions.h"
#include "intake/when.h"

namespace appointd::intake {

// The service the caller named (an id or a name). A Reply when there is none or several.
std::variant<Service, Reply> resolve_service(const CallScope& s, const Catalog& cat,
                                             const nlohmann::json& args);
// The staff member the caller asked for (args "staff": an id or a name) among the branch's
// active staff who perform `service`; nullopt when the caller asked for nobody in particular.
// A Reply when the name fits nobody, several, or someone who does not do the service.
std::variant<std::optional<Staff>, Reply> resolve_staff(const CallScope& s, const Catalog& cat,
                                                        const nlohmann::json& args,
                                                        const Service& service);
// The branch's active staff who perform the service, by id.
std::vector<Id> branch_staff(const CallScope& s, const Catalog& cat, Id service_id);

// A string argument (trimmed; a number is taken as its decimal text); empty when absent.
std::string arg_text(const nlohmann::json& args, const char* key);

// Up to `k` free starts of the service with any of `staff` in `window`, spread over it, each
// with the staff member who has it (the lowest id of those free). `part` keeps only starts in
// that part of the day; `first_day_only` only those of the first (local) day that has any. A
// window with more starts than one availability answer carries is searched day by day, and
// only its first day with free starts is offered.
std::vector<Offer> free_offers(store::ReadTx& tx, const CallScope& s, const Catalog& cat,
                               Id service_id, const std::vector<Id>& staff, Interval window,
                               std::optional<PartOfDay> part, std::size_t k,
                               bool first_day_only = false);

// The reply to a use case's error that has no alternatives (rules, not found, conflicts).
Reply error_reply(const CallScope& s, const Error& e, Instant start);

// The offers of a slot_unavailable's alternatives (the first segment of each).
std::vector<Offer> offers_of(const CallScope& s, const Catalog& cat,
                             const std::vector<SlotConflict::Alternative>& alts);
// "14:30 bei Anna, 15:00 bei Ben oder 15:30 bei Anna": the offers as an alternative list, each
// as its time alone when it is on the local day of `day_of` and as date and time otherwise (or
// always, without `day_of`), with staff names when they are not all the same person.
std::string spoken_offers(const CallScope& s, const std::vector<Offer>& offers,
                          std::optional<Instant> day_of);

}  // namespace appointd::intake
