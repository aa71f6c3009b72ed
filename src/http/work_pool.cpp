#include "http/work_pool.h"

#include <utility>  // before Asio (Boost 1.74 with g++ 12)

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace appointd::http {

struct WorkPool::Impl {
  explicit Impl(int threads) : pool(static_cast<std::size_t>(threads)) {}
  boost::asio::thread_pool pool;
};

WorkPool::WorkPool(int threads) : impl_(std::make_unique<Impl>(threads < 1 ? 1 : threads)) {}

WorkPool::~WorkPool() {
  impl_->pool.join();
}

void WorkPool::post(std::function<void()> f) {
  boost::asio::post(impl_->pool, std::move(f));
}

}  // namespace appointd::http
