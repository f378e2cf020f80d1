// One generation request over HTTP (chat, completions or /generate): submits its n x prompts engine
// requests, turns their updates into the API's response (server-sent event chunks as they come, or one
// JSON document at the end), and aborts them if the client goes away. Lives on the connection's strand:
// the engine thread only posts updates to it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/http_server.h"
#include "server/openai_request.h"
#include "server/prometheus.h"
#include "server/update_relay.h"
#include "text/tokenizer.h"

namespace dsinfer::server {

struct SessionContext {
  Engine& engine;
  const text::Tokenizer& tokenizer;
  HttpMetrics& http_metrics;
  UpdateRelay& relay;
  std::string model_name;
  bool reasoning_parser = false;  // --reasoning-parser deepseek-r1
  bool tool_call_parser = false;  // --tool-call-parser deepseekv3
};

struct PreparedPrompt {
  std::vector<int32_t> ids;
  int max_new_tokens = 0;
};

// Starts the session; it keeps itself alive until the response is complete.
void start_generation_session(const std::shared_ptr<HttpExchange>& exchange, const SessionContext& context,
                              GenerationSpec spec, std::vector<PreparedPrompt> prompts, Clock::time_point arrival);

}  // namespace dsinfer::server
