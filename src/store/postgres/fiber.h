#pragma once
// A stackful coroutine: a function that runs on a stack of its own and can suspend itself
// (yield) in the middle of any call chain, to be resumed later where it stopped. The PostgreSQL
// store runs many use cases at once on one thread this way (batch.h): a use case that needs a
// round trip suspends, and the thread sends the statements of all suspended use cases together.
// The use cases are ordinary synchronous code and know nothing of it.
//
// ucontext based; switches are annotated for AddressSanitizer and ThreadSanitizer, so both
// follow the stacks, and each fiber has its own record of the exceptions it is handling (a
// fiber may suspend inside a catch block while others throw). A fiber belongs to the thread that
// created it: only that thread resumes it, and only from outside any fiber (fibers do not resume
// each other). Not thread-safe.
#include <cstddef>
#include <exception>
#include <functional>

namespace appointd::store::postgres {

class Fiber {
 public:
  // The body runs at the first resume(); an exception it lets escape ends the process (bodies
  // catch what they throw). stack_bytes: usable stack (a guard page below it faults on overflow).
  explicit Fiber(std::function<void()> body, size_t stack_bytes = kDefaultStack);
  ~Fiber();  // the fiber must have ended (done())
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Runs the fiber until it yields or its body returns. Not from inside a fiber.
  void resume();
  bool done() const { return done_; }

  // Suspends the calling fiber; resume() continues after this call. Only inside a fiber.
  static void yield();
  // The fiber running on this thread, or null outside any fiber.
  static Fiber* current();

#if defined(__SANITIZE_ADDRESS__)
  // Instrumented frames are several times larger.
  static constexpr size_t kDefaultStack = 1024 * 1024;
#else
  static constexpr size_t kDefaultStack = 256 * 1024;
#endif

 private:
  struct Impl;
  static void entry();
  void switch_in();
  void switch_out(bool ending);
  Impl* impl_;
  std::function<void()> body_;
  bool done_ = false;
};

}  // namespace appointd::store::postgres
