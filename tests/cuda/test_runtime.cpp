// The device runtime: the memory pool's best-fit / coalescing bookkeeping and its out-of-memory message,
// scratch growth, host <-> device copies and on-device casts.
#include <gtest/gtest.h>

#include "core/error.h"
#include "gpu_testing.h"
#include "kernels/runtime/device_pool.h"
#include "kernels/runtime/scratch.h"
#include "ops/copy.h"

namespace dsinfer {
namespace {

using gpu_testing::RandomSource;

TEST(DevicePool, ReusesAndCoalescesFreedBlocks) {
  DSINFER_REQUIRE_GPU();
  cuda::DevicePool pool(size_t{64} << 20);
  void* first = pool.allocate(1000);
  void* second = pool.allocate(size_t{16} << 20);
  void* third = pool.allocate(5000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % cuda::DevicePool::kAlignment, 0u);
  EXPECT_EQ(static_cast<char*>(second) - static_cast<char*>(first), 1024);  // 1000 rounded to 256
  pool.release(second);
  void* again = pool.allocate(size_t{8} << 20);  // best fit: the hole left by `second`
  EXPECT_EQ(again, second);
  pool.release(again);
  pool.release(first);
  pool.release(third);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  EXPECT_EQ(pool.largest_free_block(), pool.capacity());  // every block merged back into one
}

TEST(DevicePool, ExhaustionNamesTheSizesAndTheRemedy) {
  DSINFER_REQUIRE_GPU();
  cuda::DevicePool pool(size_t{1} << 20);
  void* block = pool.allocate(size_t{768} << 10);
  try {
    pool.allocate(size_t{512} << 10);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("exhausted"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("--mem-fraction-static"), std::string::npos) << error.what();
  }
  pool.release(block);
  EXPECT_THROW(pool.release(block), Error);  // double release is caught
}

TEST(Scratch, GrowsAndKeepsItsBufferOtherwise) {
  DSINFER_REQUIRE_GPU();
  void* small = cuda::scratch(cuda::ScratchSlot::kSampling, 1024);
  EXPECT_EQ(cuda::scratch(cuda::ScratchSlot::kSampling, 512), small);
  void* large = cuda::scratch(cuda::ScratchSlot::kSampling, size_t{4} << 20);
  EXPECT_NE(large, nullptr);
  EXPECT_EQ(cuda::scratch(cuda::ScratchSlot::kSampling, size_t{4} << 20), large);
}

TEST(CopyAndCast, RoundTripAndConvertOnTheDevice) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  Tensor host = random.normal_tensor({37, 129});
  Tensor device = gpu_testing::poisoned({37, 129}, DType::kF32);
  ops::copy(host, device);
  Tensor device_bf16 = gpu_testing::poisoned({37, 129}, DType::kBF16);
  ops::cast(device, device_bf16);
  Tensor device_back = gpu_testing::poisoned({37, 129}, DType::kF32);
  ops::cast(device_bf16, device_back);
  Tensor back = Tensor::empty({37, 129}, DType::kF32);
  ops::copy(device_back, back);
  for (int64_t i = 0; i < host.numel(); ++i)
    ASSERT_EQ(back.data_as<float>()[i], bf16_to_float(float_to_bf16(host.data_as<float>()[i]))) << i;
  Tensor exact = Tensor::empty({37, 129}, DType::kF32);
  ops::copy(device, exact);
  EXPECT_EQ(std::memcmp(exact.data(), host.data(), host.nbytes()), 0);
}

}  // namespace
}  // namespace dsinfer
