#pragma once
// Runs one use case inside its own savepoint: kept when it returns a value, undone when it
// returns an Error, so a domain failure never leaves half a change behind and never undoes the
// writes batched before it. An exception leaves the savepoint to the store's own rollback.
#include "domain/error.h"
#include "store/tx.h"

namespace appointd::booking {

template <class F>
auto attempt(store::WriteTx& tx, F&& f) -> decltype(f()) {
  tx.savepoint();
  auto r = f();
  if (r.ok())
    tx.release_savepoint();
  else
    tx.rollback_savepoint();
  return r;
}

}  // namespace appointd::booking
