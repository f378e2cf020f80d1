#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace dsinfer::server {

ApiError::ApiError(unsigned status, std::string message, std::string param, std::string code)
    : std::runtime_error(std::move(message)), status_(status), param_(std::move(param)), code_(std::move(code)) {}

std::string ApiError::type() const { return error_type_for_status(status_); }

std::string ApiError::body() const { return error_body(status_, what(), param_, code_); }

ApiError bad_request(std::string message, std::string param, std::string code) {
  return ApiError(400, std::move(message), std::move(param), std::move(code));
}

std::string error_type_for_status(unsigned status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 503: return "service_unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string error_body(unsigned status, const std::string& message, const std::string& param, const std::string& code) {
  nlohmann::json error = {{"message", message},
                          {"type", error_type_for_status(status)},
                          {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
                          {"code", code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code)}};
  // Replace invalid UTF-8 (a message may quote request bytes) instead of throwing.
  return nlohmann::json{{"error", error}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dsinfer::server
