#pragma once
// Use cases for the company's catalogue: companies, branches, services, staff.
// Each is `Result<T> f(WriteTx&, const Command&)`; see booking/attempt.h for rollback.
#include <string>

#include "booking/commands.h"
#include "domain/error.h"
#include "store/tx.h"

namespace appointd::booking {

struct CreatedCompany {
  Company company;
  std::string api_key;  // the company's first key, plain text (stored as SHA-256 only)
};

Result<CreatedCompany> create_company(store::WriteTx& tx, const CreateCompany& c);
Result<Branch> create_branch(store::WriteTx& tx, const CreateBranch& c);
Result<Service> create_service(store::WriteTx& tx, const CreateService& c);
Result<Staff> create_staff(store::WriteTx& tx, const CreateStaff& c);

// Creates an API key (role platform when company_id is 0) and returns it in plain text.
std::string create_api_key(store::WriteTx& tx, Id company_id, const std::string& name, Instant now);

}  // namespace appointd::booking
