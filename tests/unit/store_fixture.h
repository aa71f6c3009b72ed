#pragma once
// A fresh SQLite store in a temp folder with one company, branch, two services and three staff.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "booking/appointments.h"
#include "booking/attempt.h"
#include "booking/catalog.h"
#include "store/store.h"

namespace appointd::testing {

inline Instant at(const char* s) {
  return *parse_rfc3339(s);
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("appointd-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store::Options o;
    o.url = "sqlite:" + (dir_ / "t.db").string();
    o.durability_full = false;
    store_ = store::open_store(o);
    store_->write_sync([&](store::WriteTx& tx) {
      company_ = booking::create_company(tx, {"Co", "Europe/Berlin", "DE", now_})->company.id;
      branch_ = booking::create_branch(tx, {company_, "B", std::nullopt, "", now_})->id;
      cut_ = booking::create_service(tx, {company_, "Cut", 30, 0, 10, now_})->id;
      long_ = booking::create_service(tx, {company_, "Long", 60, 5, 5, now_})->id;
      for (int i = 0; i < 3; ++i)
        staff_.push_back(
            booking::create_staff(tx, {company_, branch_, "S", "", {cut_, long_}, now_})->id);
    });
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Books through the store's write path (as the HTTP layer does).
  Result<Appointment> book(std::vector<SegmentRequest> segs, const char* phone = "+49301234567") {
    booking::Book b;
    b.company_id = company_;
    b.customer = booking::CustomerInput{phone, "X", ""};
    b.segments = std::move(segs);
    b.now = now_;
    std::optional<Result<Appointment>> r;
    store_->write_sync([&](store::WriteTx& tx) {
      r = booking::attempt(tx, [&] { return booking::book(tx, b); });
    });
    return *r;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  Instant now_ = at("2026-11-28T08:00:00Z");
  Id company_ = 0, branch_ = 0, cut_ = 0, long_ = 0;
  std::vector<Id> staff_;
};

}  // namespace appointd::testing
