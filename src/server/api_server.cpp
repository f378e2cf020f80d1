#include "server/api_server.h"

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <limits>
#include <mutex>
#include <thread>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "server/api_error.h"
#include "server/openai_request.h"
#include "server/tool_choice.h"

namespace dsinfer::server {
namespace {

using nlohmann::json;

constexpr std::chrono::seconds kHealthGenerateTimeout{20};

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::vector<int32_t> eos_ids(const ModelConfig& config, const GenerationDefaults& defaults) {
  std::vector<int32_t> ids = defaults.eos_token_ids;
  if (config.eos_token_id >= 0 &&
      std::find(ids.begin(), ids.end(), static_cast<int32_t>(config.eos_token_id)) == ids.end())
    ids.push_back(static_cast<int32_t>(config.eos_token_id));
  return ids;
}

// Compares in time that depends only on the length of the supplied key, never on where it differs.
bool constant_time_equals(std::string_view supplied, std::string_view expected) {
  unsigned char difference = supplied.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < supplied.size(); ++i) {
    difference |= static_cast<unsigned char>(supplied[i] ^ expected[i % expected.size()]);
  }
  return difference == 0;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

text::ChatTemplate load_chat_template(const ServerOptions& options) {
  if (!options.chat_template_path.empty()) return text::ChatTemplate::from_file(options.chat_template_path, options.model_path);
  return text::ChatTemplate::from_tokenizer_config(options.model_path);
}

}  // namespace

ApiServer::ApiServer(ServerOptions options, const ModelConfig& config, std::unique_ptr<ModelBackend> model)
    : options_(std::move(options)),
      config_(config),
      context_length_(options_.context_length > 0 ? options_.context_length : config.max_position_embeddings),
      tokenizer_(text::Tokenizer::load(options_.model_path)),
      chat_template_(load_chat_template(options_)),
      defaults_(load_generation_defaults(options_.model_path)) {
  DSINFER_CHECK(options_.context_length <= config.max_position_embeddings, "--context-length ", options_.context_length,
                " exceeds the model's max_position_embeddings (", config.max_position_embeddings, ")");
  DSINFER_CHECK(context_length_ >= 2, "the context length must be at least 2 tokens, got ", context_length_);
  DSINFER_CHECK(options_.reasoning_parser.empty() || options_.reasoning_parser == "deepseek-r1",
                "--reasoning-parser: unknown parser \"", options_.reasoning_parser, "\" (supported: deepseek-r1)");
  DSINFER_CHECK(options_.tool_call_parser.empty() || options_.tool_call_parser == "deepseekv3",
                "--tool-call-parser: unknown parser \"", options_.tool_call_parser, "\" (supported: deepseekv3)");
  if (options_.served_model_name.empty()) options_.served_model_name = options_.model_path;
  SchedulerOptions scheduler;
  scheduler.max_running_requests = options_.max_running_requests;
  scheduler.chunked_prefill_size = options_.chunked_prefill_size;
  scheduler.enable_radix_cache = !options_.disable_radix_cache;
  scheduler.eos_token_ids = eos_ids(config_, defaults_);
  EngineOptions engine_options;
  engine_options.watchdog_timeout_seconds = options_.watchdog_timeout_seconds;
  engine_options.on_failure = [this](const std::string&) {
    {
      std::lock_guard lock(wait_mutex_);
      engine_failed_ = true;
    }
    waiting_.notify_all();
  };
  engine_options.on_hung_step = [](const std::string& why) {
    // The engine thread is stuck in the device and can not be joined: end the process now (as SGLang's watchdog
    // does) so that a supervisor restarts the server.
    std::fprintf(stderr, "dsinfer serve: %s; exiting\n", why.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  };
  engine_ = std::make_unique<Engine>(std::move(model), scheduler, std::move(engine_options));
  HttpLimits limits;
  limits.max_body_bytes = static_cast<size_t>(options_.max_request_bytes);
  http_ = std::make_unique<HttpServer>([this](const std::shared_ptr<HttpExchange>& exchange) { handle(exchange); }, limits,
                                       options_.io_threads);
  relay_ = std::make_unique<UpdateRelay>(http_->io_context());
}

ApiServer::~ApiServer() { shutdown(std::chrono::seconds(0)); }

int ApiServer::start() {
  const int port = http_->listen(options_.host, options_.port);
  http_->start();
  return port;
}

int ApiServer::run_until_signal() {
  boost::asio::signal_set signal_set(http_->io_context(), SIGINT, SIGTERM);
  std::function<void()> arm = [&] {
    signal_set.async_wait([&](const boost::system::error_code& error, int) {
      if (error) return;
      {
        std::lock_guard lock(wait_mutex_);
        ++signals_;
      }
      waiting_.notify_all();
      arm();
    });
  };
  arm();
  bool engine_failed = false;
  {
    std::unique_lock lock(wait_mutex_);
    waiting_.wait(lock, [&] { return signals_ > 0 || engine_failed_; });
    engine_failed = engine_failed_;
  }
  if (engine_failed) {
    std::fprintf(stderr, "dsinfer serve: the engine failed (see above); shutting down\n");
    signal_set.cancel();
    shutdown(std::chrono::seconds(0));
    return 1;
  }
  std::fprintf(stderr, "dsinfer serve: shutting down; waiting up to %.0f s for %lld request(s) in flight\n",
               options_.shutdown_timeout_seconds, static_cast<long long>(http_->active_exchanges()));
  draining_.store(true);
  http_->stop_accepting();
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(options_.shutdown_timeout_seconds));
  for (;;) {
    {
      std::unique_lock lock(wait_mutex_);
      if (waiting_.wait_for(lock, std::chrono::milliseconds(50), [&] { return signals_ > 1; })) {
        std::fprintf(stderr, "dsinfer serve: second signal, stopping now\n");
        break;
      }
    }
    if (http_->active_exchanges() == 0 || Clock::now() >= deadline) break;
  }
  signal_set.cancel();
  shutdown(std::chrono::seconds(0));  // drained above; abort what is left
  return 0;
}

void ApiServer::shutdown(std::chrono::duration<double> drain_timeout) {
  if (shut_down_.exchange(true)) return;
  draining_.store(true);
  http_->stop_accepting();
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(drain_timeout);
  while (http_->active_exchanges() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  engine_->stop();  // whatever is left is aborted: its responses end with an error
  const auto flush_deadline = Clock::now() + std::chrono::seconds(2);
  while (http_->active_exchanges() > 0 && Clock::now() < flush_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  http_->stop();
}

void ApiServer::respond_json(const std::shared_ptr<HttpExchange>& exchange, unsigned status, const std::string& body,
                             HttpHeaders headers) {
  if (status >= 500) {
    http_metrics_.server_errors.fetch_add(1);
  } else if (status >= 400) {
    http_metrics_.client_errors.fetch_add(1);
  }
  exchange->respond(status, "application/json", body, std::move(headers));
}

bool ApiServer::authorized(const HttpRequest& request) const {
  if (options_.api_key.empty()) return true;
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view header = request.authorization;
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) return false;
  return constant_time_equals(header.substr(kBearer.size()), options_.api_key);
}

void ApiServer::handle(const std::shared_ptr<HttpExchange>& exchange) {
  http_metrics_.requests.fetch_add(1);
  try {
    route(exchange);
  } catch (const ApiError& error) {
    HttpHeaders headers;
    if (error.status() == 401) headers.push_back({"WWW-Authenticate", "Bearer"});
    if (error.status() == 503) headers.push_back({"Retry-After", "1"});
    respond_json(exchange, error.status(), error.body(), std::move(headers));
  } catch (const Error& error) {
    // Errors from the tokenizer or chat template on request content are the request's fault.
    respond_json(exchange, 400, error_body(400, error.what(), "", "invalid_value"));
  } catch (const std::exception& error) {
    respond_json(exchange, 500, error_body(500, std::string("internal error: ") + error.what()));
  }
}

void ApiServer::route(const std::shared_ptr<HttpExchange>& exchange) {
  const HttpRequest& request = exchange->request();
  const std::string& path = request.path;
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  auto require = [&](bool allowed) {
    if (!allowed) throw ApiError(405, "method " + request.method + " is not allowed on " + path, "", "method_not_allowed");
  };

  if (path == "/health") {
    require(get || request.method == "HEAD");
    if (draining_.load() || !engine_->healthy()) throw ApiError(503, "the server is shutting down or unhealthy");
    return exchange->respond(200, "text/plain", "");
  }
  if (!authorized(request)) {
    throw ApiError(401, "missing or invalid API key: send \"Authorization: Bearer <key>\"", "", "invalid_api_key");
  }
  if (path == "/v1/chat/completions") return require(post), handle_generation(exchange, ApiKind::kChat);
  if (path == "/v1/completions") return require(post), handle_generation(exchange, ApiKind::kCompletion);
  if (path == "/generate") return require(post), handle_generation(exchange, ApiKind::kGenerate);
  if (path == "/metrics") {
    require(get);
    return exchange->respond(200, "text/plain; version=0.0.4",
                             render_prometheus(engine_->metrics(), http_metrics_, options_.served_model_name));
  }
  const json model_card = {{"id", options_.served_model_name}, {"object", "model"}, {"created", unix_seconds()},
                           {"owned_by", "dsinfer"}, {"root", options_.model_path}, {"max_model_len", context_length_}};
  if (path == "/v1/models") {
    require(get);
    return respond_json(exchange, 200, dump({{"object", "list"}, {"data", json::array({model_card})}}));
  }
  if (path.rfind("/v1/models/", 0) == 0) {
    require(get);
    check_model_name(path.substr(std::string_view("/v1/models/").size()));
    return respond_json(exchange, 200, dump(model_card));
  }
  if (path == "/get_model_info") {
    require(get);
    return respond_json(exchange, 200,
                        dump({{"model_path", options_.model_path}, {"tokenizer_path", options_.model_path},
                              {"is_generation", true}, {"preferred_sampling_params", nullptr},
                              {"weight_version", "default"}, {"served_model_name", options_.served_model_name},
                              {"max_context_length", context_length_}}));
  }
  if (path == "/get_server_info") {
    require(get);
    return respond_json(exchange, 200,
                        dump({{"model_path", options_.model_path}, {"served_model_name", options_.served_model_name},
                              {"context_length", context_length_}, {"page_size", engine_->page_size()},
                              {"kv_cache_tokens", engine_->kv_capacity_tokens()},
                              {"max_running_requests", options_.max_running_requests},
                              {"chunked_prefill_size", options_.chunked_prefill_size},
                              {"disable_radix_cache", options_.disable_radix_cache},
                              {"reasoning_parser", options_.reasoning_parser},
                              {"tool_call_parser", options_.tool_call_parser}}));
  }
  if (path == "/flush_cache") return require(get || post), flush_cache(exchange);
  if (path == "/health_generate") return require(get), health_generate(exchange);
  if (path == "/v1/tokenize" || path == "/v1/detokenize") {
    require(post);
    if (!is_json_content_type(request.content_type))
      throw ApiError(415, "Content-Type must be application/json, got \"" + request.content_type + "\"", "", "unsupported_media_type");
    const json body = parse_json_body(request.body);
    if (path == "/v1/detokenize") {
      if (!body.contains("tokens") || !body["tokens"].is_array()) throw bad_request("'tokens' must be a list of token ids", "tokens");
      std::vector<int64_t> ids;
      for (const json& id : body["tokens"]) {
        if (!id.is_number_integer()) throw bad_request("'tokens' must contain only integer token ids", "tokens");
        ids.push_back(id.get<int64_t>());
      }
      const std::vector<int32_t> tokens = checked_token_ids(ids, "tokens");
      return respond_json(exchange, 200, dump({{"text", tokenizer_.decode(tokens, false)}}));
    }
    std::vector<int32_t> tokens;
    if (body.contains("messages")) {
      GenerationSpec spec = parse_chat_request(body, defaults_);
      tokens = text::build_chat_prompt(chat_template_, tokenizer_, spec.messages, spec.tools,
                                       body.value("add_generation_prompt", true), spec.chat_template_kwargs)
                   .ids;
    } else {
      if (!body.contains("prompt") || !body["prompt"].is_string()) throw bad_request("'prompt' must be a string", "prompt");
      tokens = tokenizer_.encode(body["prompt"].get<std::string>());
      const bool add_special = body.value("add_special_tokens", true);
      if (add_special && tokenizer_.add_bos() && tokenizer_.bos_id() >= 0) tokens.insert(tokens.begin(), tokenizer_.bos_id());
    }
    return respond_json(exchange, 200,
                        dump({{"tokens", tokens}, {"count", tokens.size()}, {"max_model_len", context_length_}}));
  }
  throw ApiError(404, "no route for " + request.method + " " + path, "", "not_found");
}

void ApiServer::check_model_name(const std::string& model) const {
  if (!model.empty() && model != options_.served_model_name) {
    throw ApiError(404, "the model \"" + model + "\" does not exist; this server serves \"" + options_.served_model_name + "\"",
                   "model", "model_not_found");
  }
}

std::vector<int32_t> ApiServer::checked_token_ids(const std::vector<int64_t>& ids, const std::string& param) const {
  std::vector<int32_t> tokens;
  tokens.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= config_.vocab_size) {
      throw bad_request("token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) + " of '" + param +
                            "' is outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")",
                        param);
    }
    tokens.push_back(static_cast<int32_t>(ids[i]));
  }
  return tokens;
}

