// Communicator: how tensor-parallel ranks combine their partial results. The model calls all_reduce_sum after
// every row-parallel projection (o_proj, the MLP / MoE down projections), whose outputs are partial sums.
#pragma once

#include "core/tensor.h"

namespace dsinfer {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Replaces `tensor` (same shape on every rank) by its elementwise sum over all ranks.
  virtual void all_reduce_sum(Tensor& tensor) = 0;
};

// One process, one rank: world size 1, so every reduction is the identity.
class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(Tensor&) override {}
};

// Rank `rank` of a `size`-way deployment run alone, communication skipped: one GPU's share of the work, for
// timing (--simulate-rank). Its outputs are partial sums, not the model's results.
class SimulatedRankCommunicator final : public Communicator {
 public:
  SimulatedRankCommunicator(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(Tensor&) override {}

 private:
  int rank_, size_;
};

}  // namespace dsinfer
