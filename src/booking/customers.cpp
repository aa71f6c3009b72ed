#include "booking/customers.h"

#include "domain/phone.h"
#include "domain/text.h"

namespace appointd::booking {

Result<std::string> company_phone(store::ReadTx& tx, Id company_id, const std::string& raw) {
  auto co = tx.company(company_id);
  if (!co) return Error::not_found("company");
  auto p = normalize_phone(raw, co->country);
  if (!p) return Error{ErrorCode::kInvalidPhone, "not a valid phone number: " + raw};
  return *p;
}

std::optional<Error> normalize_customer(CustomerInput& c, const std::string& country,
                                        PhoneNormalizer& phones) {
  if (c.phone_normalized) return std::nullopt;
  auto p = phones.normalize(c.phone, country);
  if (!p) return Error{ErrorCode::kInvalidPhone, "not a valid phone number: " + c.phone};
  c.phone = *p;
  c.phone_normalized = true;
  return std::nullopt;
}

bool customer_text_fits(const CustomerInput& c) {
  return fits_chars(c.name, 200) && fits_chars(c.email, 200);
}

Result<store::CustomerUpsert> upsert_customer(store::WriteTx& tx, const UpsertCustomer& c) {
  if (!customer_text_fits(c.customer))
    return Error::validation("name and email are at most 200 characters");
  std::string phone = c.customer.phone;
  if (!c.customer.phone_normalized) {
    auto p = company_phone(tx, c.company_id, c.customer.phone);
    if (!p) return p.error();
    phone = *p;
  }
  Customer cu{0, c.company_id, phone, c.customer.name, c.customer.email, c.source, c.now};
  auto r = tx.upsert_customer(cu);
  if (r.created) {
    tx.append_event({0, c.company_id, 0, "customer.created",
                     nlohmann::json{{"customer_id", r.customer.id}, {"source", c.source}}.dump(),
                     c.now});
  }
  return r;
}

}  // namespace appointd::booking
