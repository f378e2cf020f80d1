#include "io/checkpoint_audit.h"

#include <set>

#include "core/error.h"

namespace dsinfer {

namespace {

std::string dtype_list(const std::vector<DType>& dtypes) {
  std::string list;
  for (DType dtype : dtypes) list += (list.empty() ? "" : " / ") + std::string(dtype_name(dtype));
  return list;
}

bool layer_present(const std::vector<std::string>& names, int layer) {
  std::string prefix = "model.layers." + std::to_string(layer) + ".";
  for (const auto& name : names) {
    if (name.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

// Checks one expected tensor and its FP8 block scales, adding to `accounted` the stored names they explain.
void check_tensor(const ExpectedTensor& expected, const ModelConfig& config, const Checkpoint& checkpoint,
                  CheckpointAudit& audit, std::set<std::string>& accounted) {
  if (!checkpoint.contains(expected.name)) {
    // Listed by the index but in a shard that is missing or corrupt: already reported once for the shard.
    if (checkpoint.unavailable_tensors().count(expected.name)) return;
    audit.problems.push_back(detail::concat("missing tensor \"", expected.name, "\" (",
                                            dtype_name(expected.dtypes[0]), shape_to_string(expected.shape),
                                            ")"));
    return;
  }
  accounted.insert(expected.name);
  const SafetensorsEntry& stored = checkpoint.entry(expected.name);
  const std::string& file = checkpoint.file_of(expected.name);
  if (stored.shape != expected.shape) {
    audit.problems.push_back(detail::concat("tensor \"", expected.name, "\" in ", file, " has shape ",
                                            shape_to_string(stored.shape), ", expected ",
                                            shape_to_string(expected.shape), " from config.json"));
  }
  bool allowed = false;
  for (DType dtype : expected.dtypes) allowed = allowed || dtype == stored.dtype;
  if (!allowed) {
    std::string hint = stored.dtype == DType::kF8E4M3 && !config.quantization.enabled
                           ? " (config.json has no FP8 quantization_config)"
                           : "";
    audit.problems.push_back(detail::concat("tensor \"", expected.name, "\" in ", file, " has dtype ",
                                            dtype_name(stored.dtype), ", expected ",
                                            dtype_list(expected.dtypes), hint));
  }
  if (!expected.fp8_scale_shape) return;
  std::string scale_name = fp8_scale_name(expected.name);
  bool is_fp8 = stored.dtype == DType::kF8E4M3;
  if (!checkpoint.contains(scale_name)) {
    if (is_fp8 && !checkpoint.unavailable_tensors().count(scale_name)) {
      audit.problems.push_back(detail::concat(
          "missing tensor \"", scale_name, "\" (F32", shape_to_string(*expected.fp8_scale_shape),
          "): the FP8 weight \"", expected.name, "\" needs its block scales"));
    }
    return;
  }
  accounted.insert(scale_name);
  const SafetensorsEntry& scale = checkpoint.entry(scale_name);
  if (!is_fp8) {
    audit.problems.push_back(detail::concat("tensor \"", scale_name, "\" in ", checkpoint.file_of(scale_name),
                                            " holds FP8 block scales, but \"", expected.name, "\" is ",
                                            dtype_name(stored.dtype), ", not F8_E4M3"));
  } else if (scale.dtype != DType::kF32 || scale.shape != *expected.fp8_scale_shape) {
    audit.problems.push_back(detail::concat(
        "tensor \"", scale_name, "\" in ", checkpoint.file_of(scale_name), " is ", dtype_name(scale.dtype),
        shape_to_string(scale.shape), ", expected F32", shape_to_string(*expected.fp8_scale_shape),
        " (one scale per ", config.quantization.block_rows, "x", config.quantization.block_cols, " block of ",
        shape_to_string(stored.shape), ")"));
  }
}

}  // namespace

CheckpointAudit audit_checkpoint(const ModelConfig& config, const Checkpoint& checkpoint) {
  CheckpointAudit audit;
  const std::vector<std::string> names = checkpoint.tensor_names();
  const std::vector<ExpectedTensor> expected = expected_tensors(config);

  // MTP layers are optional (converted checkpoints often drop them); one that is present must be complete.
  std::set<int> present_mtp_layers;
  for (int index = 0; index < config.num_nextn_predict_layers; ++index) {
    int layer = config.num_hidden_layers + index;
    if (layer_present(names, layer)) present_mtp_layers.insert(layer);
  }
  audit.mtp_layers_present = static_cast<int>(present_mtp_layers.size());

  std::set<std::string> accounted;
  std::map<std::string, const ExpectedTensor*> expected_by_name;
  for (const ExpectedTensor& tensor : expected) {
    if (tensor.mtp && !present_mtp_layers.count(tensor.layer)) continue;
    expected_by_name.emplace(tensor.name, &tensor);
    check_tensor(tensor, config, checkpoint, audit, accounted);
  }

  ParameterCounter counter;
  for (const std::string& name : names) {
    const SafetensorsEntry& stored = checkpoint.entry(name);
    DTypeUsage& usage = audit.dtypes[stored.dtype];
    usage.tensors += 1;
    usage.bytes += stored.data_end - stored.data_begin;
    audit.total_bytes += stored.data_end - stored.data_begin;
    auto found = expected_by_name.find(name);
    bool is_expected = found != expected_by_name.end();
    if (!accounted.count(name)) audit.unused_tensors.push_back(name);
    // FP8 block scales ("..._scale_inv") are not parameters.
    if (name.size() >= 10 && name.compare(name.size() - 10, 10, "_scale_inv") == 0) continue;
    counter.add(is_expected ? found->second : nullptr, shape_numel(stored.shape));
  }
  audit.parameters = counter.result(config);
  return audit;
}

}  // namespace dsinfer
