#include "server/update_relay.h"

#include <boost/asio/post.hpp>

namespace dsinfer::server {

void UpdateRelay::push(std::function<void()> delivery) {
  bool post_drain = false;
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(delivery));
    post_drain = !drain_posted_;
    drain_posted_ = true;
  }
  if (post_drain) boost::asio::post(io_context_, [this] { drain(); });
}

void UpdateRelay::drain() {
  std::vector<std::function<void()>> deliveries;
  {
    std::lock_guard lock(mutex_);
    deliveries.swap(pending_);
    drain_posted_ = false;  // a later push posts the next drain, which may run beside this one
  }
  for (auto& delivery : deliveries) delivery();
}

}  // namespace dsinfer::server