int ApiServer::max_new_tokens_for(const GenerationSpec& spec, size_t prompt_tokens) const {
  const int64_t prompt = static_cast<int64_t>(prompt_tokens);
  const int64_t room = context_length_ - prompt;
  if (room < 1) {
    throw bad_request("this model's maximum context length is " + std::to_string(context_length_) +
                          " tokens, but the prompt has " + std::to_string(prompt) +
                          " tokens, which leaves no room for the completion; shorten the prompt",
                      "messages", "context_length_exceeded");
  }
  int64_t max_new = room;
  if (spec.max_tokens) {
    if (*spec.max_tokens > room) {
      throw bad_request("this model's maximum context length is " + std::to_string(context_length_) +
                            " tokens, but you requested " + std::to_string(prompt + *spec.max_tokens) + " tokens (" +
                            std::to_string(prompt) + " in the prompt, " + std::to_string(*spec.max_tokens) +
                            " for the completion); reduce the prompt or max_tokens",
                        "max_tokens", "context_length_exceeded");
    }
    max_new = *spec.max_tokens;
  }
  // The KV cache must hold prompt + max_new - 1 tokens (the last token needs no KV).
  const int64_t kv_tokens = engine_->kv_capacity_tokens();
  if (prompt + max_new - 1 > kv_tokens) {
    if (spec.max_tokens || prompt > kv_tokens) {
      throw bad_request("the KV cache holds " + std::to_string(kv_tokens) + " tokens, but this request may need " +
                            std::to_string(prompt + max_new - 1) + " (" + std::to_string(prompt) + " prompt + " +
                            std::to_string(max_new) + " max_tokens - 1); reduce max_tokens or the prompt, or start the "
                            "server with more KV memory (--mem-fraction-static)",
                        spec.max_tokens ? "max_tokens" : "messages", "context_length_exceeded");
    }
    max_new = kv_tokens - prompt + 1;
  }
  max_new = std::min<int64_t>(max_new, std::numeric_limits<int32_t>::max());
  if (spec.params.min_new_tokens > max_new) {
    throw bad_request("min_tokens (" + std::to_string(spec.params.min_new_tokens) + ") exceeds the " +
                          std::to_string(max_new) + " tokens this request can generate",
                      "min_tokens");
  }
  return static_cast<int>(max_new);
}

