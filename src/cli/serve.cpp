// dsinfer serve: the OpenAI-compatible HTTP server (flags named as SGLang's launch_server).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "server/api_server.h"
#include "server/model_loading.h"

namespace dsinfer::cli {

int run_serve(int argc, char** argv) {
  server::ServerOptions options;
  std::string device = "cpu";
  double cpu_budget_gb = static_cast<double>(options.cpu_memory_budget_bytes) / (1 << 30);
  CLI::App app{"dsinfer serve: OpenAI-compatible server (/v1/chat/completions, /v1/completions, /generate, ...)"};
  app.add_option("--model-path,--model", options.model_path,
                 "Hugging Face model folder (default: the embedded tiny DeepSeek-V3 model)");
  app.add_option("--served-model-name", options.served_model_name, "model name in the API (default: the model path)");
  app.add_option("--chat-template", options.chat_template_path, "Jinja chat template file (default: tokenizer_config.json's)");
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--tp-size,--tp", options.tp_size, "tensor-parallel size (1)");
  app.add_option("--context-length", options.context_length, "context length (default: the model's max_position_embeddings)");
  app.add_option("--reasoning-parser", options.reasoning_parser, "deepseek-r1: return R1's thinking as reasoning_content");
  app.add_option("--tool-call-parser", options.tool_call_parser, "deepseekv3: return tool calls as tool_calls");
  app.add_option("--quantization", options.quantization, "not needed: checkpoints are served as stored");
  app.add_option("--mem-fraction-static", options.mem_fraction_static,
                 "share of the memory budget for weights + KV cache (cpu: of --cpu-memory-budget-gb; cuda: of free GPU memory)");
  app.add_option("--cpu-memory-budget-gb", cpu_budget_gb, "memory budget on --device cpu, GiB (2)");
  app.add_option("--page-size", options.page_size, "tokens per KV-cache page (64)");
  app.add_option("--chunked-prefill-size", options.chunked_prefill_size, "prompt tokens per step (8192; -1: no chunking)");
  app.add_option("--max-running-requests", options.max_running_requests, "requests in the running batch at once (256)");
  app.add_option("--max-batch-tokens", options.max_batch_tokens, "tokens in one forward (8192)");
  app.add_flag("--disable-radix-cache", options.disable_radix_cache, "no prefix sharing between requests");
  app.add_option("--cuda-graph-max-bs", options.cuda_graph_max_batch_size,
                 "--device cuda: decode batches up to this size replay CUDA graphs (160)");
  app.add_flag("--disable-cuda-graph", options.disable_cuda_graph, "--device cuda: run every decode step eagerly");
  app.add_option("--host", options.host, "address to listen on (127.0.0.1)");
  app.add_option("--port", options.port, "port (30000; 0: any free port)");
  app.add_option("--api-key", options.api_key, "require \"Authorization: Bearer KEY\" on every route but /health");
  app.add_option("--io-threads", options.io_threads, "HTTP I/O threads (2)");
  app.add_option("--threads", options.cpu_threads, "CPU compute threads (default: all cores)");
  app.add_option("--max-request-bytes", options.max_request_bytes, "largest request body accepted (8 MiB)");
  app.add_option("--max-queued-requests", options.max_queued_requests, "queued requests beyond which new ones get 503 (4096)");
  app.add_option("--shutdown-timeout", options.shutdown_timeout_seconds, "seconds SIGTERM waits for requests in flight (30)");
  app.add_option("--watchdog-timeout", options.watchdog_timeout_seconds,
                 "seconds a model step may take before the server exits with status 1 as hung (300; 0: never)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  options.device = device == "cuda" ? Device::kCuda : Device::kCpu;
  options.cpu_memory_budget_bytes = static_cast<int64_t>(cpu_budget_gb * (1 << 30));
  const bool default_model = options.model_path.empty();
  options.model_path = server::resolve_model_dir(options.model_path, DSINFER_DEFAULT_MODEL_DIR);
  if (default_model && options.served_model_name.empty()) options.served_model_name = "dsv3-tiny-fullvocab";

  server::LoadedModel model = server::load_model(options);
  const ModelConfig config = model.config;
  const int64_t kv_tokens = static_cast<int64_t>(model.backend->num_kv_pages()) * model.backend->page_size();
  server::ApiServer api(options, config, std::move(model.backend));
  const int port = api.start();
  std::fprintf(stderr, "dsinfer serve: %s on http://%s:%d (context %lld tokens, KV cache %lld tokens)\n",
               options.model_path.c_str(), options.host.c_str(), port, static_cast<long long>(api.context_length()),
               static_cast<long long>(kv_tokens));
  std::fflush(stderr);
  return api.run_until_signal();
}

}  // namespace dsinfer::cli
