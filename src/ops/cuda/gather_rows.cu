// gather_rows: the embedding lookup and the selection of rows that need logits.
#include "kernels/common/launch.cuh"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {
// One block per output row. An index outside [0, rows) writes NaN so the error shows instead of reading
// another allocation (the host validates token ids before they get here).
__global__ void gather_rows_kernel(const void* source, FloatKind source_kind, int64_t rows, int64_t width,
                                   const int32_t* indices, void* output, FloatKind output_kind) {
  dsinfer::cuda::allow_next_kernel();
  dsinfer::cuda::wait_for_previous_kernel();
  const int64_t row = blockIdx.x;
  const int32_t index = indices[row];
  const bool valid = index >= 0 && index < rows;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    float value = valid ? load_as_float(source, source_kind, static_cast<int64_t>(index) * width + i) : NAN;
    store_from_float(output, output_kind, row * width + i, value);
  }
}
}  // namespace

void gather_rows(const Tensor& source, const Tensor& indices, Tensor& output) {
  dsinfer::cuda::OpTimer timer("gather_rows");
  require_float_dtype("gather_rows", source);
  require_float_dtype("gather_rows", output);
  const int64_t count = indices.dim(0);
  if (count == 0) return;
  dsinfer::cuda::launch_kernel("gather_rows_kernel", gather_rows_kernel, static_cast<unsigned>(count), 256, 0,
                               dsinfer::cuda::current_stream(), source.data(), float_kind(source), source.dim(0),
                               source.dim(1), indices.data_as<const int32_t>(), output.data(), float_kind(output));
}

}  // namespace dsinfer::ops::cuda
