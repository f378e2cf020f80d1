// Errors: one exception type whose message a user can act on (names the file, field, tensor or parameter).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace dsinfer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream stream;
  (stream << ... << parts);
  return stream.str();
}
}  // namespace detail

// fail("tensor ", name, " has shape ", shape) -> throws Error with the parts concatenated.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(detail::concat(parts...));
}

}  // namespace dsinfer

// DSINFER_CHECK(cond, parts...): throws dsinfer::Error with the parts when cond is false.
#define DSINFER_CHECK(condition, ...)        \
  do {                                       \
    if (!(condition)) {                      \
      ::dsinfer::fail(__VA_ARGS__);          \
    }                                        \
  } while (0)
