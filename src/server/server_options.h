// Everything `dsinfer serve` can be told, with SGLang's flag names (see src/cli/serve.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace dsinfer::server {

struct ServerOptions {
  // Model.
  std::string model_path;          // --model-path / --model
  std::string served_model_name;   // --served-model-name (default: the model path as given)
  std::string chat_template_path;  // --chat-template FILE (default: tokenizer_config.json's template)
  Device device = Device::kCpu;    // --device cpu|cuda
  int tp_size = 1;                 // --tp-size
  std::string quantization;        // --quantization: SGLang's flag, accepted only to refuse any value (load_model)
  int cpu_threads = 0;             // --threads: CPU compute threads (0: all cores)
  int64_t context_length = 0;      // --context-length (0: the model's max_position_embeddings)
  std::string reasoning_parser;    // --reasoning-parser deepseek-r1
  std::string tool_call_parser;    // --tool-call-parser deepseekv3

  // Memory and scheduling.
  double mem_fraction_static = 0.88;  // --mem-fraction-static: share of the memory budget for weights + KV
  int64_t cpu_memory_budget_bytes = int64_t{2} << 30;  // --cpu-memory-budget-gb: the budget on --device cpu
  int page_size = 64;                 // --page-size
  int chunked_prefill_size = 8192;    // --chunked-prefill-size (-1: no chunking beyond the batch limit)
  int max_running_requests = 256;     // --max-running-requests
  int max_batch_tokens = 8192;        // --max-batch-tokens: tokens in one forward (the model's workspace)
  bool disable_radix_cache = false;   // --disable-radix-cache
  int cuda_graph_max_batch_size = 160;  // --cuda-graph-max-bs: decode batches up to this replay CUDA graphs
  bool disable_cuda_graph = false;      // --disable-cuda-graph: every decode step runs eagerly

  // HTTP.
  std::string host = "127.0.0.1";  // --host
  int port = 30000;                // --port
  std::string api_key;             // --api-key (empty: no authentication)
  int io_threads = 2;              // --io-threads
  int64_t max_request_bytes = 8 << 20;  // --max-request-bytes
  int max_queued_requests = 4096;  // --max-queued-requests: beyond this, 503 with Retry-After
  double shutdown_timeout_seconds = 30.0;  // --shutdown-timeout: SIGTERM waits this long for requests
  double watchdog_timeout_seconds = 300.0;  // --watchdog-timeout: a longer model step ends the process (0: off)
};

}  // namespace dsinfer::server
