// The OpenAI-compatible (and SGLang-native) API over the engine: routes, authentication, request
// validation, prompt building, and graceful shutdown. Routes:
//   POST /v1/chat/completions, /v1/completions, /generate   generation (JSON or server-sent events)
//   GET  /v1/models, /v1/models/{id}, /get_model_info, /get_server_info
//   POST /v1/tokenize, /v1/detokenize
//   GET  /health (no API key), /health_generate, /metrics;  GET|POST /flush_cache
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "engine/engine.h"
#include "engine/sampling_params.h"
#include "model/config.h"
#include "server/generation_session.h"
#include "server/http_server.h"
#include "server/prometheus.h"
#include "server/server_options.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace dsinfer::server {

class ApiServer {
 public:
  // Loads the tokenizer, chat template and generation defaults from options.model_path and starts the
  // engine on `model`. Throws dsinfer::Error naming the file or option when something is wrong.
  ApiServer(ServerOptions options, const ModelConfig& config, std::unique_ptr<ModelBackend> model);
  ~ApiServer();

  // Listens on options.host:port and serves; returns the bound port.
  int start();
  // Blocks until SIGTERM or SIGINT, then shuts down: stops accepting, lets in-flight requests finish for up
  // to options.shutdown_timeout_seconds (a second signal cuts this short), aborts the rest, stops; returns 0.
  // If the engine turns unhealthy first (a broken device), shuts down at once and returns 1, so that a
  // supervisor restarts the server. A hung step (--watchdog-timeout) ends the process with status 1 at once.
  int run_until_signal();
  // The same shutdown, callable from any thread.
  void shutdown(std::chrono::duration<double> drain_timeout);

  int64_t context_length() const { return context_length_; }

 private:
  void handle(const std::shared_ptr<HttpExchange>& exchange);
  void route(const std::shared_ptr<HttpExchange>& exchange);
  void handle_generation(const std::shared_ptr<HttpExchange>& exchange, ApiKind kind);
  // Tokenized prompts with their max_new_tokens; sets spec.assistant_prefix (a forced tool call).
  std::vector<PreparedPrompt> prepare_prompts(GenerationSpec& spec) const;
  std::vector<int32_t> checked_token_ids(const std::vector<int64_t>& ids, const std::string& param) const;
  int max_new_tokens_for(const GenerationSpec& spec, size_t prompt_tokens) const;
  void check_model_name(const std::string& model) const;
  bool authorized(const HttpRequest& request) const;
  void respond_json(const std::shared_ptr<HttpExchange>& exchange, unsigned status, const std::string& body,
                    HttpHeaders headers = {});
  void health_generate(const std::shared_ptr<HttpExchange>& exchange);
  void flush_cache(const std::shared_ptr<HttpExchange>& exchange);

  ServerOptions options_;
  ModelConfig config_;
  int64_t context_length_;
  text::Tokenizer tokenizer_;
  text::ChatTemplate chat_template_;
  GenerationDefaults defaults_;
  HttpMetrics http_metrics_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<UpdateRelay> relay_;  // engine updates -> I/O threads (uses http_'s io_context)
  std::atomic<bool> draining_{false};
  std::atomic<bool> shut_down_{false};
  // What run_until_signal waits for.
  std::mutex wait_mutex_;
  std::condition_variable waiting_;
  int signals_ = 0;
  bool engine_failed_ = false;
};

}  // namespace dsinfer::server
