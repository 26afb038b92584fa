// A Store in memory (tests, and a hub that needs no persistence): the SQLite store's semantics — the same
// refusals with the same messages (store_errors.h), one store-wide resourceVersion counter, optimistic
// concurrency, write-once link CA/roots/settings, identities revoked in recording order, times kept to the
// millisecond — without durability: everything is gone when it is destroyed. Each call is atomic (all or
// nothing), as a transaction is.
//
// Thread-safe: calls are serialized by a mutex.
#pragma once

#include "hub/store/store.h"

namespace vmesh::hub {

StorePtr MakeMemoryStore();

}  // namespace vmesh::hub
