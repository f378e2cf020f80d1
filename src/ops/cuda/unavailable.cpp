// Compiled only when dsinfer is built without CUDA: every CUDA op says so, so a --device cuda request fails
// with an actionable message instead of a link error.
#include "core/error.h"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {
[[noreturn]] void unavailable(const char* op_name) {
  fail("ops::", op_name, ": dsinfer was built without CUDA (nvcc was not found at configure time); rebuild on a "
       "machine with the CUDA toolkit, or use --device cpu");
}
}  // namespace

void linear(const Tensor&, const LinearWeight&, Tensor&, bool) { unavailable("linear"); }
void linear_pair(const Tensor&, const LinearWeight&, const LinearWeight&, Tensor&, Tensor&, bool) {
  unavailable("linear_pair");
}
void silu_gated_linear(const Tensor&, const LinearWeight&, const LinearWeight&, Tensor&, bool) {
  unavailable("silu_gated_linear");
}
void quantize_fp8_per_token_group(const Tensor&, Tensor&, Tensor&) { unavailable("quantize_fp8_per_token_group"); }
void gather_rows(const Tensor&, const Tensor&, Tensor&) { unavailable("gather_rows"); }
void rms_norm(const Tensor&, const Tensor&, double, Tensor&) { unavailable("rms_norm"); }
void add_rms_norm(Tensor&, const Tensor&, const Tensor&, double, Tensor&) { unavailable("add_rms_norm"); }
void rope(Tensor&, const Tensor&, const Tensor&) { unavailable("rope"); }
void silu_and_mul(const Tensor&, const Tensor&, Tensor&) { unavailable("silu_and_mul"); }
void moe_routing(const Tensor&, const Tensor&, const MoeRoutingParams&, Tensor&, Tensor&, ExpertOrder*) {
  unavailable("moe_routing");
}
void moe_route(const Tensor&, const LinearWeight&, const Tensor&, const MoeRoutingParams&, Tensor&, Tensor&, Tensor&,
               ExpertOrder*) {
  unavailable("moe_route");
}
void moe_experts(const Tensor&, const Tensor&, const Tensor&, const ExpertOrder*, const std::vector<MlpWeights>&,
                 const MlpWeights*, Tensor&, bool, bool) {
  unavailable("moe_experts");
}
void mla_cache_write(const Tensor&, const Tensor&, double, const Tensor&, const Tensor&, const Tensor&, Tensor&, bool,
                     Tensor*) {
  unavailable("mla_cache_write");
}
void mla_prefill_attention(const Tensor&, const Tensor&, const LinearWeight&, const AttentionBatch&, double,
                           Tensor&, bool) {
  unavailable("mla_prefill_attention");
}
void mla_decode_attention(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const AttentionBatch&, double,
                          Tensor&) {
  unavailable("mla_decode_attention");
}
void copy(const Tensor&, Tensor&) { unavailable("copy"); }
Tensor empty_pinned(Shape, DType) { unavailable("empty_staging"); }
void upload(const Tensor&, Tensor&) { unavailable("upload"); }
void wait_for_device() { unavailable("wait_for_device"); }
void cast(const Tensor&, Tensor&) { unavailable("cast"); }
void fill_random(Tensor&, uint64_t, float, float) { unavailable("fill_random"); }
void initialize_device() { unavailable("initialize_device"); }
void argmax_rows(const Tensor&, Tensor&) { unavailable("argmax_rows"); }
void sample_tokens(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&) {
  unavailable("sample_tokens");
}
class CapturedGraph {};
void begin_graph_capture() { unavailable("begin_graph_capture"); }
std::shared_ptr<CapturedGraph> end_graph_capture() { unavailable("end_graph_capture"); }
void abort_graph_capture() { unavailable("abort_graph_capture"); }
void replay_graph(const CapturedGraph&) { unavailable("replay_graph"); }
uint64_t graph_memory_generation() { unavailable("graph_memory_generation"); }

}  // namespace dsinfer::ops::cuda
