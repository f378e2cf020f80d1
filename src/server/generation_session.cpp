#include "server/generation_session.h"

#include <chrono>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/output_parser.h"
#include "text/incremental_detokenizer.h"

namespace dsinfer::server {
namespace {

using nlohmann::json;

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string random_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  thread_local Rng rng(std::random_device{}());
  char text[64];
  std::snprintf(text, sizeof(text), "%s%016llx%08llx", prefix, static_cast<unsigned long long>(rng.next()),
                static_cast<unsigned long long>(counter.fetch_add(1) & 0xffffffffull));
  return text;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The engine's view of the tokenizer's streaming decoder.
class DetokenizerStream : public TokenTextStream {
 public:
  DetokenizerStream(const text::Tokenizer& tokenizer, bool skip_special_tokens) : decoder_(tokenizer, skip_special_tokens) {}
  std::string push(int32_t token_id) override { return decoder_.push(token_id); }
  std::string finish() override { return decoder_.finish(); }

 private:
  text::IncrementalDetokenizer decoder_;
};

struct Choice {
  size_t index = 0;         // in the response (prompt_index * n + sample)
  size_t prompt_index = 0;
  uint64_t engine_id = 0;
  OutputParser parser{false, false};
  std::string content;
  std::string reasoning;
  json tool_calls = json::array();
  std::vector<int32_t> output_ids;
  json logprobs;            // accumulated, in the API's shape (null when not requested); echo: prompt first
  size_t completion_text_bytes = 0;  // completions: text_offset of the next token
  std::vector<GeneratedToken> prompt_logprobs;  // /generate with logprob_start_len: prompt tokens 1, 2, ...
  bool prefix_parsed = false;  // spec.assistant_prefix went through the parser (with the first text)
  bool echoed = false;         // stream with echo: the prompt's chunk went out
  FinishReason finish_reason = FinishReason::kNone;
  std::string matched_stop;
  std::optional<int32_t> matched_stop_token;
  std::string error;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
  bool started = false;     // stream: the first chunk went out
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<HttpExchange> exchange, const SessionContext& context, GenerationSpec spec,
          std::vector<PreparedPrompt> prompts, Clock::time_point arrival)
      : exchange_(std::move(exchange)),
        context_(context),
        spec_(std::move(spec)),
        prompts_(std::move(prompts)),
        arrival_(arrival),
        id_(random_id(spec_.kind == ApiKind::kChat ? "chatcmpl-" : spec_.kind == ApiKind::kCompletion ? "cmpl-" : "gen-")),
        created_(unix_seconds()) {}

  void start() {
    const bool chat = spec_.kind == ApiKind::kChat;
    const bool parse_tools = chat && context_.tool_call_parser && spec_.tool_choice != "none";
    // A forced tool call opens the turn, so there is no reasoning to separate.
    const bool parse_reasoning =
        chat && context_.reasoning_parser && spec_.separate_reasoning && spec_.assistant_prefix.empty();
    const bool want_logprobs = spec_.params.logprobs || spec_.params.top_logprobs > 0;
    choices_.resize(prompts_.size() * static_cast<size_t>(spec_.n));
    for (size_t i = 0; i < choices_.size(); ++i) {
      Choice& choice = choices_[i];
      choice.index = i;
      choice.prompt_index = i / static_cast<size_t>(spec_.n);
      choice.parser = OutputParser(parse_reasoning, parse_tools, "call_" + id_.substr(id_.size() - 12) + "_" + std::to_string(i));
      if (want_logprobs) choice.logprobs = initial_logprobs();
      if (spec_.kind == ApiKind::kCompletion && spec_.params.prompt_logprobs) add_first_prompt_token(choice);
    }
    if (spec_.stream) {
      context_.http_metrics.open_streams.fetch_add(1);
      exchange_->start_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
    }
    auto self = shared_from_this();
    exchange_->on_disconnect([self] { self->client_gone(); });
    // One prefix group per prompt of an `n` > 1 request: its samples share that prompt.
    static std::atomic<uint64_t> next_group{1};
    const uint64_t first_group = spec_.n > 1 ? next_group.fetch_add(prompts_.size()) : 0;
    for (Choice& choice : choices_) {
      GenerationRequest request;
      request.prompt = prompts_[choice.prompt_index].ids;
      request.params = spec_.params;
      request.params.max_new_tokens = prompts_[choice.prompt_index].max_new_tokens;
      // `n` samples of one seeded request differ from each other, and the whole set repeats.
      if (request.params.seed && choices_.size() > 1) *request.params.seed += choice.index;
      // A choice that scores its prompt computes all of it anyway: no point in waiting for the others' cache.
      request.prefix_group = first_group == 0 || spec_.params.prompt_logprobs ? 0 : first_group + choice.prompt_index;
      request.text = std::make_unique<DetokenizerStream>(context_.tokenizer, spec_.skip_special_tokens);
      request.arrival = arrival_;
      const size_t index = choice.index;
      request.on_update = [self, index](GenerationUpdate&& update) {
        self->context_.relay.push([self, index, update = std::move(update)]() mutable {
          self->exchange_->post([self, index, update = std::move(update)]() mutable { self->on_update(index, std::move(update)); });
        });
      };
      choice.engine_id = context_.engine.submit(std::move(request));
    }
  }

