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
// activations. With shared experts, output = shared(x) + the combine: on the skinny kernel the shared experts
// are the dense set of both grouped launches (their CTAs beside the experts', two launches fewer on the
// layer's chain); otherwise they run first as silu_gated_linear + linear into the output.
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
#include "ops/cuda/skinny_projection.h"

namespace dsinfer::ops::cuda {

namespace {

using dsinfer::cuda::ScratchSlot;
using dsinfer::cuda::scratch;
using dsinfer::cuda::scratch_as;

static_assert(kExpertOrderRowsPerTile == dsinfer::cuda::kGroupedRowsPerTile,
              "an ExpertOrder's tile offsets must count the grouped GEMM's row tiles");

enum ExpertTable { kGate, kUp, kDown, kGateScales, kUpScales, kDownScales, kTables };

// Where the grouped GEMMs find expert e's tensors: device tables of every expert's weight and scale addresses
// ([kTables][experts] pointers), wherever the loader put them; and, for each kind of tensor the loader stacked at
// one stride (the CUDA loader does), that base and stride, so a CTA computes the address instead of loading it.
struct ExpertTensors {
  const void* const* tables;
  const void* bases[kTables];  // null where the experts' tensors of that kind are not evenly strided
  int64_t strides[kTables];    // bytes
};

// Built once per expert list; each call compares the list's addresses with the cached ones on the host (a few
// hundred compares) and rebuilds if they moved. The first forward of a shape runs eagerly before any CUDA graph
// capture, so the build never happens inside one.
ExpertTensors expert_tensors(const std::vector<MlpWeights>& experts) {
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
  ExpertTensors tensors{cached.device.data_as<const void* const>(), {}, {}};
  for (int kind = 0; kind < kTables; ++kind) {
    const auto* first_address = static_cast<const uint8_t*>(cached.addresses[kind * count]);
    const int64_t stride = count > 1 ? static_cast<const uint8_t*>(cached.addresses[kind * count + 1]) - first_address : 0;
    bool even = first_address != nullptr && stride > 0;
    for (size_t e = 2; even && e < count; ++e)
      even = static_cast<const uint8_t*>(cached.addresses[kind * count + e]) == first_address + e * stride;
    tensors.bases[kind] = even ? first_address : nullptr;
    tensors.strides[kind] = even ? stride : 0;
  }
  return tensors;
}

// The expert GEMM of `params` on the kernel for this batch (see the file comment).
enum class ExpertKernel { kSkinny, kTiled, kFloat32 };

// Skinny kernel only: `dense` (may be null) the shared experts' part of this launch; `stacked` the bases and
// strides of params' weights and scales (weight0, weight1, scales0, scales1; null bases where not stacked).
struct StackedExperts {
  const void* weights[2];
  const float* scales[2];
  int64_t weight_strides[2], scale_strides[2];
};

// Skinny kernel only: see SkinnyGemmParams::trigger_after_wait and dense_input_final.
struct LaunchOrdering {
  bool trigger_after_wait = false;
  bool order_ready_before_wait = false;
  bool dense_input_final = false;
};

void run_expert_gemm(const dsinfer::cuda::GroupedGemmParams& params, ExpertKernel kernel, bool fp8, bool gated,
                     const int32_t* active_experts, const dsinfer::cuda::SkinnyDenseSet* dense,
                     const StackedExperts& stacked, const LaunchOrdering& ordering, cudaStream_t stream) {
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
  auto projection = [&](const void* const* weights, const float* const* scales, int which) {
    dsinfer::cuda::SkinnyProjection result{};
    result.weight_experts = weights;
    result.scale_experts = scales;
    if (stacked.weights[which] != nullptr && (!fp8 || stacked.scales[which] != nullptr)) {
      result.weight = stacked.weights[which];
      result.expert_weight_bytes = stacked.weight_strides[which];
      result.scales = stacked.scales[which];
      result.expert_scale_bytes = stacked.scale_strides[which];
    }
    result.scale_row_length = (params.k + 127) / 128;  // each expert's weight_scale_inv [ceil(n/128), ceil(k/128)]
    result.n = params.n;
    result.out = params.out;
    result.out_f32 = params.out_f32;
    return result;
  };
  skinny.projections[0] = projection(params.weight0_experts, params.weight0_scale_experts, 0);
  skinny.projection_count = 1;
  if (gated) {
    skinny.projections[1] = projection(params.weight1_experts, params.weight1_scale_experts, 1);
    skinny.projection_count = 2;
    skinny.gated = true;
  }
  if (dense != nullptr) skinny.dense = *dense;
  skinny.trigger_after_wait = ordering.trigger_after_wait;
  skinny.order_ready_before_wait = ordering.order_ready_before_wait;
  skinny.dense_input_final = ordering.dense_input_final;
  dsinfer::cuda::skinny_gemm(skinny, fp8, stream);
}

// The shared experts' projections as the skinny kernel's dense set, reading `a` ([tokens, k], with FP8 scales).
dsinfer::cuda::SkinnyDenseSet dense_set(const void* a, const float* a_scales, int64_t a_scales_stride, int64_t tokens,
                                        int64_t k, const LinearWeight& first, const LinearWeight* second, void* out,
                                        bool out_f32) {
  dsinfer::cuda::SkinnyDenseSet dense{};
  dense.a = a;
  dense.a_scales = a_scales;
  dense.a_scales_stride = a_scales_stride;
  dense.k = k;
  dense.rows = tokens;
  const LinearWeight* weights[2] = {&first, second};
  for (int p = 0; p < (second != nullptr ? 2 : 1); ++p)
    dense.projections[p] = skinny_projection(*weights[p], out, out_f32);
  return dense;
}

}  // namespace

void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights, const ExpertOrder* order,
                 const std::vector<MlpWeights>& experts, const MlpWeights* shared_experts, Tensor& output,
                 bool /*quantize_activations*/, bool input_is_final) {
  dsinfer::cuda::OpTimer timer("moe_experts");
  // BF16 activations, or F32 (the F32-activation mode: FP8 experts quantize their input from F32, sum on the
  // CUDA cores in float32 and write F32 expert rows, so nothing on the way is rounded to BF16).
  const bool f32 = input.dtype() == DType::kF32;
  DSINFER_CHECK((input.dtype() == DType::kBF16 || f32) && output.dtype() == input.dtype(),
                "ops::moe_experts on CUDA: input ", input.describe(), " and output ", output.describe(),
                " must both be BF16 or both F32");
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
  // The shared experts beside the routed ones in the skinny launches, or first on their own (output = theirs).
  const bool dense_shared = shared_experts != nullptr && kernel == ExpertKernel::kSkinny;
  if (shared_experts != nullptr && !dense_shared) {
    const int64_t shared_intermediate = shared_experts->gate_proj.out_features();
    Tensor shared_activation = Tensor::view(
        scratch(ScratchSlot::kMoeRows, tokens * shared_intermediate * dtype_size(input.dtype())),
        {tokens, shared_intermediate}, input.dtype(), Device::kCuda);  // [T, I_shared]
    cuda::silu_gated_linear(input, shared_experts->gate_proj, shared_experts->up_proj, shared_activation, fp8);
    cuda::linear(shared_activation, shared_experts->down_proj, output, fp8);
  }

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

  const ExpertTensors tensors = expert_tensors(experts);
  const void* const* tables = tensors.tables;
  auto table = [&](ExpertTable which) { return tables + which * expert_count; };
  auto stacked = [&](ExpertTable first, ExpertTable second, ExpertTable first_scales, ExpertTable second_scales) {
    return StackedExperts{{tensors.bases[first], tensors.bases[second]},
                          {static_cast<const float*>(tensors.bases[first_scales]),
                           static_cast<const float*>(tensors.bases[second_scales])},
                          {tensors.strides[first], tensors.strides[second]},
                          {tensors.strides[first_scales], tensors.strides[second_scales]}};
  };
  const StackedExperts gate_up_stacked = stacked(kGate, kUp, kGateScales, kUpScales);
  const StackedExperts down_stacked = stacked(kDown, kDown, kDownScales, kDownScales);
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
  // [rows, intermediate]: F32 on the FP8 path (quantized next, from float like the CPU twin), else BF16; then
  // the dense shared experts' [tokens, shared_intermediate] likewise.
  const int64_t shared_intermediate = dense_shared ? shared_experts->gate_proj.out_features() : 0;
  const size_t activation_bytes = fp8 ? sizeof(float) : 2;
  auto* activation = static_cast<uint8_t*>(
      scratch(ScratchSlot::kMoeRows, (rows * intermediate + tokens * shared_intermediate) * activation_bytes));
  uint8_t* shared_activation = activation + rows * intermediate * activation_bytes;
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

  // The shared experts as the dense sets: gate + up on the token rows, then down into `output`.
  dsinfer::cuda::SkinnyDenseSet shared_gate_up{}, shared_down{};
  auto dense_sets = [&](const void* input_rows, const float* input_scales, const void* activation_rows,
                        const float* activation_scales, int64_t activation_scales_stride) {
    if (!dense_shared) return;
    shared_gate_up = dense_set(input_rows, input_scales, tokens, tokens, hidden, shared_experts->gate_proj,
                               &shared_experts->up_proj, shared_activation, /*out_f32=*/fp8);
    shared_down = dense_set(activation_rows, activation_scales, activation_scales_stride, tokens, shared_intermediate,
                            shared_experts->down_proj, nullptr, output.data(), /*out_f32=*/false);
  };
  const dsinfer::cuda::SkinnyDenseSet* gate_up_dense = dense_shared ? &shared_gate_up : nullptr;
  const dsinfer::cuda::SkinnyDenseSet* down_dense = dense_shared ? &shared_down : nullptr;
  // On the skinny kernel, the gate/up launch lets later launches start only once the expert order is final, so
  // the down launch's routed CTAs fetch their weights while gate/up finishes (the FP8 path's quantization in
  // between starts after gate/up too); and with BF16 input that was final before this op (input_is_final), the
  // shared experts' gate/up CTAs run without waiting for the routing. See SkinnyGemmParams.
  const bool skinny = kernel == ExpertKernel::kSkinny;
  const LaunchOrdering gate_up_ordering{.trigger_after_wait = skinny,
                                        .dense_input_final = skinny && !fp8 && input_is_final && dense_shared};
  const LaunchOrdering down_ordering{.order_ready_before_wait = skinny};

  if (fp8) {
    const int64_t hidden_blocks = (hidden + 127) / 128, intermediate_blocks = (intermediate + 127) / 128;
    const int64_t shared_blocks = (shared_intermediate + 127) / 128;
    auto* quantized_input = scratch_as<uint8_t>(ScratchSlot::kQuantizedActivations, tokens * hidden);
    float* input_scales = scratch_as<float>(ScratchSlot::kActivationScales, hidden_blocks * tokens);
    dsinfer::cuda::quantize_fp8_groups(input.data(), input.dtype(), hidden, quantized_input, input_scales,
                                       tokens, tokens, hidden, stream);
    // e4m3 copies of the expert rows' activations (then the shared experts'), with their scales. When the
    // shared experts are as wide as one expert (V3 under TP8), their rows just follow: one quantization.
    const bool one_quantization = dense_shared && shared_intermediate == intermediate;
    const int64_t routed_scales_stride = one_quantization ? rows + tokens : rows;
    auto* quantized_activation =
        scratch_as<uint8_t>(ScratchSlot::kGemmOutput, rows * intermediate + tokens * shared_intermediate);
    auto* activation_scales =
        scratch_as<float>(ScratchSlot::kMoeRowScales, intermediate_blocks * rows + shared_blocks * tokens);
    uint8_t* quantized_shared = quantized_activation + rows * intermediate;
    float* shared_scales =
        one_quantization ? activation_scales + rows : activation_scales + intermediate_blocks * rows;
    dense_sets(quantized_input, input_scales, quantized_shared, shared_scales,
               one_quantization ? routed_scales_stride : tokens);
    gate_up.a = quantized_input;
    gate_up.a_scales = input_scales;
    gate_up.a_scales_stride = tokens;
    run_expert_gemm(gate_up, kernel, /*fp8=*/true, /*gated=*/true, active_experts, gate_up_dense,
                    gate_up_stacked, gate_up_ordering, stream);

    const int64_t quantized_rows = one_quantization ? rows + tokens : rows;
    dsinfer::cuda::quantize_fp8_groups(activation, DType::kF32, intermediate, quantized_activation,
                                       activation_scales, quantized_rows, quantized_rows, intermediate,
                                       stream);
    if (dense_shared && !one_quantization) {
      dsinfer::cuda::quantize_fp8_groups(shared_activation, DType::kF32, shared_intermediate,
                                         quantized_shared, shared_scales, tokens, tokens, shared_intermediate,
                                         stream);
    }
    down.a = quantized_activation;
    down.a_scales = activation_scales;
    down.a_scales_stride = routed_scales_stride;
    run_expert_gemm(down, kernel, /*fp8=*/true, /*gated=*/false, active_experts, down_dense, down_stacked,
                    down_ordering, stream);
  } else {
    dense_sets(input.data(), nullptr, shared_activation, nullptr, 0);
    gate_up.a = input.data();
    run_expert_gemm(gate_up, kernel, /*fp8=*/false, /*gated=*/true, active_experts, gate_up_dense,
                    gate_up_stacked, gate_up_ordering, stream);
    down.a = activation;
    run_expert_gemm(down, kernel, /*fp8=*/false, /*gated=*/false, active_experts, down_dense, down_stacked,
                    down_ordering, stream);
  }
  dsinfer::cuda::moe_combine(expert_rows, f32 ? DType::kF32 : DType::kBF16, slot_positions,
                             topk_weights.data_as<const float>(), tokens, static_cast<int>(top_k), hidden,
                             output.data(), output.dtype(), stream);
}

}  // namespace dsinfer::ops::cuda
