#include "engine/stop_strings.h"

#include <algorithm>

namespace dsinfer {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stop_strings) : stop_strings_(std::move(stop_strings)) {}

StopStringMatcher::Result StopStringMatcher::push(std::string_view text) {
  Result result;
  if (stop_strings_.empty()) {
    result.text.assign(text);
    return result;
  }
  held_.append(text);
  // The earliest stop string wins; among those starting at the same place, the longest.
  size_t best_position = std::string::npos;
  const std::string* best = nullptr;
  for (const auto& stop : stop_strings_) {
    const size_t position = held_.find(stop);
    if (position == std::string::npos) continue;
    if (position < best_position || (position == best_position && stop.size() > best->size())) {
      best_position = position;
      best = &stop;
    }
  }
  if (best != nullptr) {
    result.text = held_.substr(0, best_position);
    result.stopped = true;
    result.matched = *best;
    held_.clear();
    return result;
  }
  // Keep the longest tail of held_ that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const auto& stop : stop_strings_) {
    const size_t longest = std::min(stop.size() - 1, held_.size());
    for (size_t length = longest; length > keep; --length) {
      if (std::string_view(held_).substr(held_.size() - length) == std::string_view(stop).substr(0, length)) {
        keep = length;
        break;
      }
    }
  }
  result.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return result;
}

std::string StopStringMatcher::finish() {
  std::string rest;
  rest.swap(held_);
  return rest;
}

}  // namespace dsinfer
