// dsinfer_cuda_kernel_bench [--json FILE] [--tables mla,fp8,bf16]: per-kernel tables on the current GPU.
//   1. device-to-device copy bandwidth (bytes read + written), the ceiling the other rows are compared to
//   2. MLA decode kernel (absorbed, 576 / 512, page 64, split-KV + combine): GB/s and TFLOP/s, 16 and 128
//      heads, batch 32 / 64 / 128, 4096-token context
//   3. FP8 block-scaled linear (quantize + GEMM, as the model runs it) at DeepSeek-V3's projection shapes,
//      M = 4 ... 8192: TFLOP/s and GB/s, weights rotated over >= 512 MB so they come from HBM, not L2
//   4. BF16 projections at decode rows: the skinny kernel against cuBLASLt
// Times are medians of CUDA-event measurements after warm-up.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/common/cuda_check.h"
#include "kernels/gemm/cublaslt_gemm.h"
#include "kernels/sm90/gemm/skinny_gemm.h"
#include "kernels/runtime/device.h"
#include "kernels/sm90/mla_decode/mla_decode.h"
#include "ops/fill_random.h"
#include "ops/linear.h"

namespace dsinfer {
namespace {

// Median over `repeats` timings of `iterations` back-to-back calls, in microseconds per call.
double time_microseconds(const std::function<void(int)>& body, int iterations, int repeats = 7) {
  cudaStream_t stream = cuda::current_stream();
  for (int i = 0; i < 3; ++i) body(i);  // warm-up: plans, scratch, caches of the host side
  cudaEvent_t start, stop;
  DSINFER_CUDA_CHECK(cudaEventCreate(&start));
  DSINFER_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    DSINFER_CUDA_CHECK(cudaEventRecord(start, stream));
    for (int i = 0; i < iterations; ++i) body(i);
    DSINFER_CUDA_CHECK(cudaEventRecord(stop, stream));
    DSINFER_CUDA_CHECK(cudaEventSynchronize(stop));
    float milliseconds = 0.0f;
    DSINFER_CUDA_CHECK(cudaEventElapsedTime(&milliseconds, start, stop));
    samples.push_back(1000.0 * milliseconds / iterations);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

Tensor random_device_tensor(Shape shape, DType dtype, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  Tensor tensor = Tensor::empty(std::move(shape), dtype, Device::kCuda);
  ops::fill_random(tensor, seed, low, high);
  return tensor;
}

nlohmann::json measure_copy_bandwidth() {
  const int64_t bytes = int64_t{4} << 30;
  Tensor source = random_device_tensor({bytes}, DType::kF8E4M3, 1);  // any random bytes
  Tensor destination = Tensor::empty({bytes}, DType::kU8, Device::kCuda);
  double microseconds = time_microseconds(
      [&](int) {
        DSINFER_CUDA_CHECK(cudaMemcpyAsync(destination.data(), source.data(), bytes, cudaMemcpyDeviceToDevice,
                                           cuda::current_stream()));
      },
      5);
  double tb_per_s = 2.0 * bytes / (microseconds * 1e-6) / 1e12;
  std::printf("copy bandwidth: %.0f MB each way in %.1f us = %.2f TB/s (read + write)\n\n", bytes / 1e6, microseconds,
              tb_per_s);
  return {{"bytes", bytes}, {"microseconds", microseconds}, {"tb_per_s", tb_per_s}};
}

nlohmann::json mla_decode_table(double copy_tb_per_s) {
  nlohmann::json rows = nlohmann::json::array();
  const int context = 4096, page = 64, latent = 512, rope = 64, width = latent + rope;
  std::printf("MLA decode kernel (absorbed, BF16 cache, page 64, context %d)\n", context);
  std::printf("| heads | batch | splits | time (us) | GB/s | %% of copy | TFLOP/s |\n|---|---|---|---|---|---|---|\n");
  for (int heads : {16, 128}) {
    for (int batch : {32, 64, 128}) {
      const int pages_per_sequence = context / page, pages = batch * pages_per_sequence;
      Tensor cache = random_device_tensor({pages, page, width}, DType::kBF16, 11);
      Tensor q = random_device_tensor({batch, heads, width}, DType::kBF16, 12);
      Tensor out = Tensor::empty({batch, heads, latent}, DType::kBF16, Device::kCuda);
      Tensor page_table_host = Tensor::empty({batch, pages_per_sequence}, DType::kI32);
      for (int i = 0; i < pages; ++i) page_table_host.data_as<int32_t>()[i] = (i * 7919) % pages;  // scattered pages
      Tensor lengths_host = Tensor::empty({batch}, DType::kI32);
      for (int b = 0; b < batch; ++b) lengths_host.data_as<int32_t>()[b] = context;
      Tensor page_table = cuda::to_device(page_table_host), lengths = cuda::to_device(lengths_host);
      const int splits = cuda::mla_decode_num_splits(batch, heads, cuda::multiprocessor_count());
      Tensor partials = Tensor::empty({cuda::mla_decode_workspace_floats(batch, heads, latent, splits)}, DType::kF32,
                                      Device::kCuda);
      cuda::MlaDecodeParams params{};
      params.q_latent = static_cast<const __nv_bfloat16*>(q.data());
      params.q_rope = static_cast<const __nv_bfloat16*>(q.data()) + latent;
      params.q_latent_batch_stride = params.q_rope_batch_stride = int64_t{heads} * width;
      params.q_latent_head_stride = params.q_rope_head_stride = width;
      params.kv_cache = static_cast<const __nv_bfloat16*>(cache.data());
      params.page_table = page_table.data_as<const int32_t>();
      params.page_table_stride = pages_per_sequence;
      params.seq_lens = lengths.data_as<const int32_t>();
      params.out = static_cast<__nv_bfloat16*>(out.data());
      params.partial_out = partials.data_as<float>();
      params.partial_lse = partials.data_as<float>() + int64_t{batch} * splits * heads * latent;
      params.batch = batch;
      params.num_heads = heads;
      params.latent_dim = latent;
      params.rope_dim = rope;
      params.page_size = page;
      params.num_splits = splits;
      params.softmax_scale = 0.1f;
      double microseconds = time_microseconds([&](int) { cuda::run_mla_decode(params, cuda::current_stream()); }, 10);
      double bytes = double(batch) * context * width * 2 + double(batch) * heads * (width + latent) * 2;
      double flops = 2.0 * batch * heads * double(context) * (width + latent);
      double gb_per_s = bytes / (microseconds * 1e-6) / 1e9, tflops = flops / (microseconds * 1e-6) / 1e12;
      std::printf("| %d | %d | %d | %.1f | %.0f | %.0f%% | %.1f |\n", heads, batch, splits, microseconds, gb_per_s,
                  100.0 * gb_per_s / (copy_tb_per_s * 1000.0), tflops);
      rows.push_back({{"heads", heads}, {"batch", batch}, {"context", context}, {"splits", splits},
                      {"microseconds", microseconds}, {"gb_per_s", gb_per_s}, {"tflops", tflops}});
    }
  }
  std::printf("\n");
  return rows;
}

nlohmann::json fp8_linear_table(double copy_tb_per_s) {
  nlohmann::json rows = nlohmann::json::array();
  struct Shape2 {
    const char* role;
    int64_t n, k;
  };
  const std::vector<Shape2> shapes = {{"q_a+kv_a", 2112, 7168}, {"q_b", 24576, 1536}, {"kv_b", 32768, 512},
                                      {"o_proj", 7168, 16384}, {"expert gate_up", 4096, 7168}, {"expert down", 7168, 2048}};
  std::printf("FP8 block-scaled linear (per-token-group quantization + GEMM; skinny tensor-core kernel for M <= 8, cuBLASLt "
              "above)\n| N x K (role) | M | time (us) | TFLOP/s | GB/s | %% of copy |\n|---|---|---|---|---|---|\n");
  for (const Shape2& shape : shapes) {
    const int64_t weight_bytes = shape.n * shape.k;
    const int copies = static_cast<int>(std::max<int64_t>(1, (int64_t{512} << 20) / weight_bytes));
    Tensor weights = random_device_tensor({copies, shape.n, shape.k}, DType::kF8E4M3, 21, -448.0f, 448.0f);
    const int64_t scale_rows = (shape.n + 127) / 128, scale_columns = (shape.k + 127) / 128;
    Tensor scales = random_device_tensor({scale_rows, scale_columns}, DType::kF32, 22, 1e-4f, 2e-4f);
    std::vector<ops::LinearWeight> linear_weights(copies);
    for (int c = 0; c < copies; ++c) {
      linear_weights[c].weight = Tensor::view(static_cast<uint8_t*>(weights.data()) + c * weight_bytes,
                                              {shape.n, shape.k}, DType::kF8E4M3, Device::kCuda);
      linear_weights[c].scale_inv = scales;
    }
    for (int64_t m : {4, 16, 64, 128, 512, 2048, 8192}) {
      Tensor input = random_device_tensor({m, shape.k}, DType::kBF16, 23);
      Tensor output = Tensor::empty({m, shape.n}, DType::kBF16, Device::kCuda);
      double microseconds = time_microseconds(
          [&](int i) { ops::linear(input, linear_weights[i % copies], output, true); }, std::max(copies, 10));
      double flops = 2.0 * m * shape.n * shape.k;
      double bytes = double(weight_bytes) + double(m) * shape.k * 2 + double(m) * shape.n * 2;
      double tflops = flops / (microseconds * 1e-6) / 1e12, gb_per_s = bytes / (microseconds * 1e-6) / 1e9;
      std::printf("| %lld x %lld (%s) | %lld | %.1f | %.0f | %.0f | %.0f%% |\n", static_cast<long long>(shape.n),
                  static_cast<long long>(shape.k), shape.role, static_cast<long long>(m), microseconds, tflops, gb_per_s,
                  100.0 * gb_per_s / (copy_tb_per_s * 1000.0));
      rows.push_back({{"role", shape.role}, {"n", shape.n}, {"k", shape.k}, {"m", m}, {"microseconds", microseconds},
                      {"tflops", tflops}, {"gb_per_s", gb_per_s}});
    }
  }
  std::printf("\n");
  return rows;
}

// BF16 projections of a DeepSeek-V2-Lite layer at decode row counts: the skinny tensor-core kernel against
// cuBLASLt, weights rotated over >= 512 MB.
nlohmann::json bf16_decode_table(double copy_tb_per_s) {
  nlohmann::json rows = nlohmann::json::array();
  struct Projection {
    const char* role;
    int64_t n, k;
  };
  const std::vector<Projection> projections = {{"q_proj", 3072, 2048},       {"kv_a", 576, 2048},
                                               {"o_proj", 2048, 2048},       {"shared gate", 2816, 2048},
                                               {"shared down", 2048, 2816}, {"lm_head", 102400, 2048}};
  std::printf("BF16 linear at decode rows (V2-Lite shapes): skinny kernel vs cuBLASLt\n"
              "| N x K (role) | M | skinny us | skinny GB/s | cuBLASLt us | cuBLASLt GB/s |\n|---|---|---|---|---|---|\n");
  for (const Projection& shape : projections) {
    const int64_t weight_bytes = shape.n * shape.k * 2;
    const int copies = static_cast<int>(std::max<int64_t>(1, (int64_t{512} << 20) / weight_bytes));
    Tensor weights = random_device_tensor({copies, shape.n, shape.k}, DType::kBF16, 31, -0.05f, 0.05f);
    auto weight = [&](int i) { return static_cast<const uint8_t*>(weights.data()) + (i % copies) * weight_bytes; };
    for (int64_t m : {1, 4, 8}) {
      Tensor input = random_device_tensor({m, shape.k}, DType::kBF16, 32);
      Tensor output = Tensor::empty({m, shape.n}, DType::kBF16, Device::kCuda);
      cudaStream_t stream = cuda::current_stream();
      double skinny = time_microseconds(
          [&](int i) {
            cuda::SkinnyGemmParams params{};
            params.a = input.data();
            params.k = shape.k;
            params.rows = m;
            params.projections[0].weight = weight(i);
            params.projections[0].n = shape.n;
            params.projections[0].out = output.data();
            params.projection_count = 1;
            cuda::skinny_gemm(params, /*fp8=*/false, stream);
          },
          std::max(copies, 10));
      double cublaslt = time_microseconds(
          [&](int i) { cuda::gemm_bf16(input.data(), weight(i), output.data(), DType::kBF16, m, shape.n, shape.k, stream); },
          std::max(copies, 10));
      auto gb_per_s = [&](double microseconds) { return weight_bytes / (microseconds * 1e-6) / 1e9; };
      std::printf("| %lld x %lld (%s) | %lld | %.1f | %.0f | %.1f | %.0f |\n", static_cast<long long>(shape.n),
                  static_cast<long long>(shape.k), shape.role, static_cast<long long>(m), skinny, gb_per_s(skinny),
                  cublaslt, gb_per_s(cublaslt));
      rows.push_back({{"role", shape.role}, {"n", shape.n}, {"k", shape.k}, {"m", m}, {"skinny_microseconds", skinny},
                      {"cublaslt_microseconds", cublaslt}});
    }
  }
  // The fused forms of a decode step: q_proj + kv_a_proj_with_mqa as one pair, shared-expert gate + up gated.
  struct Fused {
    const char* role;
    int64_t n0, n1, k;
    bool gated;
  };
  std::printf("| fused form | M | skinny us | skinny GB/s |\n|---|---|---|---|\n");
  for (const Fused& fused : {Fused{"q_proj + kv_a (pair)", 3072, 576, 2048, false},
                             Fused{"shared gate + up (gated)", 2816, 2816, 2048, true}}) {
    const int64_t bytes = (fused.n0 + fused.n1) * fused.k * 2;
    const int copies = static_cast<int>(std::max<int64_t>(1, (int64_t{512} << 20) / bytes));
    Tensor weights = random_device_tensor({copies, fused.n0 + fused.n1, fused.k}, DType::kBF16, 33, -0.05f, 0.05f);
    for (int64_t m : {1, 4, 8}) {
      Tensor input = random_device_tensor({m, fused.k}, DType::kBF16, 34);
      Tensor output0 = Tensor::empty({m, fused.n0}, DType::kBF16, Device::kCuda);
      Tensor output1 = Tensor::empty({m, fused.n1}, DType::kBF16, Device::kCuda);
      double microseconds = time_microseconds(
          [&](int i) {
            const auto* base = static_cast<const uint8_t*>(weights.data()) + (i % copies) * bytes;
            cuda::SkinnyGemmParams params{};
            params.a = input.data();
            params.k = fused.k;
            params.rows = m;
            params.projections[0].weight = base;
            params.projections[0].n = fused.n0;
            params.projections[0].out = output0.data();
            params.projections[1].weight = base + fused.n0 * fused.k * 2;
            params.projections[1].n = fused.n1;
            params.projections[1].out = fused.gated ? output0.data() : output1.data();
            params.projection_count = 2;
            params.gated = fused.gated;
            cuda::skinny_gemm(params, /*fp8=*/false, cuda::current_stream());
          },
          std::max(copies, 10));
      const double gb_per_s = bytes / (microseconds * 1e-6) / 1e9;
      std::printf("| %s | %lld | %.1f | %.0f |\n", fused.role, static_cast<long long>(m), microseconds, gb_per_s);
      rows.push_back({{"role", fused.role}, {"m", m}, {"skinny_microseconds", microseconds}, {"gb_per_s", gb_per_s}});
    }
  }
  std::printf("(copy bandwidth for scale: %.0f GB/s)\n\n", copy_tb_per_s * 1000.0);
  return rows;
}

}  // namespace
}  // namespace dsinfer

int main(int argc, char** argv) {
  std::string json_path, tables = "mla,fp8,bf16";  // --tables: comma-separated subset to run
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--json") json_path = argv[i + 1];
    if (std::string(argv[i]) == "--tables") tables = argv[i + 1];
  }
  auto wanted = [&](const std::string& table) { return ("," + tables + ",").find("," + table + ",") != std::string::npos; };
  try {
    dsinfer::cuda::initialize();
    const cudaDeviceProp& properties = dsinfer::cuda::device_properties();
    std::printf("device: %s, %d SMs, %.0f MB L2\n", properties.name, properties.multiProcessorCount,
                properties.l2CacheSize / 1e6);
    nlohmann::json report;
    report["device"] = properties.name;
    report["copy"] = dsinfer::measure_copy_bandwidth();
    double copy = report["copy"]["tb_per_s"];
    if (wanted("mla")) report["mla_decode"] = dsinfer::mla_decode_table(copy);
    if (wanted("fp8")) report["fp8_linear"] = dsinfer::fp8_linear_table(copy);
    if (wanted("bf16")) report["bf16_decode"] = dsinfer::bf16_decode_table(copy);
    if (!json_path.empty()) std::ofstream(json_path) << report.dump(2) << "\n";
  } catch (const std::exception& error) {
    std::fprintf(stderr, "dsinfer_cuda_kernel_bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
