#pragma once
// Whether the database answers, as a state refreshed in the background, so that /readyz never
// waits on the database (a frozen server would otherwise hold an I/O thread).
//
// A thread pings over a connection of its own every `interval`. Ready means: the last ping
// succeeded, and it was less than two intervals ago. So a server that refuses connections turns
// not-ready at the next ping, and one that stops answering (frozen, a network partition) once its
// last answer is two intervals old, whatever the ping is stuck on.
#include <chrono>
#include <memory>
#include <string>

namespace appointd::store::postgres {

class Readiness {
 public:
  // Pings once before returning, so ready() is right from the start.
  Readiness(std::string url, std::chrono::milliseconds interval);
  // Stops the pings. Does not wait for one stuck on a frozen server: the thread finishes on its
  // own once that ping returns.
  ~Readiness();
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  bool ready() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace appointd::store::postgres
