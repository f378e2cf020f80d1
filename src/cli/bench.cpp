// dsinfer bench: one static batch through prefill and decode, like SGLang's bench_one_batch.
//   dsinfer bench --model DIR [--load-format dummy] --batch-size 1,8,32,128 --input-len 1024 --output-len 32
//                 [--device cuda] [--tp-size N --simulate-rank R] [--cuda-graph-max-bs N | --disable-cuda-graph]
//                 [--chunked-prefill-size N] [--json FILE]
//                 [--skip-prefill]
// For each batch size: prefill latency and tokens/s (the batch's prompts in forwards of at most
// --chunked-prefill-size tokens), then the median decode step time and tokens/s (greedy, ids chosen on the
// device). Beside each: the memory-traffic floor (bytes the step must read: this rank's weights it touches,
// the KV cache, the logits, over the HBM bandwidth measured in this run by a device-to-device copy) and the
// compute floor (its FLOPs over the datasheet dense peak: 989 TFLOP/s BF16, 1979 FP8).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "model/model_runner.h"
#include "ops/copy.h"

namespace dsinfer::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kPeakBf16Flops = 989e12;  // H100/H200 SXM dense BF16, datasheet
constexpr double kPeakFp8Flops = 1979e12;  // dense FP8, datasheet

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<int> parse_sizes(const std::string& text) {
  std::vector<int> sizes;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, end - start);
    int value = 0;
    try {
      value = std::stoi(item);
    } catch (const std::exception&) {
      value = 0;
    }
    DSINFER_CHECK(value > 0, "--batch-size: \"", item, "\" is not a positive integer; expected e.g. 1,8,32,128");
    sizes.push_back(value);
    start = end + 1;
  }
  return sizes;
}

// Device-to-device copy bandwidth (bytes read + written per second), the ceiling for the memory floors.
double measure_bandwidth(Device device) {
  const int64_t bytes = int64_t{2} << 30;
  Tensor source = Tensor::empty({bytes}, DType::kU8, device), destination = Tensor::empty({bytes}, DType::kU8, device);
  Tensor probe = Tensor::empty({1}, DType::kU8);
  auto finish = [&] { ops::copy(destination.slice_rows(0, 1), probe); };  // a device -> host copy waits for the queue
  ops::copy(source, destination);
  finish();
  const int repeats = 10;
  Clock::time_point start = Clock::now();
  for (int i = 0; i < repeats; ++i) ops::copy(source, destination);
  finish();
  return 2.0 * static_cast<double>(bytes) * repeats / seconds_since(start);
}

// What one rank must read and compute: this rank's share of each weight, by role, in bytes per parameter of
// its stored dtype (FP8 linears: 1 byte + one float per 128x128 block).
struct ModelShape {
  const ModelConfig& config;
  int tp;
  bool fp8;

  double linear_bytes(double parameters) const { return parameters * (fp8 ? 1.0 + 4.0 / (128.0 * 128.0) : 2.0); }
  int64_t local_heads() const { return config.num_attention_heads / tp; }
  int moe_layers() const {
    int count = 0;
    for (int layer = 0; layer < config.num_hidden_layers; ++layer) count += config.is_moe_layer(layer);
    return count;
  }
  // Per layer, the attention projections read by every token (decode reads w_uk / w_uv in BF16 instead of kv_b).
  double attention_parameters() const {
    const double h = static_cast<double>(config.hidden_size), heads = static_cast<double>(local_heads());
    const double qk = static_cast<double>(config.qk_head_dim()), latent = static_cast<double>(config.kv_lora_rank);
    double q = config.q_lora_rank ? h * *config.q_lora_rank + *config.q_lora_rank * heads * qk : h * heads * qk;
    return q + h * (latent + config.qk_rope_head_dim) + heads * config.v_head_dim * h;
  }
  double absorbed_parameters() const {  // w_uk + w_uv, BF16 copies of kv_b_proj
    return static_cast<double>(local_heads()) * (config.qk_nope_head_dim + config.v_head_dim) * config.kv_lora_rank;
  }
  double expert_parameters() const { return 3.0 * config.hidden_size * (config.moe_intermediate_size / tp); }
  double dense_mlp_parameters() const { return 3.0 * config.hidden_size * (config.intermediate_size / tp); }
  double shared_parameters() const {
    return 3.0 * config.hidden_size * (static_cast<double>(config.moe_intermediate_size) * config.n_shared_experts / tp);
  }
  double router_parameters() const { return static_cast<double>(config.n_routed_experts) * config.hidden_size; }
  double lm_head_parameters() const { return static_cast<double>(config.vocab_size) * config.hidden_size; }
  // Expected distinct routed experts per MoE layer for `tokens` tokens routed uniformly.
  double experts_touched(double tokens) const {
    const double e = config.n_routed_experts, k = config.num_experts_per_tok;
    return e == 0 ? 0.0 : e * (1.0 - std::pow(1.0 - k / e, tokens));
  }
  double kv_bytes_per_token() const {
    return static_cast<double>(config.num_hidden_layers) * (config.kv_lora_rank + config.qk_rope_head_dim) * 2.0;
  }

