// The NCCL communicator in a world of one rank (this machine's GPU count): the all-reduce runs through NCCL on
// the compute stream and leaves the values as they were; bad ids and dtypes are clear errors.
#include <gtest/gtest.h>

#include "core/error.h"
#include "gpu_testing.h"
#include "kernels/runtime/nccl_communicator.h"

namespace dsinfer {
namespace {

TEST(NcclCommunicator, WorldOfOneSumsToItself) {
  DSINFER_REQUIRE_GPU();
  gpu_testing::RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  auto communicator = cuda::make_nccl_communicator(0, 1, cuda::make_nccl_unique_id());
  EXPECT_EQ(communicator->rank(), 0);
  EXPECT_EQ(communicator->size(), 1);
  for (DType dtype : {DType::kBF16, DType::kF32}) {
    Tensor host = gpu_testing::normal_f32_bf16_exact(random, {37, 2048});
    Tensor device = gpu_testing::to_gpu(host, dtype);
    communicator->all_reduce_sum(device);
    Tensor back = gpu_testing::to_cpu_f32(device);
    for (int64_t i = 0; i < host.numel(); ++i) ASSERT_EQ(back.data_as<float>()[i], host.data_as<float>()[i]) << i;
  }
  Tensor ids = Tensor::empty({4}, DType::kI32, Device::kCuda);
  EXPECT_THROW(communicator->all_reduce_sum(ids), Error);
}

TEST(NcclCommunicator, RejectsAMalformedUniqueId) {
  DSINFER_REQUIRE_GPU();
  EXPECT_THROW(cuda::make_nccl_communicator(0, 1, "not-hex"), Error);
  EXPECT_THROW(cuda::make_nccl_communicator(1, 1, cuda::make_nccl_unique_id()), Error);
}

}  // namespace
}  // namespace dsinfer
