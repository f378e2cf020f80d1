// Reading the text files of a model folder, with errors that name the file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dsinfer::text {

std::string read_text_file(const std::string& path);
nlohmann::json read_json_file(const std::string& path);

// The token string of a tokenizer_config.json entry such as "bos_token": either a plain string or an
// AddedToken object {"content": ...}; "" when the entry is absent or null.
std::string special_token_content(const nlohmann::json& config, const char* key, const std::string& path);

}  // namespace dsinfer::text
