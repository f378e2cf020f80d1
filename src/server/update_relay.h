// Carries engine updates to the HTTP sessions with one hand-off per engine step instead of one per request:
// the engine thread only appends a delivery to a list, and the first append of a step posts a single drain
// to the I/O threads, which then queue each delivery on its connection's strand. (Posting to every strand
// from the engine thread costs a lock and often a thread wake-up per request, and the engine thread is the
// one every running request waits for.)
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace dsinfer::server {

class UpdateRelay {
 public:
  explicit UpdateRelay(boost::asio::io_context& io_context) : io_context_(io_context) {}

  // Thread-safe; `delivery` runs later on an I/O thread.
  void push(std::function<void()> delivery);

 private:
  void drain();

  boost::asio::io_context& io_context_;
  std::mutex mutex_;
  std::vector<std::function<void()>> pending_;
  bool drain_posted_ = false;
};

}  // namespace dsinfer::server
