// Routed experts on CUDA, all on the device (CUDA-graph safe):
//   sort the (token, slot) assignments by expert (unless the caller's          moe_sort
//   ExpertOrder already holds them, e.g. from ops::moe_routing)
//   [FP8] quantize the token rows once per token (1x128 groups)                   quantize_fp8_groups
//   act[r] = silu(x . gate_e) * (x . up_e) for each sorted row r (expert e)       grouped GEMM, fused epilogue
//   [FP8] quantize act                                                            quantize_fp8_groups
//   y[r]   = act[r] . down_e                                                      grouped GEMM
//   output[t] += sum_j w[t, j] * y[row of (t, j)]                                 moe_combine
// The grouped GEMMs find each expert's tensors through a device table of addresses (no stacking needed). They
// are the skinny kernel for up to 8 tokens (each expert's rows read its weights once, one CTA per active
// expert and 8 or 16 features), the tiled tensor-core kernel for more, and the CUDA-core F32 kernel under F32
// activations.
#include <map>
#include <mutex>

#include "kernels/runtime/scratch.h"
#include "kernels/sm90/gemm/skinny_gemm.h"
#include "kernels/sm90/moe/grouped_gemm.h"
#include "kernels/sm90/moe/moe_sort.h"
#include "kernels/sm90/quant/fp8_group_quant.h"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {

using dsinfer::cuda::ScratchSlot;
using dsinfer::cuda::scratch;
using dsinfer::cuda::scratch_as;

static_assert(kExpertOrderRowsPerTile == dsinfer::cuda::kGroupedRowsPerTile,
              "an ExpertOrder's tile offsets must count the grouped GEMM's row tiles");

enum ExpertTable { kGate, kUp, kDown, kGateScales, kUpScales, kDownScales, kTables };

// Device tables of every expert's weight and scale addresses ([kTables][experts] pointers), so the grouped
// GEMMs find expert e's tensors wherever the loader put them. Built once per expert list; each call compares
// the list's addresses with the cached ones on the host (a few hundred compares) and rebuilds if they moved.
// The first forward of a shape runs eagerly before any CUDA graph capture, so the build never happens inside one.
const void* const* expert_tables(const std::vector<MlpWeights>& experts) {
  struct Cached {
    std::vector<const void*> addresses;
    Tensor device;
  };
  static std::mutex mutex;
  static std::map<const MlpWeights*, Cached> cache;
  const size_t count = experts.size();
  std::vector<const void*> addresses(kTables * count, nullptr);
  const MlpWeights& first = experts.front();
  for (size_t e = 0; e < count; ++e) {
    const MlpWeights& expert = experts[e];
    const LinearWeight* weights[3] = {&expert.gate_proj, &expert.up_proj, &expert.down_proj};
    const LinearWeight* first_weights[3] = {&first.gate_proj, &first.up_proj, &first.down_proj};
    for (int w = 0; w < 3; ++w) {
      DSINFER_CHECK(weights[w]->weight.shape() == first_weights[w]->weight.shape() &&
                        weights[w]->weight.dtype() == first_weights[w]->weight.dtype(),
                    "ops::moe_experts: expert ", e, " has ", weights[w]->weight.describe(), " where expert 0 has ",
                    first_weights[w]->weight.describe(), " (all experts must share shapes and dtypes)");
      addresses[w * count + e] = weights[w]->weight.data();
      addresses[(kGateScales + w) * count + e] = weights[w]->is_fp8() ? weights[w]->scale_inv.data() : nullptr;
    }
  }
  std::lock_guard<std::mutex> lock(mutex);
  Cached& cached = cache[experts.data()];
  if (cached.addresses != addresses) {
    Tensor host = Tensor::empty({static_cast<int64_t>(addresses.size())}, DType::kU64);
    std::copy(addresses.begin(), addresses.end(), host.data_as<const void*>());
    cached.device = Tensor::empty(host.shape(), DType::kU64, Device::kCuda);
    ops::cuda::copy(host, cached.device);
    cached.addresses = std::move(addresses);
  }
  return cached.device.data_as<const void* const>();
}

// The expert GEMM of `params` on the kernel for this batch (see the file comment).
enum class ExpertKernel { kSkinny, kTiled, kFloat32 };

