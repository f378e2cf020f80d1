#include "text/files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace dsinfer::text {

std::string read_text_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  DSINFER_CHECK(file.is_open(), "cannot open ", path, ": ", std::strerror(errno));
  std::ostringstream contents;
  contents << file.rdbuf();
  DSINFER_CHECK(!file.bad(), "cannot read ", path);
  return contents.str();
}

nlohmann::json read_json_file(const std::string& path) {
  const std::string contents = read_text_file(path);
  try {
    return nlohmann::json::parse(contents);
  } catch (const nlohmann::json::parse_error& error) {
    fail(path, " is not valid JSON: ", error.what());
  }
}

std::string special_token_content(const nlohmann::json& config, const char* key, const std::string& path) {
  if (!config.contains(key) || config[key].is_null()) return "";
  const auto& entry = config[key];
  if (entry.is_string()) return entry.get<std::string>();
  DSINFER_CHECK(entry.is_object() && entry.contains("content") && entry["content"].is_string(), path, ": \"",
                key, "\" must be a string or an object with a string \"content\"");
  return entry["content"].get<std::string>();
}

}  // namespace dsinfer::text
