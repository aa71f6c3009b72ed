#pragma once
// The threads that run request handlers, so that the I/O threads never wait on the database
// (DESIGN.md "Layers"): a handler's reads, its key lookup and its decoding run here, and a slow
// or frozen database delays only the requests that need it, never /healthz, /metrics or the
// reading of other requests. A thin wrapper of Asio's thread_pool, kept out of the headers.
#include <functional>
#include <memory>

namespace appointd::http {

class WorkPool {
 public:
  explicit WorkPool(int threads);
  // Waits for the work already posted, then stops the threads.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Runs `f` on one of the threads, in no particular order with other posts. Thread-safe.
  void post(std::function<void()> f);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace appointd::http