void run_expert_gemm(const dsinfer::cuda::GroupedGemmParams& params, ExpertKernel kernel, bool fp8, bool gated,
                     const int32_t* active_experts, cudaStream_t stream) {
  if (kernel == ExpertKernel::kFloat32) {
    dsinfer::cuda::grouped_gemm_fp8_f32(params, gated, stream);
    return;
  }
  if (kernel == ExpertKernel::kTiled) {
    dsinfer::cuda::grouped_gemm(params, fp8, gated, stream);
    return;
  }
  dsinfer::cuda::SkinnyGemmParams skinny{};
  skinny.a = params.a;
  skinny.a_scales = params.a_scales;
  skinny.a_scales_stride = params.a_scales_stride;
  skinny.k = params.k;
  skinny.rows = params.rows;
  skinny.expert_offsets = params.expert_offsets;
  skinny.active_experts = active_experts;
  skinny.experts = params.experts;
  skinny.a_row_slots = params.a_row_slots;
  skinny.a_row_divisor = params.a_row_divisor;
  auto projection = [&](const void* const* weights, const float* const* scales) {
    dsinfer::cuda::SkinnyProjection result{};
    result.weight_experts = weights;
    result.scale_experts = scales;
    result.scale_row_length = (params.k + 127) / 128;  // each expert's weight_scale_inv [ceil(n/128), ceil(k/128)]
    result.n = params.n;
    result.out = params.out;
    result.out_f32 = params.out_f32;
    return result;
  };
  skinny.projections[0] = projection(params.weight0_experts, params.weight0_scale_experts);
  skinny.projection_count = 1;
  if (gated) {
    skinny.projections[1] = projection(params.weight1_experts, params.weight1_scale_experts);
    skinny.projection_count = 2;
    skinny.gated = true;
  }
  dsinfer::cuda::skinny_gemm(skinny, fp8, stream);
}

}  // namespace

