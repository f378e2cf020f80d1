#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "io/checkpoint_audit.h"
#include "io/checkpoint_copies.h"
#include "io/expected_tensors.h"

namespace dsinfer {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

ModelConfig fixture_config(const std::string& model) {
  return load_model_config(testing::fixture_folder(model) + "/config.json");
}

ModelConfig published_config(const std::string& name) {
  return load_model_config(std::string(DSINFER_TESTDATA_DIR) + "/configs/" + name + "/config.json");
}

TEST(CheckpointAudit, EveryFixtureIsCompleteAndItsParametersAddUp) {
  for (const std::string& model : testing::fixture_models()) {
    SCOPED_TRACE(model);
    ModelConfig config = fixture_config(model);
    Checkpoint checkpoint = Checkpoint::open(testing::fixture_folder(model));
    CheckpointAudit audit = audit_checkpoint(config, checkpoint);
    EXPECT_THAT(audit.problems, IsEmpty());
    EXPECT_THAT(audit.unused_tensors, IsEmpty());
    EXPECT_EQ(audit.mtp_layers_present, 0);

    // Independent sums over the stored tensors.
    int64_t parameters = 0, embedding = 0, scale_tensors = 0;
    uint64_t bytes = 0;
    for (const std::string& name : checkpoint.tensor_names()) {
      const SafetensorsEntry& entry = checkpoint.entry(name);
      bytes += entry.data_end - entry.data_begin;
      if (ends_with(name, "_scale_inv")) {
        ++scale_tensors;
        continue;
      }
      parameters += shape_numel(entry.shape);
      if (name == "model.embed_tokens.weight") embedding = shape_numel(entry.shape);
    }
    EXPECT_EQ(audit.parameters.total, parameters);
    EXPECT_EQ(audit.parameters.mtp, 0);
    // Active: all but the embedding table and the experts a token is not routed to.
    int64_t moe_layers = config.num_hidden_layers - config.first_k_dense_replace;
    int64_t expert_parameters = 3 * config.hidden_size * config.moe_intermediate_size;
    EXPECT_EQ(audit.parameters.active_per_token,
              parameters - embedding -
                  moe_layers * (config.n_routed_experts - config.num_experts_per_tok) * expert_parameters);
    // A complete checkpoint holds exactly what the config implies.
    ParameterCount implied = count_parameters(expected_tensors(config), config, false);
    EXPECT_EQ(implied.total, audit.parameters.total);
    EXPECT_EQ(implied.active_per_token, audit.parameters.active_per_token);

    EXPECT_EQ(audit.total_bytes, bytes);
    EXPECT_EQ(audit.total_bytes,
              testing::read_index(testing::fixture_folder(model))["metadata"]["total_size"]);
    uint64_t dtype_bytes = 0;
    int64_t dtype_tensors = 0;
    for (const auto& [dtype, usage] : audit.dtypes) {
      dtype_bytes += usage.bytes;
      dtype_tensors += usage.tensors;
    }
    EXPECT_EQ(dtype_bytes, bytes);
    EXPECT_EQ(dtype_tensors, static_cast<int64_t>(checkpoint.tensor_names().size()));
    if (config.quantization.enabled) {
      EXPECT_GT(scale_tensors, 0);
      EXPECT_EQ(audit.dtypes[DType::kF8E4M3].tensors,
                scale_tensors);  // one block-scale tensor per FP8 weight
    } else {
      EXPECT_EQ(audit.dtypes.count(DType::kF8E4M3), 0u);
    }
  }
}

const ExpectedTensor& find_expected(const std::vector<ExpectedTensor>& expected, const std::string& name) {
  auto found =
      std::find_if(expected.begin(), expected.end(), [&](const ExpectedTensor& t) { return t.name == name; });
  if (found == expected.end()) throw std::runtime_error("not expected: " + name);
  return *found;
}

bool is_expected(const std::vector<ExpectedTensor>& expected, const std::string& name) {
  return std::any_of(expected.begin(), expected.end(),
                     [&](const ExpectedTensor& t) { return t.name == name; });
}

TEST(ExpectedTensors, PublishedDeepSeekV3) {
  ModelConfig config = published_config("deepseek-v3");
  std::vector<ExpectedTensor> expected = expected_tensors(config);
  // Per layer: 2 norms + q_a, q_a_layernorm, q_b, kv_a, kv_a_layernorm, kv_b, o; dense MLP 3; MoE: router
  // weight, correction bias, 256 x 3 expert and 3 shared-expert matrices. MTP adds embed, enorm, hnorm,
  // eh_proj, shared_head.norm and shared_head.head to a MoE layer.
  size_t main = 1 + 61 * 9 + 3 * 3 + 58 * (2 + 256 * 3 + 3) + 2;
  EXPECT_EQ(expected.size(), main + 6 + 9 + (2 + 256 * 3 + 3));

  const ExpectedTensor& kv_a = find_expected(expected, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight");
  EXPECT_EQ(kv_a.shape, (Shape{576, 7168}));
  EXPECT_EQ(kv_a.fp8_scale_shape, (Shape{5, 56}));  // ceil(576 / 128) = 5 partial-edge blocks
  EXPECT_EQ(kv_a.dtypes.front(), DType::kF8E4M3);
  EXPECT_EQ(find_expected(expected, "model.layers.0.self_attn.q_b_proj.weight").shape, (Shape{24576, 1536}));
  EXPECT_EQ(find_expected(expected, "model.layers.0.self_attn.kv_b_proj.weight").shape, (Shape{32768, 512}));
  EXPECT_EQ(find_expected(expected, "model.layers.0.self_attn.o_proj.weight").shape, (Shape{7168, 16384}));
  EXPECT_EQ(find_expected(expected, "model.layers.2.mlp.down_proj.weight").fp8_scale_shape, (Shape{56, 144}));
  EXPECT_FALSE(is_expected(expected, "model.layers.2.mlp.gate.weight"));
  const ExpectedTensor& expert = find_expected(expected, "model.layers.3.mlp.experts.255.down_proj.weight");
  EXPECT_EQ(expert.shape, (Shape{7168, 2048}));
  EXPECT_EQ(expert.layer, 3);
  EXPECT_EQ(expert.expert, 255);
  const ExpectedTensor& bias = find_expected(expected, "model.layers.60.mlp.gate.e_score_correction_bias");
  EXPECT_EQ(bias.shape, Shape{256});
  EXPECT_FALSE(bias.fp8_scale_shape.has_value());
  EXPECT_EQ(find_expected(expected, "model.layers.60.mlp.shared_experts.up_proj.weight").shape,
            (Shape{2048, 7168}));
  EXPECT_EQ(find_expected(expected, "lm_head.weight").shape, (Shape{129280, 7168}));
  EXPECT_FALSE(find_expected(expected, "lm_head.weight").fp8_scale_shape.has_value());
  const ExpectedTensor& eh_proj = find_expected(expected, "model.layers.61.eh_proj.weight");
  EXPECT_EQ(eh_proj.shape, (Shape{7168, 14336}));
  EXPECT_TRUE(eh_proj.mtp);
  EXPECT_TRUE(find_expected(expected, "model.layers.61.mlp.experts.0.gate_proj.weight").mtp);
  EXPECT_FALSE(is_expected(expected, "model.layers.62.input_layernorm.weight"));
  EXPECT_EQ(fp8_scale_name("model.layers.3.mlp.experts.0.up_proj.weight"),
            "model.layers.3.mlp.experts.0.up_proj.weight_scale_inv");
}

TEST(ExpectedTensors, PublishedDeepSeekV2Lite) {
  ModelConfig config = published_config("deepseek-v2-lite");
  std::vector<ExpectedTensor> expected = expected_tensors(config);
  EXPECT_EQ(expected.size(),
            1u + 27 * 7 + 3 + 26 * (1 + 64 * 3 + 3) + 2);  // q_proj instead of q LoRA, no bias
  EXPECT_EQ(find_expected(expected, "model.layers.0.self_attn.q_proj.weight").shape, (Shape{3072, 2048}));
  EXPECT_FALSE(is_expected(expected, "model.layers.0.self_attn.q_a_proj.weight"));
  EXPECT_FALSE(is_expected(expected, "model.layers.1.mlp.gate.e_score_correction_bias"));
  EXPECT_EQ(find_expected(expected, "model.layers.1.mlp.shared_experts.gate_proj.weight").shape,
            (Shape{2816, 2048}));
  EXPECT_EQ(find_expected(expected, "model.layers.0.mlp.gate_proj.weight").shape, (Shape{10944, 2048}));
  for (const ExpectedTensor& tensor : expected) {
    EXPECT_FALSE(tensor.fp8_scale_shape.has_value()) << tensor.name;
    EXPECT_EQ(tensor.dtypes.front(), DType::kBF16) << tensor.name;
  }
}

// The published totals: DeepSeek-V3 671B with 36.6B active (its README_WEIGHTS: "including 0.9B for the
// output head"), 11.5B unique in the MTP module beside its copies of the embedding and head;
// V2-Lite 15.7B, 2.4B active.
TEST(ExpectedTensors, ParameterCountsOfThePublishedModels) {
  ModelConfig v3 = published_config("deepseek-v3");
  ParameterCount main = count_parameters(expected_tensors(v3), v3, false);
  EXPECT_EQ(main.total, 671026419200);
  EXPECT_EQ(main.active_per_token, 36625618432);
  EXPECT_EQ(main.mtp, 0);
  ParameterCount with_mtp = count_parameters(expected_tensors(v3), v3, true);
  EXPECT_EQ(with_mtp.total, 684489845504);
  EXPECT_EQ(with_mtp.mtp, 13463426304);
  EXPECT_EQ(with_mtp.active_per_token, main.active_per_token);
  EXPECT_NEAR(with_mtp.mtp - 2 * 129280 * 7168, 11.5e9, 0.15e9);

  ModelConfig lite = published_config("deepseek-v2-lite");
  ParameterCount lite_count = count_parameters(expected_tensors(lite), lite, true);
  EXPECT_EQ(lite_count.total, 15706484224);
  EXPECT_EQ(lite_count.active_per_token, 2451435008);
  EXPECT_NEAR(lite_count.total, 15.7e9, 0.05e9);
  EXPECT_NEAR(lite_count.active_per_token, 2.4e9, 0.06e9);
}

class AuditOfAModifiedCheckpoint : public ::testing::Test {
 protected:
  // Writes the fixture's tensors after `edit` as a single model.safetensors, with `config` as config.json.
  CheckpointAudit audit(const std::string& model, const nlohmann::json& config,
                        const std::function<void(std::vector<std::pair<std::string, Tensor>>&)>& edit) {
    auto tensors = testing::fixture_tensors(model);
    edit(tensors);
    write_safetensors(folder_.file("model.safetensors"), tensors);
    testing::write_file(folder_.file("config.json"), config.dump());
    return audit_checkpoint(load_model_config(folder_.file("config.json")), Checkpoint::open(folder_.path()));
  }
  static nlohmann::json config_of(const std::string& model) {
    return nlohmann::json::parse(testing::read_file(testing::fixture_folder(model) + "/config.json"));
  }
  static void erase(std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& name) {
    auto found =
        std::find_if(tensors.begin(), tensors.end(), [&](const auto& item) { return item.first == name; });
    ASSERT_NE(found, tensors.end()) << name;
    tensors.erase(found);
  }
  static Tensor& find(std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& name) {
    return std::find_if(tensors.begin(), tensors.end(), [&](const auto& item) { return item.first == name; })
        ->second;
  }
  std::string file() const { return folder_.file("model.safetensors"); }

  testing::TemporaryFolder folder_;
};

TEST_F(AuditOfAModifiedCheckpoint, ListsEveryProblem) {
  const std::string model = "dsv3-tiny-fp8";
  CheckpointAudit result = audit(model, config_of(model), [](auto& tensors) {
    erase(tensors, "model.layers.2.mlp.experts.5.up_proj.weight");
    erase(tensors, "model.layers.2.mlp.experts.5.up_proj.weight_scale_inv");
    erase(tensors, "model.layers.1.self_attn.o_proj.weight_scale_inv");
    Tensor& layernorm = find(tensors, "model.layers.0.self_attn.kv_a_layernorm.weight");
    layernorm = layernorm.reshape({2, 64});
    Tensor& norm = find(tensors, "model.norm.weight");
    norm = Tensor::view(norm.data(), norm.shape(), DType::kU16);
    Tensor& scale = find(tensors, "model.layers.1.self_attn.q_a_proj.weight_scale_inv");
    scale = scale.reshape({4, 1});
    tensors.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", Tensor::zeros({16}, DType::kF32));
  });
  EXPECT_THAT(
      result.problems,
      ElementsAre(
          HasSubstr("tensor \"model.layers.0.self_attn.kv_a_layernorm.weight\" in " + file() +
                    " has shape [2, 64], expected [128] from config.json"),
          AllOf(HasSubstr("\"model.layers.1.self_attn.q_a_proj.weight_scale_inv\" in " + file()),
                HasSubstr("is F32[4, 1], expected F32[2, 2]")),
          HasSubstr("missing tensor \"model.layers.1.self_attn.o_proj.weight_scale_inv\" (F32[2, 2])"),
          HasSubstr("missing tensor \"model.layers.2.mlp.experts.5.up_proj.weight\" (F8_E4M3[96, 256])"),
          HasSubstr("tensor \"model.norm.weight\" in " + file() +
                    " has dtype U16, expected BF16 / F32 / F16")));
  EXPECT_THAT(result.unused_tensors, ElementsAre("model.layers.0.self_attn.rotary_emb.inv_freq"));
}

// A shard that can not be read is one problem, not one per tensor it holds.
TEST(CheckpointAudit, ReportsAnUnreadableShardOnce) {
  testing::TemporaryFolder folder;
  testing::copy_fixture_config("dsv3-tiny-fp8", folder.path());
  testing::write_sharded_checkpoint(folder.path(), testing::fixture_tensors("dsv3-tiny-fp8"), 4);
  std::string third = folder.file("model-00003-of-00004.safetensors");
  std::filesystem::resize_file(third, std::filesystem::file_size(third) - 1);
  std::filesystem::remove(folder.file("model-00004-of-00004.safetensors"));

  std::vector<std::string> problems;
  Checkpoint checkpoint = Checkpoint::open_collecting(folder.path(), &problems);
  ASSERT_THAT(problems, SizeIs(2));
  CheckpointAudit audit = audit_checkpoint(fixture_config("dsv3-tiny-fp8"), checkpoint);
  EXPECT_THAT(audit.problems, IsEmpty());
  EXPECT_THAT(problems[0], AllOf(HasSubstr(third), HasSubstr("truncated")));
  EXPECT_THAT(problems[1], HasSubstr("model-00004-of-00004.safetensors is missing"));
}

TEST_F(AuditOfAModifiedCheckpoint, Fp8WeightsNeedAQuantizationConfig) {
  nlohmann::json config = config_of("dsv3-tiny-fp8");
  config.erase("quantization_config");
  CheckpointAudit result = audit("dsv3-tiny-fp8", config, [](auto&) {});
  ASSERT_THAT(result.problems, SizeIs(result.dtypes[DType::kF8E4M3].tensors));
  EXPECT_THAT(result.problems.front(), AllOf(HasSubstr("has dtype F8_E4M3, expected BF16 / F32 / F16"),
                                             HasSubstr("(config.json has no FP8 quantization_config)")));
  // The scales then belong to nothing the config describes.
  EXPECT_THAT(result.unused_tensors, SizeIs(result.dtypes[DType::kF8E4M3].tensors));
}

TEST_F(AuditOfAModifiedCheckpoint, MtpLayersAreCheckedOnlyWhenPresent) {
  const std::string model = "dsv3-tiny-bf16";
  nlohmann::json config = config_of(model);
  config["num_nextn_predict_layers"] = 1;
  ModelConfig parsed = parse_model_config(config.dump());
  std::vector<ExpectedTensor> mtp_tensors;
  for (const ExpectedTensor& tensor : expected_tensors(parsed)) {
    if (tensor.mtp) mtp_tensors.push_back(tensor);
  }

  CheckpointAudit absent = audit(model, config, [](auto&) {});
  EXPECT_THAT(absent.problems, IsEmpty());
  EXPECT_EQ(absent.mtp_layers_present, 0);

  CheckpointAudit partial = audit(model, config, [](auto& tensors) {
    tensors.emplace_back("model.layers.3.enorm.weight", Tensor::zeros({192}, DType::kBF16));
  });
  EXPECT_EQ(partial.mtp_layers_present, 1);
  EXPECT_THAT(partial.problems, SizeIs(mtp_tensors.size() - 1));
  EXPECT_THAT(partial.problems.front(), HasSubstr("missing tensor \"model.layers.3."));

  CheckpointAudit complete = audit(model, config, [&](auto& tensors) {
    for (const ExpectedTensor& tensor : mtp_tensors) {
      tensors.emplace_back(tensor.name, Tensor::zeros(tensor.shape, tensor.dtypes.front()));
    }
  });
  EXPECT_THAT(complete.problems, IsEmpty());
  ParameterCount implied = count_parameters(expected_tensors(parsed), parsed, true);
  EXPECT_EQ(complete.parameters.mtp, implied.mtp);
  EXPECT_EQ(complete.parameters.total, implied.total);
  EXPECT_EQ(complete.parameters.active_per_token, implied.active_per_token);
  EXPECT_EQ(complete.parameters.active_per_token, absent.parameters.active_per_token);  // MTP is not active
}

}  // namespace
}  // namespace dsinfer
