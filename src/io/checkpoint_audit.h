// Checks a checkpoint against the tensors its config implies, from the safetensors headers alone (no tensor
// data is read), and sums up what it holds: the facts `dsinfer inspect` prints.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/expected_tensors.h"
#include "model/config.h"

namespace dsinfer {

struct DTypeUsage {
  int64_t tensors = 0;
  uint64_t bytes = 0;
};

struct CheckpointAudit {
  // Each one makes the checkpoint unusable with this config: a missing tensor, a wrong shape or dtype, FP8
  // block scales missing or misshapen. Every one is listed, not just the first.
  std::vector<std::string> problems;
  std::vector<std::string> unused_tensors;  // stored but not part of the model the config describes
  int mtp_layers_present = 0;               // of config.num_nextn_predict_layers
  ParameterCount parameters;                // over the tensors stored (FP8 block scales are not parameters)
  std::map<DType, DTypeUsage> dtypes;       // over the tensors stored
  uint64_t total_bytes = 0;
};

CheckpointAudit audit_checkpoint(const ModelConfig& config, const Checkpoint& checkpoint);

}  // namespace dsinfer