void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights, const ExpertOrder* order,
                 const std::vector<MlpWeights>& experts, Tensor& output, bool /*quantize_activations*/) {
  dsinfer::cuda::OpTimer timer("moe_experts");
  // BF16 activations, or F32 (the F32-activation mode: FP8 experts quantize their input from F32, sum on the
  // CUDA cores in float32 and write F32 expert rows, so nothing on the way is rounded to BF16).
  const bool f32 = input.dtype() == DType::kF32;
  DSINFER_CHECK((input.dtype() == DType::kBF16 || f32) && output.dtype() == input.dtype(), "ops::moe_experts on CUDA: input ",
                input.describe(), " and output ", output.describe(), " must both be BF16 or both F32");
  const int64_t tokens = input.dim(0), hidden = input.dim(1), top_k = topk_ids.dim(1);
  const int expert_count = static_cast<int>(experts.size());
  if (tokens == 0) return;
  const MlpWeights& first = experts.front();
  const int64_t intermediate = first.gate_proj.out_features();
  const bool fp8 = first.gate_proj.is_fp8();
  DSINFER_CHECK(first.up_proj.is_fp8() == fp8 && first.down_proj.is_fp8() == fp8,
                "ops::moe_experts on CUDA: gate, up and down projections must share a dtype");
  if (!fp8) {
    for (const Tensor* weight : {&first.gate_proj.weight, &first.up_proj.weight, &first.down_proj.weight})
      require_dtype("moe_experts (expert weight)", *weight, DType::kBF16);
    DSINFER_CHECK(!f32, "ops::moe_experts on CUDA: F32 activations need FP8 experts (the BF16 expert GEMMs read "
                  "BF16 rows); expert weights are ", first.gate_proj.weight.describe());
  }
  cudaStream_t stream = dsinfer::cuda::current_stream();
  const int64_t rows = tokens * top_k;

  const ExpertKernel kernel = f32                                      ? ExpertKernel::kFloat32
                              : tokens <= dsinfer::cuda::kSkinnyMaxRows ? ExpertKernel::kSkinny
                                                                        : ExpertKernel::kTiled;

  const int32_t *expert_offsets, *tile_offsets, *active_experts, *sorted_slots, *slot_positions;
  if (order != nullptr) {
    expert_offsets = order->expert_offsets.data_as<const int32_t>();
    tile_offsets = order->tile_offsets.data_as<const int32_t>();
    active_experts = order->active_experts.data_as<const int32_t>();
    sorted_slots = order->sorted_slots.data_as<const int32_t>();
    slot_positions = order->slot_positions.data_as<const int32_t>();
  } else {
    int32_t* sort = scratch_as<int32_t>(ScratchSlot::kMoeRouting, 3 * (expert_count + 1) + 2 * rows);
    int32_t* own_offsets = sort;                            // [experts + 1]
    int32_t* own_tiles = own_offsets + expert_count + 1;    // [experts + 1]
    int32_t* own_active = own_tiles + expert_count + 1;     // [experts + 1]
    int32_t* own_sorted = own_active + expert_count + 1;    // [rows]
    int32_t* own_positions = own_sorted + rows;             // [rows]
    dsinfer::cuda::moe_sort(topk_ids.data_as<const int32_t>(), rows, expert_count, dsinfer::cuda::kGroupedRowsPerTile,
                            own_offsets, own_tiles, own_active, own_sorted, own_positions, stream);
    expert_offsets = own_offsets;
    tile_offsets = own_tiles;
    active_experts = own_active;
    sorted_slots = own_sorted;
    slot_positions = own_positions;
  }

  const void* const* tables = expert_tables(experts);
  auto table = [&](ExpertTable which) { return tables + which * expert_count; };
  auto scale_table = [&](ExpertTable which) { return reinterpret_cast<const float* const*>(table(which)); };

  dsinfer::cuda::GroupedGemmParams gate_up{};
  gate_up.a_row_slots = sorted_slots;
  gate_up.a_row_divisor = static_cast<int>(top_k);
  gate_up.weight0_experts = table(kGate);
  gate_up.weight1_experts = table(kUp);
  gate_up.weight0_scale_experts = scale_table(kGateScales);
  gate_up.weight1_scale_experts = scale_table(kUpScales);
  gate_up.expert_offsets = expert_offsets;
  gate_up.tile_offsets = tile_offsets;
  gate_up.experts = expert_count;
  gate_up.rows = rows;
  gate_up.n = intermediate;
  gate_up.k = hidden;
  // [rows, intermediate]: F32 on the FP8 path (quantized next, from float like the CPU twin), else BF16.
  void* activation = scratch(ScratchSlot::kMoeRows, rows * intermediate * (fp8 ? sizeof(float) : 2));
  gate_up.out = activation;
  gate_up.out_f32 = fp8;

  dsinfer::cuda::GroupedGemmParams down{};
  down.weight0_experts = table(kDown);
  down.weight0_scale_experts = scale_table(kDownScales);
  down.expert_offsets = expert_offsets;
  down.tile_offsets = tile_offsets;
  down.experts = expert_count;
  down.rows = rows;
  down.n = hidden;
  down.k = intermediate;
  // [rows, hidden]: each expert's output row, F32 under F32 activations.
  void* expert_rows = scratch(ScratchSlot::kMoeOutputs, rows * hidden * (f32 ? sizeof(float) : 2));
  down.out = expert_rows;
  down.out_f32 = f32;

  if (fp8) {
    const int64_t hidden_blocks = (hidden + 127) / 128, intermediate_blocks = (intermediate + 127) / 128;
    auto* quantized_input = scratch_as<uint8_t>(ScratchSlot::kQuantizedActivations, tokens * hidden);
    float* input_scales = scratch_as<float>(ScratchSlot::kActivationScales, hidden_blocks * tokens);
    dsinfer::cuda::quantize_fp8_groups(input.data(), input.dtype(), hidden, quantized_input, input_scales, tokens, tokens,
                                       hidden, stream);
    gate_up.a = quantized_input;
    gate_up.a_scales = input_scales;
    gate_up.a_scales_stride = tokens;
    run_expert_gemm(gate_up, kernel, /*fp8=*/true, /*gated=*/true, active_experts, stream);

    auto* quantized_activation = scratch_as<uint8_t>(ScratchSlot::kGemmOutput, rows * intermediate);
    float* activation_scales = scratch_as<float>(ScratchSlot::kMoeRowScales, intermediate_blocks * rows);
    dsinfer::cuda::quantize_fp8_groups(activation, DType::kF32, intermediate, quantized_activation, activation_scales,
                                       rows, rows, intermediate, stream);
    down.a = quantized_activation;
    down.a_scales = activation_scales;
    down.a_scales_stride = rows;
    run_expert_gemm(down, kernel, /*fp8=*/true, /*gated=*/false, active_experts, stream);
  } else {
    gate_up.a = input.data();
    run_expert_gemm(gate_up, kernel, /*fp8=*/false, /*gated=*/true, active_experts, stream);
    down.a = activation;
    run_expert_gemm(down, kernel, /*fp8=*/false, /*gated=*/false, active_experts, stream);
  }
  dsinfer::cuda::moe_combine(expert_rows, f32 ? DType::kF32 : DType::kBF16, slot_positions,
                             topk_weights.data_as<const float>(), tokens, static_cast<int>(top_k), hidden, output.data(),
                             output.dtype(), stream);
}

}  // namespace dsinfer::ops::cuda