 private:
  json initial_logprobs() const {
    if (spec_.kind == ApiKind::kChat) return json{{"content", json::array()}};
    if (spec_.kind == ApiKind::kCompletion)
      return json{{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
                  {"text_offset", json::array()}};
    return json{{"output_token_logprobs", json::array()}, {"output_top_logprobs", json::array()}};
  }

  // Echo with logprobs: the prompt's first token leads the list, with no log probability (nothing precedes it).
  void add_first_prompt_token(Choice& choice) {
    const std::string text = token_text(prompts_[choice.prompt_index].ids.front());
    choice.logprobs["tokens"].push_back(text);
    choice.logprobs["token_logprobs"].push_back(nullptr);
    choice.logprobs["top_logprobs"].push_back(nullptr);
    choice.logprobs["text_offset"].push_back(0);
    choice.completion_text_bytes = text.size();
  }

  std::string token_text(int32_t token_id) const {
    return context_.tokenizer.decode(std::span<const int32_t>(&token_id, 1), /*skip_special_tokens=*/false);
  }

  json token_bytes(int32_t token_id) const {
    json bytes = json::array();
    for (unsigned char byte : context_.tokenizer.token_bytes(token_id)) bytes.push_back(byte);
    return bytes;
  }

  // The log probabilities of `tokens` in the API's shape (a delta for streams), and appended to the choice.
  json logprobs_for(Choice& choice, const std::vector<GeneratedToken>& tokens) {
    if (choice.logprobs.is_null()) return nullptr;
    json delta = initial_logprobs();
    for (const GeneratedToken& token : tokens) {
      if (spec_.kind == ApiKind::kChat) {
        json top = json::array();
        for (const TokenLogprob& alternative : token.top_logprobs) {
          top.push_back({{"token", token_text(alternative.token_id)},
                         {"logprob", alternative.logprob},
                         {"bytes", token_bytes(alternative.token_id)}});
        }
        delta["content"].push_back({{"token", token_text(token.token_id)},
                                    {"logprob", token.logprob},
                                    {"bytes", token_bytes(token.token_id)},
                                    {"top_logprobs", top}});
      } else if (spec_.kind == ApiKind::kCompletion) {
        json top = json::object();
        for (const TokenLogprob& alternative : token.top_logprobs) top[token_text(alternative.token_id)] = alternative.logprob;
        const std::string text = token_text(token.token_id);
        delta["tokens"].push_back(text);
        delta["token_logprobs"].push_back(token.logprob);
        delta["top_logprobs"].push_back(top);
        delta["text_offset"].push_back(choice.completion_text_bytes);
        choice.completion_text_bytes += text.size();
      } else {
        delta["output_token_logprobs"].push_back(json::array({token.logprob, token.token_id, nullptr}));
        json top = json::array();
        for (const TokenLogprob& alternative : token.top_logprobs)
          top.push_back(json::array({alternative.logprob, alternative.token_id, nullptr}));
        delta["output_top_logprobs"].push_back(top);
      }
    }
    for (auto& [key, values] : delta.items()) {
      for (const json& value : values) choice.logprobs[key].push_back(value);
    }
    return delta;
  }

  void on_update(size_t index, GenerationUpdate update) {
    Choice& choice = choices_[index];
    choice.prompt_tokens = update.prompt_tokens;
    choice.completion_tokens = update.completion_tokens;
    choice.cached_tokens = update.cached_tokens;
    for (const GeneratedToken& token : update.tokens) choice.output_ids.push_back(token.token_id);
    const bool finished = update.finish_reason != FinishReason::kNone;
    const bool completed = update.finish_reason == FinishReason::kStop || update.finish_reason == FinishReason::kLength;
    // Prompt logprobs all arrive before the choice's first token.
    if (spec_.kind == ApiKind::kCompletion) {
      logprobs_for(choice, update.prompt_logprobs);
    } else {
      for (GeneratedToken& token : update.prompt_logprobs) choice.prompt_logprobs.push_back(std::move(token));
    }
    if (update.tokens.empty() && !finished) return;  // only prompt logprobs: they go out with the echo or the end
    if (spec_.stream && spec_.echo && !choice.echoed && !client_gone_ && (!update.tokens.empty() || completed)) echo_prompt(choice);
    // The EOS / stop token that ended the output is not part of the text, so it gets no logprob entry.
    if (update.matched_stop_token && !update.tokens.empty() && update.tokens.back().token_id == *update.matched_stop_token)
      update.tokens.pop_back();
    const json logprobs = logprobs_for(choice, update.tokens);

    if (!choice.prefix_parsed) {
      update.text.insert(0, spec_.assistant_prefix);
      choice.prefix_parsed = true;
    }
    OutputDelta delta = choice.parser.push(update.text);
    if (completed) {
      OutputDelta rest = choice.parser.finish();
      delta.content += rest.content;
      delta.reasoning += rest.reasoning;
      delta.tool_calls.insert(delta.tool_calls.end(), rest.tool_calls.begin(), rest.tool_calls.end());
    }
    accumulate(choice, delta);
    if (finished) {
      choice.finish_reason = update.finish_reason;
      choice.matched_stop = std::move(update.matched_stop);
      choice.matched_stop_token = update.matched_stop_token;
      choice.error = std::move(update.error);
    }
    if (spec_.stream && !client_gone_) stream_update(choice, delta, logprobs, finished);
    if (finished && ++num_finished_ == choices_.size()) complete();
  }

  static void accumulate(Choice& choice, const OutputDelta& delta) {
    choice.content += delta.content;
    choice.reasoning += delta.reasoning;
    for (const ToolCallDelta& call : delta.tool_calls) {
      if (call.index >= static_cast<int>(choice.tool_calls.size())) {
        choice.tool_calls.push_back(
            {{"id", call.id}, {"type", "function"}, {"function", {{"name", call.name}, {"arguments", ""}}}});
      }
      std::string& arguments = choice.tool_calls[static_cast<size_t>(call.index)]["function"]["arguments"].get_ref<std::string&>();
      arguments += call.arguments;
    }
  }

  std::string finish_reason_text(const Choice& choice) const {
    if (choice.finish_reason == FinishReason::kStop && choice.parser.has_tool_calls()) return "tool_calls";
    return std::string(finish_reason_name(choice.finish_reason));
  }

  json matched_stop(const Choice& choice) const {
    if (!choice.matched_stop.empty()) return choice.matched_stop;
    if (choice.matched_stop_token) return *choice.matched_stop_token;
    return nullptr;
  }

  void send_event(const json& event) { exchange_->send("data: " + dump(event) + "\n\n"); }

  json chunk_head(const char* object) const {
    json chunk = {{"id", id_}, {"object", object}, {"created", created_}, {"model", context_.model_name}};
    if (spec_.include_usage) chunk["usage"] = nullptr;
    return chunk;
  }

  std::string prompt_text(size_t prompt_index) const {
    return context_.tokenizer.decode(prompts_[prompt_index].ids, spec_.skip_special_tokens);
  }

  // The stream's first chunk of an echo choice: the prompt text, and with logprobs the prompt's (complete once
  // the choice's first token exists).
  void echo_prompt(Choice& choice) {
    choice.echoed = true;
    json chunk = chunk_head("text_completion");
    chunk["choices"] = json::array({{{"index", choice.index}, {"text", prompt_text(choice.prompt_index)},
                                     {"logprobs", choice.logprobs}, {"finish_reason", nullptr}}});
    send_event(chunk);
  }

  void stream_update(Choice& choice, const OutputDelta& delta, const json& logprobs, bool finished) {
    if (finished && (choice.finish_reason == FinishReason::kError || choice.finish_reason == FinishReason::kAbort)) return;
    if (spec_.kind == ApiKind::kChat) {
      if (!choice.started) {
        choice.started = true;
        json first = chunk_head("chat.completion.chunk");
        first["choices"] = json::array({{{"index", choice.index},
                                         {"delta", {{"role", "assistant"}, {"content", ""}}},
                                         {"logprobs", nullptr},
                                         {"finish_reason", nullptr}}});
        send_event(first);
      }
      json message = json::object();
      if (!delta.reasoning.empty()) message["reasoning_content"] = delta.reasoning;
      if (!delta.content.empty()) message["content"] = delta.content;
      if (!delta.tool_calls.empty()) {
        json calls = json::array();
        for (const ToolCallDelta& call : delta.tool_calls) {
          json entry = {{"index", call.index}, {"function", {{"arguments", call.arguments}}}};
          if (!call.id.empty()) {
            entry["id"] = call.id;
            entry["type"] = "function";
            entry["function"]["name"] = call.name;
          }
          calls.push_back(entry);
        }
        message["tool_calls"] = calls;
      }
      const bool has_logprobs = !logprobs.is_null() && !logprobs["content"].empty();
      if (!message.empty() || has_logprobs) {
        json chunk = chunk_head("chat.completion.chunk");
        chunk["choices"] = json::array({{{"index", choice.index}, {"delta", message},
                                         {"logprobs", has_logprobs ? logprobs : json(nullptr)}, {"finish_reason", nullptr}}});
        send_event(chunk);
      }
      if (finished) {
        json chunk = chunk_head("chat.completion.chunk");
        chunk["choices"] = json::array({{{"index", choice.index}, {"delta", json::object()}, {"logprobs", nullptr},
                                         {"finish_reason", finish_reason_text(choice)}, {"matched_stop", matched_stop(choice)}}});
        send_event(chunk);
      }
    } else if (spec_.kind == ApiKind::kCompletion) {
      if (delta.content.empty() && logprobs.is_null() && !finished) return;
      json chunk = chunk_head("text_completion");
      chunk["choices"] = json::array({{{"index", choice.index}, {"text", delta.content}, {"logprobs", logprobs},
                                       {"finish_reason", finished ? json(finish_reason_text(choice)) : json(nullptr)}}});
      if (finished) chunk["choices"][0]["matched_stop"] = matched_stop(choice);
      send_event(chunk);
    } else {
      json event = generate_result(choice, finished);
      event["index"] = choice.index;
      send_event(event);
    }
  }

  // /generate's shape (SGLang): cumulative text and ids, and meta_info.
  json generate_result(const Choice& choice, bool finished) const {
    json finish = nullptr;
    if (finished) {
      if (choice.finish_reason == FinishReason::kLength) {
        finish = {{"type", "length"}, {"length", choice.completion_tokens}};
      } else {
        finish = {{"type", finish_reason_name(choice.finish_reason)}, {"matched", matched_stop(choice)}};
      }
    }
    json meta = {{"id", id_},
                 {"finish_reason", finish},
                 {"prompt_tokens", choice.prompt_tokens},
                 {"completion_tokens", choice.completion_tokens},
                 {"cached_tokens", choice.cached_tokens}};
    if (!choice.logprobs.is_null()) {
      meta["output_token_logprobs"] = choice.logprobs["output_token_logprobs"];
      meta["output_top_logprobs"] = choice.logprobs["output_top_logprobs"];
    }
    if (spec_.input_logprobs_start >= 0) add_input_logprobs(choice, meta);
    return {{"text", choice.content}, {"output_ids", choice.output_ids}, {"meta_info", meta}};
  }

  // SGLang's input_token_logprobs / input_top_logprobs from logprob_start_len: [logprob, id, null] per prompt
  // position; position 0 has no logprob (nothing precedes it).
  void add_input_logprobs(const Choice& choice, json& meta) const {
    const std::vector<int32_t>& ids = prompts_[choice.prompt_index].ids;
    json tokens = json::array(), tops = json::array();
    for (size_t position = static_cast<size_t>(spec_.input_logprobs_start);
         position < ids.size() && position <= choice.prompt_logprobs.size(); ++position) {
      if (position == 0) {
        tokens.push_back(json::array({nullptr, ids[0], nullptr}));
        tops.push_back(nullptr);
        continue;
      }
      const GeneratedToken& token = choice.prompt_logprobs[position - 1];
      tokens.push_back(json::array({token.logprob, token.token_id, nullptr}));
      json top = json::array();
      for (const TokenLogprob& alternative : token.top_logprobs)
        top.push_back(json::array({alternative.logprob, alternative.token_id, nullptr}));
      tops.push_back(top);
    }
    meta["input_token_logprobs"] = tokens;
    meta["input_top_logprobs"] = tops;
  }

  json usage() const {
    int prompt_tokens = 0;
    int completion_tokens = 0;
    int cached_tokens = 0;
    for (size_t prompt = 0; prompt < prompts_.size(); ++prompt) {
      prompt_tokens += static_cast<int>(prompts_[prompt].ids.size());
      int cached = 0;
      for (const Choice& choice : choices_)
        if (choice.prompt_index == prompt) cached = std::max(cached, choice.cached_tokens);
      cached_tokens += cached;
    }
    for (const Choice& choice : choices_) completion_tokens += choice.completion_tokens;
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
  }

  // The first failure among the choices, as (status, message); status 0 when none failed.
  std::pair<unsigned, std::string> failure() const {
    for (const Choice& choice : choices_) {
      if (choice.finish_reason == FinishReason::kError) return {500, choice.error};
    }
    for (const Choice& choice : choices_) {
      if (choice.finish_reason == FinishReason::kAbort)
        return {503, choice.error.empty() ? "the request was aborted" : choice.error};
    }
    return {0, {}};
  }

  void complete() {
    if (client_gone_) return;
    const auto [status, message] = failure();
    if (spec_.stream) {
      context_.http_metrics.open_streams.fetch_sub(1);
      if (status != 0) {
        // After a 200 the failure can only be an event; no [DONE], so that clients see the stream was cut.
        send_event(json::parse(error_body(status, message)));
      } else {
        if (spec_.include_usage && spec_.kind != ApiKind::kGenerate) {
          json chunk = chunk_head(spec_.kind == ApiKind::kChat ? "chat.completion.chunk" : "text_completion");
          chunk["choices"] = json::array();
          chunk["usage"] = usage();
          send_event(chunk);
        }
        exchange_->send("data: [DONE]\n\n");
      }
      exchange_->end_stream();
      return;
    }
    if (status != 0) {
      exchange_->respond(status, "application/json", error_body(status, message));
      return;
    }
    exchange_->respond(200, "application/json", dump(response_document()));
  }

  json response_document() const {
    if (spec_.kind == ApiKind::kGenerate) {
      if (choices_.size() == 1) return generate_result(choices_[0], true);
      json results = json::array();
      for (const Choice& choice : choices_) results.push_back(generate_result(choice, true));
      return results;
    }
    json choices = json::array();
    for (const Choice& choice : choices_) {
      if (spec_.kind == ApiKind::kChat) {
        json message = {{"role", "assistant"}, {"content", choice.content}};
        if (!choice.reasoning.empty() || (context_.reasoning_parser && spec_.separate_reasoning))
          message["reasoning_content"] = choice.reasoning.empty() ? json(nullptr) : json(choice.reasoning);
        if (!choice.tool_calls.empty()) {
          message["tool_calls"] = choice.tool_calls;
          if (choice.content.empty()) message["content"] = nullptr;
        }
        choices.push_back({{"index", choice.index}, {"message", message}, {"logprobs", choice.logprobs},
                           {"finish_reason", finish_reason_text(choice)}, {"matched_stop", matched_stop(choice)}});
      } else {
        const std::string text = spec_.echo ? prompt_text(choice.prompt_index) + choice.content : choice.content;
        choices.push_back({{"index", choice.index}, {"text", text}, {"logprobs", choice.logprobs},
                           {"finish_reason", finish_reason_text(choice)}, {"matched_stop", matched_stop(choice)}});
      }
    }
    return {{"id", id_},
            {"object", spec_.kind == ApiKind::kChat ? "chat.completion" : "text_completion"},
            {"created", created_},
            {"model", context_.model_name},
            {"choices", choices},
            {"usage", usage()}};
  }

  void client_gone() {
    if (client_gone_ || num_finished_ == choices_.size()) return;
    client_gone_ = true;
    context_.http_metrics.client_disconnects.fetch_add(1);
    if (spec_.stream) context_.http_metrics.open_streams.fetch_sub(1);
    for (const Choice& choice : choices_) {
      if (choice.finish_reason == FinishReason::kNone) context_.engine.abort(choice.engine_id);
    }
  }

  std::shared_ptr<HttpExchange> exchange_;
  SessionContext context_;
  GenerationSpec spec_;
  std::vector<PreparedPrompt> prompts_;
  Clock::time_point arrival_;
  std::string id_;
  int64_t created_;
  std::vector<Choice> choices_;
  size_t num_finished_ = 0;
  bool client_gone_ = false;
};

}  // namespace

void start_generation_session(const std::shared_ptr<HttpExchange>& exchange, const SessionContext& context,
                              GenerationSpec spec, std::vector<PreparedPrompt> prompts, Clock::time_point arrival) {
  auto session = std::make_shared<Session>(exchange, context, std::move(spec), std::move(prompts), arrival);
  session->start();
}

}  // namespace dsinfer::server