  // Bytes a decode step of `batch` sequences at `context` tokens must read.
  double decode_bytes(int batch, int context) const {
    const int layers = config.num_hidden_layers, moe = moe_layers();
    double bytes = layers * (linear_bytes(attention_parameters()) + 2.0 * absorbed_parameters());
    bytes += (layers - moe) * linear_bytes(dense_mlp_parameters());
    bytes += moe * (linear_bytes(experts_touched(batch) * expert_parameters() + shared_parameters()) +
                    2.0 * router_parameters());
    bytes += 2.0 * lm_head_parameters() + kv_bytes_per_token() * batch * context;
    bytes += 4.0 * batch * static_cast<double>(config.vocab_size);  // F32 logits
    return bytes;
  }
  // Linear-layer FLOPs per token (active parameters, x2) plus absorbed attention over `context` keys.
  double decode_flops(int batch, int context) const {
    const int layers = config.num_hidden_layers, moe = moe_layers();
    double per_token = layers * (attention_parameters() + absorbed_parameters()) +
                       (layers - moe) * dense_mlp_parameters() +
                       moe * (config.num_experts_per_tok * expert_parameters() + shared_parameters() + router_parameters()) +
                       lm_head_parameters();
    double attention = 2.0 * local_heads() * context * (2.0 * config.kv_lora_rank + config.qk_rope_head_dim) * layers;
    return batch * (2.0 * per_token + attention);
  }
  // Prefill of `batch` prompts of `length` tokens: every weight the batch touches once, the KV written.
  double prefill_bytes(int batch, int length) const {
    const int layers = config.num_hidden_layers, moe = moe_layers();
    double tokens = static_cast<double>(batch) * length;
    double bytes = layers * linear_bytes(attention_parameters() + static_cast<double>(local_heads()) *
                                                                       (config.qk_nope_head_dim + config.v_head_dim) *
                                                                       config.kv_lora_rank);
    bytes += (layers - moe) * linear_bytes(dense_mlp_parameters());
    bytes += moe * (linear_bytes(experts_touched(tokens) * expert_parameters() + shared_parameters()) +
                    2.0 * router_parameters());
    return bytes + 2.0 * lm_head_parameters() + kv_bytes_per_token() * tokens;
  }
  double prefill_flops(int batch, int length) const {
    const int layers = config.num_hidden_layers, moe = moe_layers();
    double tokens = static_cast<double>(batch) * length;
    double kv_b = static_cast<double>(local_heads()) * (config.qk_nope_head_dim + config.v_head_dim) * config.kv_lora_rank;
    double per_token = layers * (attention_parameters() + kv_b) + (layers - moe) * dense_mlp_parameters() +
                       moe * (config.num_experts_per_tok * expert_parameters() + shared_parameters() + router_parameters());
    // Causal attention, un-absorbed: ~length^2 / 2 score and value products per head.
    double attention = 2.0 * local_heads() * (config.qk_head_dim() + config.v_head_dim) * 0.5 * length * length *
                       layers * static_cast<double>(batch);
    return 2.0 * per_token * tokens + attention + 2.0 * lm_head_parameters() * batch;
  }
};

}  // namespace

