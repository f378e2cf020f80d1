#include "text/tokenize_protocol.h"

#include <istream>
#include <limits>
#include <ostream>

#include "core/error.h"

namespace dsinfer::text {
namespace {

using Json = nlohmann::ordered_json;  // keeps the request's key order for templates that print dicts

void check_fields(const Json& request, std::initializer_list<std::string_view> allowed,
                  std::string_view kind) {
  for (const auto& [key, value] : request.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string names;
      for (std::string_view name : allowed) names += " \"" + std::string(name) + "\"";
      fail("unknown field \"", key, "\" in a request with \"", kind, "\" (allowed:", names, ")");
    }
  }
}

bool optional_flag(const Json& request, const char* key) {
  if (!request.contains(key) || request[key].is_null()) return false;
  DSINFER_CHECK(request[key].is_boolean(), "\"", key, "\" must be true or false");
  return request[key].get<bool>();
}

Json answer(const TokenizeSession& session, const Json& request) {
  DSINFER_CHECK(request.is_object(), "each line must be a JSON object");
  const int kinds =
      int(request.contains("text")) + int(request.contains("ids")) + int(request.contains("messages"));
  DSINFER_CHECK(kinds == 1, "give exactly one of \"text\", \"ids\" or \"messages\"");
  const Tokenizer& tokenizer = *session.tokenizer;
  if (request.contains("text")) {
    check_fields(request, {"text"}, "text");
    DSINFER_CHECK(request["text"].is_string(), "\"text\" must be a string");
    return Json{{"ids", tokenizer.encode(request["text"].get<std::string>())}};
  }
  if (request.contains("ids")) {
    check_fields(request, {"ids", "skip_special_tokens"}, "ids");
    const Json& ids = request["ids"];
    DSINFER_CHECK(ids.is_array(), "\"ids\" must be an array of token ids");
    std::vector<int32_t> token_ids;
    token_ids.reserve(ids.size());
    for (const Json& id : ids) {
      DSINFER_CHECK(id.is_number_integer() && id.get<int64_t>() >= std::numeric_limits<int32_t>::min() &&
                        id.get<int64_t>() <= std::numeric_limits<int32_t>::max(),
                    "\"ids\" must hold integers, found ", id.dump());
      token_ids.push_back(id.get<int32_t>());
    }
    return Json{{"text", tokenizer.decode(token_ids, optional_flag(request, "skip_special_tokens"))}};
  }
  check_fields(request, {"messages", "add_generation_prompt", "tools", "chat_template_kwargs"}, "messages");
  DSINFER_CHECK(session.chat_template != nullptr, session.chat_template_error);
  const ChatPrompt prompt = build_chat_prompt(
      *session.chat_template, tokenizer, request["messages"], request.value("tools", Json()),
      optional_flag(request, "add_generation_prompt"), request.value("chat_template_kwargs", Json()));
  return Json{{"text", prompt.text}, {"ids", prompt.ids}};
}

std::string dump(const Json& reply) {
  return reply.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::string answer_tokenize_request(const TokenizeSession& session, std::string_view line) {
  try {
    return dump(answer(session, Json::parse(line)));
  } catch (const Json::exception& error) {
    return dump(Json{{"error", std::string("invalid JSON: ") + error.what()}});
  } catch (const std::exception& error) {
    return dump(Json{{"error", error.what()}});
  }
}

void run_tokenize_protocol(const TokenizeSession& session, std::istream& input, std::ostream& output) {
  std::string line;
  while (std::getline(input, line)) output << answer_tokenize_request(session, line) << '\n' << std::flush;
}

}  // namespace dsinfer::text
