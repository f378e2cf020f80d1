#include "server/model_loading.h"

#include <filesystem>

#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/model_runner_backend.h"
#include "io/checkpoint.h"
#ifdef DSINFER_WITH_CUDA
#include "kernels/runtime/device.h"
#endif

namespace dsinfer::server {
namespace {

int64_t memory_budget_for_kv(const ServerOptions& options, int64_t weight_bytes) {
  DSINFER_CHECK(options.mem_fraction_static > 0.0 && options.mem_fraction_static <= 1.0,
                "--mem-fraction-static must be in (0, 1], got ", options.mem_fraction_static);
  if (options.device == Device::kCpu) {
    const auto budget = static_cast<int64_t>(options.mem_fraction_static * static_cast<double>(options.cpu_memory_budget_bytes));
    DSINFER_CHECK(budget > weight_bytes, "the weights take ", weight_bytes >> 20, " MiB but --mem-fraction-static x ",
                  "--cpu-memory-budget-gb allows only ", budget >> 20, " MiB for weights and KV cache; raise either");
    return budget - weight_bytes;
  }
#ifdef DSINFER_WITH_CUDA
  // The device pool takes a share of free memory and must leave some to the CUDA runtime and cuBLASLt.
  DSINFER_CHECK(options.mem_fraction_static < 1.0, "--mem-fraction-static must be below 1 on --device cuda ",
                "(the CUDA runtime needs some free memory), got ", options.mem_fraction_static);
  cuda::DeviceOptions device_options;
  device_options.memory_fraction = options.mem_fraction_static;
  cuda::initialize(device_options);
  const auto pool = static_cast<int64_t>(cuda::device_pool().capacity());
  const int64_t workspace = std::max<int64_t>(pool / 10, int64_t{1} << 30);
  DSINFER_CHECK(pool > weight_bytes + workspace, "the weights take ", weight_bytes >> 20, " MiB but the device pool (",
                "--mem-fraction-static of free memory) has ", pool >> 20, " MiB, of which ", workspace >> 20,
                " MiB stay for activations; raise --mem-fraction-static or use more GPUs");
  return pool - weight_bytes - workspace;
#else
  fail("--device cuda: this dsinfer was built without CUDA (no nvcc was found when it was configured)");
#endif
}

}  // namespace

std::string resolve_model_dir(const std::string& given, const std::string& compiled_default) {
  if (!given.empty()) return given;
  // An installed binary's own copy first: the source tree it was built from may be gone or changed.
  std::vector<std::filesystem::path> candidates;
  std::error_code error;
  const std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) candidates.push_back(executable.parent_path().parent_path() / "share" / "dsinfer" / "dsv3-tiny-fullvocab");
  if (!compiled_default.empty()) candidates.emplace_back(compiled_default);
  std::string looked;
  for (const auto& candidate : candidates) {
    if (std::filesystem::exists(candidate / "config.json")) return candidate.string();
    looked += " " + candidate.string();
  }
  fail("no --model given and the embedded default model was not found (looked in:", looked, "); pass --model DIR");
}

LoadedModel load_model(const ServerOptions& options) {
  const std::string config_path = (std::filesystem::path(options.model_path) / "config.json").string();
  DSINFER_CHECK(std::filesystem::exists(config_path), "--model ", options.model_path,
                " has no config.json: is it a Hugging Face model folder?");
  LoadedModel loaded;
  loaded.config = load_model_config(config_path);
  if (!options.quantization.empty()) {
    DSINFER_CHECK(!(options.quantization == "fp8" && loaded.config.quantization.enabled), "--quantization fp8: ",
                  options.model_path, " is already an FP8 checkpoint (config.json has quantization_config); "
                  "leave --quantization unset, its weights are used as they are");
    fail("--quantization ", options.quantization, " is not supported: dsinfer serves checkpoints as stored "
         "(BF16, or FP8 with block scales); leave --quantization unset");
  }
  DSINFER_CHECK(options.tp_size == 1, "--tp-size ", options.tp_size,
                ": serving across several devices is not implemented yet; use --tp-size 1");
  DSINFER_CHECK(options.page_size >= 1 && options.page_size <= 4096, "--page-size must be in [1, 4096], got ", options.page_size);
  DSINFER_CHECK(options.max_batch_tokens >= 1, "--max-batch-tokens must be at least 1, got ", options.max_batch_tokens);
  if (options.cpu_threads > 0) set_cpu_thread_count(options.cpu_threads);

  const auto weight_bytes = static_cast<int64_t>(Checkpoint::open(options.model_path).total_bytes());
  loaded.kv_cache_bytes = memory_budget_for_kv(options, weight_bytes);
  ModelRunnerOptions runner_options;
  runner_options.model_dir = options.model_path;
  runner_options.device = options.device;
  runner_options.page_size = options.page_size;
  runner_options.kv_cache_bytes = loaded.kv_cache_bytes;
  runner_options.max_batch_tokens = options.max_batch_tokens;
  DSINFER_CHECK(options.cuda_graph_max_batch_size >= 0, "--cuda-graph-max-bs must be >= 0, got ",
                options.cuda_graph_max_batch_size);
  runner_options.cuda_graph_max_batch_size = options.disable_cuda_graph ? 0 : options.cuda_graph_max_batch_size;
  loaded.backend = std::make_unique<ModelRunnerBackend>(ModelRunner::create(runner_options), options.max_batch_tokens,
                                                        /*sample_on_device=*/options.device != Device::kCpu);
  return loaded;
}

}  // namespace dsinfer::server