int run_bench(int argc, char** argv) {
  CLI::App app("Time prefill and decode of one static batch (like SGLang's bench_one_batch)", "dsinfer bench");
  std::string model_dir = DSINFER_DEFAULT_MODEL_DIR, load_format = "auto", device_name = "cuda", sizes_text = "1,8,32,128";
  std::string json_path;
  int input_len = 1024, output_len = 16, tp_size = 1, simulate_rank = 0, graph_max_bs = 160, chunk = 8192;
  bool disable_graphs = false, skip_prefill = false;
  app.add_option("--model", model_dir, "model folder (config.json; with --load-format dummy nothing else is read)")
      ->capture_default_str();
  app.add_option("--load-format", load_format, "auto (checkpoint) or dummy (seeded random weights on the device)")
      ->check(CLI::IsMember({"auto", "dummy"}))
      ->capture_default_str();
  app.add_option("--device", device_name, "cuda or cpu")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app.add_option("--batch-size", sizes_text, "comma-separated batch sizes")->capture_default_str();
  app.add_option("--input-len", input_len, "prompt tokens per sequence")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--output-len", output_len, "decode steps")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--tp-size", tp_size, "tensor-parallel size of the deployment")->check(CLI::PositiveNumber);
  app.add_option("--simulate-rank", simulate_rank, "run this rank's shard alone, communication skipped")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--cuda-graph-max-bs", graph_max_bs, "largest decode batch replayed as a CUDA graph")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--disable-cuda-graph", disable_graphs, "run every decode step eagerly");
  app.add_option("--chunked-prefill-size", chunk, "most tokens per prefill forward")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--skip-prefill", skip_prefill,
               "decode over a cache of --input-len tokens that were never prefilled (seeded random values): times decode alone");
  app.add_option("--json", json_path, "also write the results as JSON to this file");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  DSINFER_CHECK(simulate_rank < tp_size, "--simulate-rank ", simulate_rank, " must be below --tp-size ", tp_size);
  const std::vector<int> sizes = parse_sizes(sizes_text);
  const int max_batch = *std::max_element(sizes.begin(), sizes.end());
  const int context = input_len + output_len;

  ModelRunnerOptions options;
  options.model_dir = model_dir;
  options.device = device_name == "cuda" ? Device::kCuda : Device::kCpu;
  options.dummy_weights = load_format == "dummy";
  options.tp_size = tp_size;
  options.tp_rank = simulate_rank;
  options.page_size = 64;
  const int pages_per_sequence = (context + options.page_size - 1) / options.page_size;
  options.num_kv_pages = pages_per_sequence * max_batch;
  options.max_batch_tokens = std::max(chunk, max_batch);
  options.cuda_graph_max_batch_size = options.device == Device::kCuda && !disable_graphs ? graph_max_bs : 0;
  Clock::time_point load_start = Clock::now();
  auto runner = ModelRunner::create(options);
  const double load_seconds = seconds_since(load_start);
  const ModelConfig& config = runner->config();
  const ModelShape shape{config, tp_size, config.quantization.enabled};
  const double bandwidth = measure_bandwidth(options.device);
  const double peak = shape.fp8 ? kPeakFp8Flops : kPeakBf16Flops;

  std::printf("model %s (%s weights, %s%s), %d layers, load %.1f s; measured copy bandwidth %.2f TB/s\n",
              model_dir.c_str(), load_format.c_str(), shape.fp8 ? "FP8" : "BF16",
              tp_size > 1 ? (", rank " + std::to_string(simulate_rank) + " of TP" + std::to_string(tp_size)).c_str() : "",
              config.num_hidden_layers, load_seconds, bandwidth / 1e12);
  std::printf("| batch | input | prefill s | prefill tok/s | prefill floor s (mem / compute) | decode step ms | "
              "decode tok/s | decode floor ms (mem / compute) | %% of mem floor |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");

  nlohmann::json report = {{"model", model_dir}, {"load_format", load_format}, {"device", device_name},
                           {"tp_size", tp_size}, {"simulate_rank", simulate_rank}, {"input_len", input_len},
                           {"output_len", output_len}, {"cuda_graphs", options.cuda_graph_max_batch_size > 0},
                           {"bandwidth_bytes_per_s", bandwidth}, {"peak_flops", peak}};
  nlohmann::json rows = nlohmann::json::array();
  std::mt19937 random(1234);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config.vocab_size - 1));
  for (int batch_size : sizes) {
    std::vector<std::vector<int32_t>> pages(batch_size), prompts(batch_size);
    for (int b = 0; b < batch_size; ++b) {
      for (int p = 0; p < pages_per_sequence; ++p) pages[b].push_back(b * pages_per_sequence + p);
      for (int t = 0; t < input_len; ++t) prompts[b].push_back(token(random));
    }
    // Prefill in forwards of at most `chunk` tokens, sequences split across forwards where needed. Run twice:
    // the first pass creates GEMM plans and scratch buffers; the second is timed.
    std::vector<int32_t> last_tokens(batch_size);
    auto prefill = [&] {
      std::vector<int> done(batch_size, 0);
      int next = 0;
      while (next < batch_size) {
        ForwardBatch forward;
        std::vector<int> finishing;
        int budget = chunk;
        for (int b = next; b < batch_size && budget > 0; ++b) {
          int take = std::min(budget, input_len - done[b]);
          SequenceSlice slice;
          slice.num_cached_tokens = done[b];
          slice.num_new_tokens = take;
          slice.page_table = pages[b];
          forward.sequences.push_back(slice);
          forward.token_ids.insert(forward.token_ids.end(), prompts[b].begin() + done[b], prompts[b].begin() + done[b] + take);
          done[b] += take;
          budget -= take;
          finishing.push_back(b);
        }
        std::vector<int32_t> chosen = runner->forward_greedy(forward);
        for (size_t i = 0; i < finishing.size(); ++i) last_tokens[finishing[i]] = chosen[i];
        while (next < batch_size && done[next] == input_len) ++next;
      }
    };
    double prefill_seconds = NAN;
    if (skip_prefill) {
      runner->fill_kv_cache_random(/*seed=*/random());
      for (int b = 0; b < batch_size; ++b) last_tokens[b] = token(random);
    } else {
      prefill();
      Clock::time_point prefill_start = Clock::now();
      prefill();
      prefill_seconds = seconds_since(prefill_start);
    }

    std::vector<double> step_seconds;
    for (int step = 0; step < output_len; ++step) {
      ForwardBatch forward;
      for (int b = 0; b < batch_size; ++b) {
        forward.sequences.push_back({input_len + step, 1, pages[b], false});
        forward.token_ids.push_back(last_tokens[b]);
      }
      Clock::time_point step_start = Clock::now();
      last_tokens = runner->forward_greedy(forward);
      step_seconds.push_back(seconds_since(step_start));
    }
    std::vector<double> sorted = step_seconds;
    std::sort(sorted.begin(), sorted.end());
    const double step = sorted[sorted.size() / 2];
    const int mid_context = input_len + output_len / 2;
    const double prefill_memory = shape.prefill_bytes(batch_size, input_len) / bandwidth;
    const double prefill_compute = shape.prefill_flops(batch_size, input_len) / peak;
    const double decode_memory = shape.decode_bytes(batch_size, mid_context) / bandwidth;
    const double decode_compute = shape.decode_flops(batch_size, mid_context) / peak;
    const double prefill_tokens_per_s = batch_size * static_cast<double>(input_len) / prefill_seconds;
    std::printf("| %d | %d | %.3f | %.0f | %.3f / %.3f | %.2f | %.0f | %.2f / %.2f | %.0f%% |\n", batch_size, input_len,
                prefill_seconds, prefill_tokens_per_s, prefill_memory, prefill_compute, step * 1e3, batch_size / step,
                decode_memory * 1e3, decode_compute * 1e3, 100.0 * decode_memory / step);
    std::fflush(stdout);
    rows.push_back({{"batch_size", batch_size},
                    {"prefill_seconds", skip_prefill ? nlohmann::json() : nlohmann::json(prefill_seconds)},
                    {"prefill_tokens_per_s", skip_prefill ? nlohmann::json() : nlohmann::json(prefill_tokens_per_s)},
                    {"prefill_memory_floor_seconds", prefill_memory},
                    {"prefill_compute_floor_seconds", prefill_compute},
                    {"decode_step_seconds_median", step},
                    {"decode_step_seconds", step_seconds},
                    {"decode_tokens_per_s", batch_size / step},
                    {"decode_memory_floor_seconds", decode_memory},
                    {"decode_compute_floor_seconds", decode_compute},
                    {"decode_bytes", shape.decode_bytes(batch_size, mid_context)}});
  }
  report["skip_prefill"] = skip_prefill;
  report["rows"] = rows;
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    DSINFER_CHECK(out.good(), "--json: cannot write ", json_path);
    out << report.dump(2) << "\n";
  }
  return 0;
}

}  // namespace dsinfer::cli