std::vector<PreparedPrompt> ApiServer::prepare_prompts(GenerationSpec& spec) const {
  std::vector<PreparedPrompt> prompts;
  if (spec.kind == ApiKind::kChat) {
    if (spec.tools.is_array() && spec.tool_choice != "none" && options_.tool_call_parser.empty()) {
      // Without a parser, tool calls would come back as raw text: say so instead.
      throw bad_request("this server parses no tool calls; start it with --tool-call-parser deepseekv3", "tools");
    }
    // tool_choice "none" leaves the tools out of the prompt (as vLLM and SGLang do).
    const json tools = spec.tool_choice == "none" ? json(nullptr) : spec.tools;
    std::vector<text::PromptSegment> segments =
        chat_template_.render_segments(spec.messages, tools, /*add_generation_prompt=*/true, spec.chat_template_kwargs);
    spec.assistant_prefix.clear();
    for (text::PromptSegment& segment : forced_tool_call_prefix(spec)) {
      spec.assistant_prefix += segment.text;
      segments.push_back(std::move(segment));
    }
    PreparedPrompt prompt;
    prompt.ids = tokenizer_.encode_segments(segments);
    prompts.push_back(std::move(prompt));
  } else {
    const std::string param = spec.kind == ApiKind::kCompletion ? "prompt" : "text";
    for (const PromptInput& input : spec.prompts) {
      PreparedPrompt prompt;
      if (const auto* text = std::get_if<std::string>(&input)) {
        prompt.ids = tokenizer_.encode(*text);
        if (tokenizer_.add_bos() && tokenizer_.bos_id() >= 0 && (prompt.ids.empty() || prompt.ids[0] != tokenizer_.bos_id()))
          prompt.ids.insert(prompt.ids.begin(), tokenizer_.bos_id());
      } else {
        prompt.ids = checked_token_ids(std::get<std::vector<int64_t>>(input), spec.kind == ApiKind::kCompletion ? "prompt" : "input_ids");
      }
      prompts.push_back(std::move(prompt));
    }
  }
  for (PreparedPrompt& prompt : prompts) prompt.max_new_tokens = max_new_tokens_for(spec, prompt.ids.size());
  return prompts;
}

