// Errors in the OpenAI shape: {"error": {"message", "type", "param", "code"}} with a 4xx / 5xx status.
// Request handling throws ApiError; the router turns it into the response, and the server stays up.
#pragma once

#include <stdexcept>
#include <string>

namespace dsinfer::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(unsigned status, std::string message, std::string param = {}, std::string code = {});

  unsigned status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  // "invalid_request_error", "authentication_error", "not_found_error", "server_error", ...
  std::string type() const;
  std::string body() const;  // the JSON document

 private:
  unsigned status_;
  std::string param_;
  std::string code_;
};

// Shorthands for the common cases.
ApiError bad_request(std::string message, std::string param = {}, std::string code = "invalid_value");

// The JSON error document for a status and message (param / code: null when empty).
std::string error_body(unsigned status, const std::string& message, const std::string& param = {},
                       const std::string& code = {});
std::string error_type_for_status(unsigned status);

}  // namespace dsinfer::server
