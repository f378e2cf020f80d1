#include "kernels/runtime/nccl_communicator.h"

#include <nccl.h>

#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "kernels/runtime/device.h"

namespace dsinfer::cuda {

namespace {

void check_nccl(ncclResult_t status, const char* call) {
  if (status != ncclSuccess) fail("NCCL error in ", call, ": ", ncclGetErrorString(status), " (", ncclGetLastError(nullptr), ")");
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(int rank, int size, const ncclUniqueId& id) : rank_(rank), size_(size) {
    check_nccl(ncclCommInitRank(&communicator_, size, id, rank), "ncclCommInitRank");
  }
  ~NcclCommunicator() override { ncclCommDestroy(communicator_); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(Tensor& tensor) override {
    DSINFER_CHECK(tensor.device() == Device::kCuda, "NCCL all-reduce: ", tensor.describe(), " is not on the GPU");
    ncclDataType_t type;
    switch (tensor.dtype()) {
      case DType::kBF16: type = ncclBfloat16; break;
      case DType::kF16: type = ncclFloat16; break;
      case DType::kF32: type = ncclFloat32; break;
      default: fail("NCCL all-reduce: cannot sum ", tensor.describe(), " (BF16, F16 or F32)");
    }
    if (tensor.numel() == 0) return;
    check_nccl(ncclAllReduce(tensor.data(), tensor.data(), static_cast<size_t>(tensor.numel()), type, ncclSum,
                             communicator_, current_stream()),
               "ncclAllReduce");
  }

 private:
  int rank_, size_;
  ncclComm_t communicator_ = nullptr;
};

}  // namespace

std::string make_nccl_unique_id() {
  ncclUniqueId id;
  check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  std::string hex;
  char digits[3];
  for (size_t i = 0; i < sizeof(id.internal); ++i) {
    std::snprintf(digits, sizeof(digits), "%02x", static_cast<unsigned char>(id.internal[i]));
    hex += digits;
  }
  return hex;
}

std::unique_ptr<Communicator> make_nccl_communicator(int rank, int size, const std::string& unique_id) {
  DSINFER_CHECK(size >= 1 && rank >= 0 && rank < size, "NCCL communicator: rank ", rank, " outside [0, ", size, ")");
  ncclUniqueId id;
  DSINFER_CHECK(unique_id.size() == 2 * sizeof(id.internal), "NCCL communicator: the unique id must be ",
                2 * sizeof(id.internal), " hex digits (from make_nccl_unique_id), got ", unique_id.size());
  for (size_t i = 0; i < sizeof(id.internal); ++i) {
    unsigned value = 0;
    DSINFER_CHECK(std::sscanf(unique_id.c_str() + 2 * i, "%2x", &value) == 1, "NCCL communicator: \"", unique_id,
                  "\" is not hex");
    id.internal[i] = static_cast<char>(value);
  }
  return std::make_unique<NcclCommunicator>(rank, size, id);
}

}  // namespace dsinfer::cuda