void ApiServer::handle_generation(const std::shared_ptr<HttpExchange>& exchange, ApiKind kind) {
  const Clock::time_point arrival = Clock::now();
  const HttpRequest& request = exchange->request();
  if (draining_.load()) throw ApiError(503, "the server is shutting down");
  if (!is_json_content_type(request.content_type)) {
    throw ApiError(415, "Content-Type must be application/json, got \"" + request.content_type + "\"", "",
                   "unsupported_media_type");
  }
  const json body = parse_json_body(request.body);
  GenerationSpec spec = kind == ApiKind::kChat         ? parse_chat_request(body, defaults_)
                        : kind == ApiKind::kCompletion ? parse_completion_request(body, defaults_)
                                                       : parse_generate_request(body, defaults_);
  if (kind != ApiKind::kGenerate) check_model_name(spec.model);
  if (auto problem = check_sampling_params(spec.params, config_.vocab_size)) throw bad_request(problem->message, problem->param);
  std::vector<PreparedPrompt> prompts = prepare_prompts(spec);
  if (engine_->metrics().queued_requests.load() >= options_.max_queued_requests)
    throw ApiError(503, "the server is overloaded (" + std::to_string(options_.max_queued_requests) + " requests queued); retry later");
  if (!engine_->healthy()) throw ApiError(503, "the engine failed and is not serving");
  const SessionContext context{*engine_, tokenizer_, http_metrics_, *relay_, options_.served_model_name,
                               !options_.reasoning_parser.empty(), !options_.tool_call_parser.empty()};
  start_generation_session(exchange, context, std::move(spec), std::move(prompts), arrival);
}

