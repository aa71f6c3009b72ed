// `appointd demo`: a demo company with a branch, 3 services and 3 staff, and its API key.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "booking/attempt.h"
#include "booking/catalog.h"
#include "cli/commands.h"

namespace appointd::cli {
namespace {

template <class T>
T must(Result<T> r) {
  if (!r) throw std::runtime_error("demo: " + r.error().detail);
  return std::move(r.value());
}

}  // namespace

void add_demo(CLI::App& app) {
  auto flags = std::make_shared<DbFlags>();
  auto if_empty = std::make_shared<bool>(false);
  auto key_file = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("demo", "Create a demo company and print its API key");
  add_db_flags(*cmd, *flags);
  cmd->add_flag("--if-empty", *if_empty, "do nothing when the store already has a company");
  cmd->add_option("--key-file", *key_file, "also write the key to this file (mode 600)");
  cmd->callback([=] {
    auto store = store::open_store(store_options(*flags));
    bool exists = false;
    store->read([&](store::ReadTx& tx) { exists = tx.company(1).has_value(); });
    if (exists && *if_empty) return;
    std::string key;
    Id staff_id = 0, service_id = 0;
    store->write_sync([&](store::WriteTx& tx) {
      const Instant now = SystemClock().now();
      auto co = must(booking::create_company(tx, {"Demo Salon", "Europe/Berlin", "DE", now}));
      Id cid = co.company.id;
      key = co.api_key;
      auto br =
          must(booking::create_branch(tx, {cid, "Mitte", std::nullopt, "+49 30 1234567", now}));
      std::vector<Id> services;
      for (auto [name, dur, after] : {std::tuple{"Haircut", 30, 10}, std::tuple{"Colour", 90, 15},
                                      std::tuple{"Beard trim", 15, 5}})
        services.push_back(must(booking::create_service(tx, {cid, name, dur, 0, after, now})).id);
      for (const char* name : {"Anna", "Ben", "Chiara"})
        staff_id = must(booking::create_staff(tx, {cid, br.id, name, "", services, now})).id;
      service_id = services.front();
    });
    std::cout << key << std::endl;
    if (!key_file->empty()) {
      std::ofstream f(*key_file, std::ios::trunc);
      f << key << "\n";
      f.close();
      std::filesystem::permissions(
          *key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    }
    std::cerr << "Demo company created. Book a haircut with:\n"
              << "  curl -s -X POST localhost:8080/v1/appointments -H 'Authorization: Bearer "
              << key
              << "' \\\n    -d '{\"customer\":{\"phone\":\"+49 30 1234567\",\"name\":\"Max\"},"
              << "\"segments\":[{\"staff_id\":" << staff_id << ",\"service_id\":" << service_id
              << ",\"start\":\"2030-01-07T09:00:00+01:00\"}]}'\n";
  });
}

}  // namespace appointd::cli
