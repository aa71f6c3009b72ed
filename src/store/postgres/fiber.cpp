#include "store/postgres/fiber.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cxxabi.h>

#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace appointd::store::postgres {
namespace {

thread_local Fiber* t_current = nullptr;

// The C++ runtime's per-thread record of the exceptions being handled (libstdc++'s
// __cxa_eh_globals: the stack of caught exceptions, and the count of uncaught ones). It is per
// thread, not per fiber: a fiber suspended inside a catch block while another fiber throws and
// catches would find its exception freed under it. So each fiber keeps its own record, swapped
// in and out around every switch (as Seastar and Boost.Fiber users do).
#if defined(__ARM_EABI_UNWINDER__) || defined(_LIBCPP_ABI_VERSION)
#error "EhGlobals mirrors libstdc++'s __cxa_eh_globals without the ARM EHABI field: check it"
#endif
struct EhGlobals {
  void* caught = nullptr;
  unsigned int uncaught = 0;
};
EhGlobals& thread_eh_globals() {
  return *reinterpret_cast<EhGlobals*>(abi::__cxa_get_globals());
}

// Stacks of ended fibers, kept for the next ones of this thread: mapping a stack, its guard page
// and unmapping it again (which flushes other cores' TLBs) cost more than a whole write.
struct Stack {
  void* mapping = nullptr;
  size_t mapped = 0;
};
struct StackCache {
  static constexpr size_t kMax = 128;
  std::vector<Stack> free;
  ~StackCache() {
    for (const auto& s : free) ::munmap(s.mapping, s.mapped);
  }
};
thread_local StackCache t_stacks;

}  // namespace

struct Fiber::Impl {
  EhGlobals eh;       // the fiber's exceptions in flight while it is suspended
  ucontext_t self;    // the fiber's context while it is suspended
  ucontext_t caller;  // the resumer's context while the fiber runs
  void* mapping = nullptr;
  size_t mapped = 0;
  void* stack_low = nullptr;  // usable stack, above the guard page
  size_t stack_size = 0;
  // AddressSanitizer: each side's fake stack while switched away, and the resumer's stack.
  void* fiber_fake = nullptr;
  void* caller_fake = nullptr;
  const void* caller_bottom = nullptr;
  size_t caller_size = 0;
  // ThreadSanitizer: the fiber's and the resumer's contexts.
  void* tsan_fiber = nullptr;
  void* tsan_caller = nullptr;
};

Fiber::Fiber(std::function<void()> body, size_t stack_bytes)
    : impl_(new Impl), body_(std::move(body)) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t size = (stack_bytes + page - 1) / page * page;
  impl_->mapped = size + page;
  auto& cache = t_stacks.free;
  if (!cache.empty() && cache.back().mapped == impl_->mapped) {
    impl_->mapping = cache.back().mapping;
    cache.pop_back();
  } else {
    impl_->mapping = ::mmap(nullptr, impl_->mapped, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (impl_->mapping == MAP_FAILED) {
      delete impl_;
      throw std::bad_alloc();
    }
    // The stack grows down: the lowest page is the guard.
    ::mprotect(impl_->mapping, page, PROT_NONE);
  }
  impl_->stack_low = static_cast<char*>(impl_->mapping) + page;
  impl_->stack_size = size;
#if defined(__SANITIZE_ADDRESS__)
  // A recycled stack may keep the poison of frames an exception unwound.
  ASAN_UNPOISON_MEMORY_REGION(impl_->stack_low, size);
#endif
  ::getcontext(&impl_->self);
  impl_->self.uc_stack.ss_sp = impl_->stack_low;
  impl_->self.uc_stack.ss_size = size;
  impl_->self.uc_link = nullptr;
  ::makecontext(&impl_->self, &Fiber::entry, 0);
#if defined(__SANITIZE_THREAD__)
  impl_->tsan_fiber = __tsan_create_fiber(0);
#endif
}

Fiber::~Fiber() {
#if defined(__SANITIZE_THREAD__)
  __tsan_destroy_fiber(impl_->tsan_fiber);
#endif
  auto& cache = t_stacks.free;
  if (cache.size() < StackCache::kMax)
    cache.push_back({impl_->mapping, impl_->mapped});
  else
    ::munmap(impl_->mapping, impl_->mapped);
  delete impl_;
}

Fiber* Fiber::current() {
  return t_current;
}

void Fiber::entry() {
  Fiber* self = t_current;
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(nullptr, &self->impl_->caller_bottom, &self->impl_->caller_size);
#endif
  try {
    self->body_();
  } catch (...) {
    std::terminate();  // a body catches what it throws (fiber.h)
  }
  self->done_ = true;
  self->switch_out(true);
}

void Fiber::resume() {
  if (done_ || t_current) std::terminate();
  t_current = this;
  EhGlobals& eh = thread_eh_globals();
  const EhGlobals outside = eh;
  eh = impl_->eh;
  switch_in();
  impl_->eh = eh;
  eh = outside;
  t_current = nullptr;
}

void Fiber::yield() {
  Fiber* self = t_current;
  if (!self) std::terminate();
  self->switch_out(false);
}

void Fiber::switch_in() {
#if defined(__SANITIZE_THREAD__)
  impl_->tsan_caller = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(impl_->tsan_fiber, 0);
#endif
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(&impl_->caller_fake, impl_->stack_low, impl_->stack_size);
#endif
  ::swapcontext(&impl_->caller, &impl_->self);
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(impl_->caller_fake, nullptr, nullptr);
#endif
}

void Fiber::switch_out(bool ending) {
#if defined(__SANITIZE_THREAD__)
  __tsan_switch_to_fiber(impl_->tsan_caller, 0);
#endif
#if defined(__SANITIZE_ADDRESS__)
  // An ending fiber's fake stack goes with it (nullptr: nothing to keep).
  __sanitizer_start_switch_fiber(ending ? nullptr : &impl_->fiber_fake, impl_->caller_bottom,
                                 impl_->caller_size);
#else
  (void)ending;
#endif
  ::swapcontext(&impl_->self, &impl_->caller);
  // Resumed again (never after ending).
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(impl_->fiber_fake, &impl_->caller_bottom, &impl_->caller_size);
#endif
}

}  // namespace appointd::store::postgres