void ApiServer::health_generate(const std::shared_ptr<HttpExchange>& exchange) {
  if (draining_.load() || !engine_->healthy()) throw ApiError(503, "the server is shutting down or unhealthy");
  struct Probe {
    bool answered = false;
  };
  auto probe = std::make_shared<Probe>();
  auto answer = [this, exchange, probe](unsigned status, std::string message) {
    exchange->post([this, exchange, probe, status, message] {
      if (probe->answered) return;
      probe->answered = true;
      respond_json(exchange, status, status == 200 ? "{}" : error_body(status, message));
    });
  };
  GenerationRequest request;
  request.prompt = {tokenizer_.bos_id() >= 0 ? tokenizer_.bos_id() : 0};
  request.params.temperature = 0.0f;
  request.params.max_new_tokens = 1;
  request.on_update = [answer](GenerationUpdate&& update) {
    if (update.finish_reason == FinishReason::kNone) return;
    if (update.finish_reason == FinishReason::kLength || update.finish_reason == FinishReason::kStop) {
      answer(200, "");
    } else {
      answer(503, "health generation failed: " + update.error);
    }
  };
  const uint64_t id = engine_->submit(std::move(request));
  auto timer = std::make_shared<boost::asio::steady_timer>(http_->io_context(), kHealthGenerateTimeout);
  timer->async_wait([this, timer, answer, id](const boost::system::error_code& error) {
    if (error) return;
    engine_->abort(id);
    answer(503, "health generation took longer than " + std::to_string(kHealthGenerateTimeout.count()) + " s");
  });
}

void ApiServer::flush_cache(const std::shared_ptr<HttpExchange>& exchange) {
  engine_->flush_cache([this, exchange](bool flushed) {
    exchange->post([this, exchange, flushed] {
      if (flushed) {
        exchange->respond(200, "text/plain", "Cache flushed.\n");
      } else {
        respond_json(exchange, 400,
                     error_body(400, "the cache was not flushed: requests are queued or running; retry when idle", "",
                                "server_busy"));
      }
    });
  });
}

}  // namespace dsinfer::server
