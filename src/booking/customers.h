#pragma once
// Customers are upserted by (company, phone in E.164): concurrent calls for one number, in any
// spelling, end with one customer (I2).
#include "booking/commands.h"
#include "domain/error.h"
#include "domain/phone.h"
#include "store/tx.h"

namespace appointd::booking {

// Whether a customer's name and email are within their limit (200 characters each): what
// upsert_customer() validates before it writes.
bool customer_text_fits(const CustomerInput& c);

// Returns the customer and whether it was created. invalid_phone when the number is not valid
// for the company's country; validation_failed for over-long name or email.
Result<store::CustomerUpsert> upsert_customer(store::WriteTx& tx, const UpsertCustomer& c);

// Normalises a phone for a company; invalid_phone when it is not valid there.
Result<std::string> company_phone(store::ReadTx& tx, Id company_id, const std::string& raw);

// Normalises c.phone for the company's country ahead of the write (sets phone_normalized).
// Returns invalid_phone when it is not valid there.
std::optional<Error> normalize_customer(CustomerInput& c, const std::string& country,
                                        PhoneNormalizer& phones);

}  // namespace appointd::booking
