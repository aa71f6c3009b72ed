#pragma once
// Generic read handlers over a ReadTx getter: one row by path id, or all rows of the company.
#include "http/app.h"
#include "http/codec.h"

namespace appointd::http {

// GET one row of a company-scoped table by id; 404 for unknown and other companies' ids.
template <auto Getter>
void get_one(Env& env, const CtxPtr& c) {
  auto id = path_id(c, "id");
  if (!id) return;
  bool found = false;
  nlohmann::json j;
  env.store.read([&](store::ReadTx& tx) {
    if (auto row = (tx.*Getter)(c->company(), *id)) {
      found = true;
      j = to_json(*row);
    }
  });
  if (!found) return c->send(problem(Error::not_found("resource")));
  c->send(json_response(200, j));
}

template <auto Lister>
void list_all(Env& env, const CtxPtr& c) {
  nlohmann::json j;
  env.store.read([&](store::ReadTx& tx) { j = items((tx.*Lister)(c->company())); });
  c->send(json_response(200, j));
}

}  // namespace appointd::http
