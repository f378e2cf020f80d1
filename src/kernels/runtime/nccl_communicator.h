// The model's Communicator over NCCL: all_reduce_sum is an in-place ncclAllReduce on the compute stream, so it
// orders with the ops around it and can sit inside a captured CUDA graph. One communicator per process (rank);
// ranks meet through an NCCL unique id that rank 0 makes and hands to the others (make_nccl_unique_id gives it
// as hex text for a launcher to pass along). Built when NCCL is found next to the CUDA toolkit.
#pragma once

#include <memory>
#include <string>

#include "model/communicator.h"

namespace dsinfer::cuda {

// A fresh NCCL unique id, hex-encoded.
std::string make_nccl_unique_id();

// Joins the `size`-rank clique named by `unique_id` as `rank` (blocks until every rank has joined) on the
// current CUDA device. Throws dsinfer::Error naming the NCCL failure.
std::unique_ptr<Communicator> make_nccl_communicator(int rank, int size, const std::string& unique_id);

}  // namespace dsinfer::cuda
