// check_availability: a few well-spread free starts of a day or a range, not every step.
#include <algorithm>

#include "intake/functions.h"
#include "intake/resolve.h"

namespace appointd::intake {
namespace {

using nlohmann::json;

constexpr int kMaxRangeDays = 14;   // a longer range is cut to its first 14 days
constexpr int kLookAheadDays = 14;  // how far past an empty window the next free day is sought

Reply bad_window(const CallScope& s, const std::string& what) {
  Reply r;
  r.result = fill(say(s.lang, "I did not understand the date \"{0}\".",
                      "Das Datum \"{0}\" habe ich nicht verstanden."),
                  {what});
  r.error = "invalid_date";
  return r;
}

Instant local_midnight(const Zone& zone, date::local_days d) {
  return local_to_utc(zone, date::local_seconds{d.time_since_epoch()}, true);
}

}  // namespace

Reply check_availability(store::ReadTx& tx, const CallScope& s, const Catalog& cat,
                         const json& args) {
  const Language l = s.lang;
  auto service = resolve_service(s, cat, args);
  if (auto* r = std::get_if<Reply>(&service)) return std::move(*r);
  const Service& sv = std::get<Service>(service);
  auto staff = resolve_staff(s, cat, args, sv);
  if (auto* r = std::get_if<Reply>(&staff)) return std::move(*r);
  std::vector<Id> team;
  if (const auto& st = std::get<std::optional<Staff>>(staff))
    team = {st->id};
  else
    team = branch_staff(s, cat, sv.id);
  std::optional<PartOfDay> part;
  if (const std::string p = arg_text(args, "part_of_day"); !p.empty()) part = parse_part_of_day(p);

  // The window: one day, a range of days, or from now over the next week.
  const std::string date = arg_text(args, "date"), from = arg_text(args, "from"),
                    to = arg_text(args, "to");
  Interval window{s.now, s.now + Seconds{7 * 86400}};
  bool one_day = false;
  if (!date.empty()) {
    auto d = parse_local_date(date);
    if (!d) return bad_window(s, date);
    window = {local_midnight(*s.zone, *d), local_midnight(*s.zone, *d + date::days{1})};
    one_day = true;
  } else if (!from.empty() || !to.empty()) {
    auto f = from.empty() ? std::optional<Instant>(s.now) : parse_bound(from, *s.zone, false);
    if (!f) return bad_window(s, from);
    auto t = to.empty() ? std::optional<Instant>(*f + Seconds{7 * 86400})
                        : parse_bound(to, *s.zone, true);
    if (!t) return bad_window(s, to);
    window = {*f, std::min(*t, *f + Seconds{kMaxRangeDays * 86400})};
  }
  window.from = std::max(window.from, s.now);

  Reply r;
  if (team.empty()) {
    r.result = fill(say(l, "Nobody here offers {0} at the moment.",
                        "{0} bietet hier im Moment leider niemand an."),
                    {sv.name});
    r.error = "no_staff";
    return r;
  }
  r.alternatives = free_offers(tx, s, cat, sv.id, team, window, part, kMaxFreeStarts);
  if (!r.alternatives.empty()) {
    const auto first_day = date::floor<date::days>(s.zone->to_local(r.alternatives.front().start));
    const auto last_day = date::floor<date::days>(s.zone->to_local(r.alternatives.back().start));
    if (first_day == last_day)
      r.result = fill(say(l, "On {0} I can offer {1}.", "Am {0} kann ich Ihnen {1} anbieten."),
                      {spoken_date(l, first_day),
                       spoken_offers(s, r.alternatives, r.alternatives.front().start)});
    else
      r.result = fill(say(l, "I can offer {0}.", "Ich kann Ihnen {0} anbieten."),
                      {spoken_offers(s, r.alternatives, std::nullopt)});
    return r;
  }
  // Nothing in the window: the first free day after it, so the caller hears something useful.
  const std::string asked =
      one_day ? spoken_date(l, date::floor<date::days>(s.zone->to_local(window.from)))
              : std::string(say(l, "then", "in dieser Zeit"));
  // One look over the next two weeks (not a query per day): most of a full calendar's days
  // are full, and a free one ends the search.
  const Instant from_t = std::max(window.until, s.now);
  auto offers =
      free_offers(tx, s, cat, sv.id, team, {from_t, from_t + Seconds{kLookAheadDays * 86400}}, part,
                  kMaxOffers, true);
  if (!offers.empty()) {
    r.alternatives = std::move(offers);
    const auto day = date::floor<date::days>(s.zone->to_local(r.alternatives.front().start));
    r.result =
        fill(say(l, "{0} nothing is free. The next free day is {1}: {2}.",
                 "{0} ist leider nichts frei. Der nächste freie Tag ist {1}: {2}."),
             {one_day ? fill(say(l, "On {0}", "Am {0}"), {asked}) : std::string(asked),
              spoken_date(l, day), spoken_offers(s, r.alternatives, r.alternatives.front().start)});
    if (!one_day) {
      std::string& t = r.result;
      t[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(t[0])));
    }
    return r;
  }
  r.result = fill(say(l, "I found nothing free for {0} in the next weeks.",
                      "Für {0} habe ich in den nächsten Wochen leider nichts Freies gefunden."),
                  {sv.name});
  r.error = "nothing_free";
  return r;
}

}  // namespace appointd::intake
