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

// Staged uploads (per-step metadata): queued without waiting, in order with the copies and kernels after them;
// the staging tensor is rewritten only after wait_for_device. Each round writes new values into the same staging
// memory and uploads a whole tensor and a slice, then reads both back through a device-to-device copy on the
// stream.
TEST(StagedUpload, ArrivesInStreamOrderRoundAfterRound) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const int64_t count = 4099;
  Tensor staging = ops::empty_staging({count}, DType::kI32, Device::kCuda);
  Tensor device = Tensor::empty({count}, DType::kI32, Device::kCuda);
  Tensor device_copy = Tensor::empty({count}, DType::kI32, Device::kCuda);
  Tensor back = Tensor::empty({count}, DType::kI32);
  for (int round = 0; round < 20; ++round) {
    ops::wait_for_device(Device::kCuda);
    const int32_t base = static_cast<int32_t>(random.engine()() % 100000);
    for (int64_t i = 0; i < count; ++i) staging.data_as<int32_t>()[i] = base + static_cast<int32_t>(i);
    ops::upload(staging, device);
    Tensor head = device.slice_rows(0, 100);
    ops::upload(staging.slice_rows(count - 100, count), head);  // the first 100 now hold the last 100
    ops::copy(device, device_copy);                             // queued after the uploads
    ops::copy(device_copy, back);
    for (int64_t i = 0; i < count; ++i) {
      const int32_t expected = base + static_cast<int32_t>(i < 100 ? count - 100 + i : i);
      ASSERT_EQ(back.data_as<int32_t>()[i], expected) << "round " << round << ", element " << i;
    }
  }
  Tensor wrong_shape = Tensor::empty({count - 1}, DType::kI32, Device::kCuda);
  EXPECT_THROW(ops::upload(staging, wrong_shape), Error);
}

}  // namespace
}  // namespace dsinfer
