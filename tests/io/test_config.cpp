#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "io/io_test_support.h"
#include "model/config.h"

namespace dsinfer {
namespace {

using ::testing::AllOf;
using testing::error_message;
using ::testing::HasSubstr;

std::string real_config_path(const std::string& name) {
  return std::string(DSINFER_TESTDATA_DIR) + "/configs/" + name + "/config.json";
}

TEST(ModelConfig, ParsesThePublishedDeepSeekV3Config) {
  ModelConfig config = load_model_config(real_config_path("deepseek-v3"));
  EXPECT_EQ(config.model_type, "deepseek_v3");
  EXPECT_EQ(config.vocab_size, 129280);
  EXPECT_EQ(config.hidden_size, 7168);
  EXPECT_EQ(config.intermediate_size, 18432);
  EXPECT_EQ(config.moe_intermediate_size, 2048);
  EXPECT_EQ(config.num_hidden_layers, 61);
  EXPECT_EQ(config.num_nextn_predict_layers, 1);
  EXPECT_EQ(config.num_attention_heads, 128);
  EXPECT_EQ(config.num_key_value_heads, 128);
  EXPECT_EQ(config.n_shared_experts, 1);
  EXPECT_EQ(config.n_routed_experts, 256);
  EXPECT_EQ(config.routed_scaling_factor, 2.5);
  EXPECT_EQ(config.kv_lora_rank, 512);
  ASSERT_TRUE(config.q_lora_rank.has_value());
  EXPECT_EQ(*config.q_lora_rank, 1536);
  EXPECT_EQ(config.qk_rope_head_dim, 64);
  EXPECT_EQ(config.qk_nope_head_dim, 128);
  EXPECT_EQ(config.v_head_dim, 128);
  EXPECT_EQ(config.qk_head_dim(), 192);
  EXPECT_EQ(config.kv_cache_width(), 576);
  EXPECT_EQ(config.topk_method, TopkMethod::kNoauxTc);
  EXPECT_EQ(config.n_group, 8);
  EXPECT_EQ(config.topk_group, 4);
  EXPECT_EQ(config.num_experts_per_tok, 8);
  EXPECT_EQ(config.moe_layer_freq, 1);
  EXPECT_EQ(config.first_k_dense_replace, 3);
  EXPECT_TRUE(config.norm_topk_prob);
  EXPECT_EQ(config.scoring_func, ScoringFunc::kSigmoid);
  EXPECT_EQ(config.max_position_embeddings, 163840);
  EXPECT_EQ(config.rms_norm_eps, 1e-6);
  EXPECT_EQ(config.rope_theta, 10000.0);
  EXPECT_TRUE(config.rope_scaling.yarn);
  EXPECT_EQ(config.rope_scaling.factor, 40.0);
  EXPECT_EQ(config.rope_scaling.mscale, 1.0);
  EXPECT_EQ(config.rope_scaling.mscale_all_dim, 1.0);
  EXPECT_EQ(config.rope_scaling.beta_fast, 32.0);
  EXPECT_EQ(config.rope_scaling.beta_slow, 1.0);
  EXPECT_EQ(config.rope_scaling.original_max_position_embeddings, 4096);
  EXPECT_TRUE(config.quantization.enabled);
  EXPECT_EQ(config.quantization.block_rows, 128);
  EXPECT_EQ(config.quantization.block_cols, 128);
  EXPECT_TRUE(config.quantization.dynamic_activations);
  EXPECT_FALSE(config.tie_word_embeddings);
  EXPECT_EQ(config.bos_token_id, 0);
  EXPECT_EQ(config.eos_token_id, 1);
  EXPECT_FALSE(config.is_moe_layer(2));
  EXPECT_TRUE(config.is_moe_layer(3));
  EXPECT_TRUE(config.is_moe_layer(60));
  // gen.py softmax_scale: 192^-0.5 * (0.1 * 1.0 * ln 40 + 1)^2.
  EXPECT_NEAR(config.softmax_scale(), 0.1352337788608801, 1e-15);
}

TEST(ModelConfig, ParsesThePublishedDeepSeekV2LiteConfig) {
  ModelConfig config = load_model_config(real_config_path("deepseek-v2-lite"));
  EXPECT_EQ(config.model_type, "deepseek_v2");
  EXPECT_EQ(config.vocab_size, 102400);
  EXPECT_EQ(config.hidden_size, 2048);
  EXPECT_EQ(config.num_hidden_layers, 27);
  EXPECT_EQ(config.num_nextn_predict_layers, 0);
  EXPECT_EQ(config.first_k_dense_replace, 1);
  EXPECT_EQ(config.intermediate_size, 10944);
  EXPECT_EQ(config.moe_intermediate_size, 1408);
  EXPECT_EQ(config.n_routed_experts, 64);
  EXPECT_EQ(config.n_shared_experts, 2);
  EXPECT_EQ(config.num_experts_per_tok, 6);
  EXPECT_EQ(config.topk_method, TopkMethod::kGreedy);
  EXPECT_EQ(config.scoring_func, ScoringFunc::kSoftmax);
  EXPECT_EQ(config.n_group, 1);
  EXPECT_EQ(config.topk_group, 1);
  EXPECT_FALSE(config.q_lora_rank.has_value());
  EXPECT_EQ(config.kv_lora_rank, 512);
  EXPECT_EQ(config.qk_nope_head_dim, 128);
  EXPECT_EQ(config.qk_rope_head_dim, 64);
  EXPECT_EQ(config.v_head_dim, 128);
  EXPECT_EQ(config.num_attention_heads, 16);
  EXPECT_EQ(config.routed_scaling_factor, 1.0);
  EXPECT_FALSE(config.norm_topk_prob);
  EXPECT_TRUE(config.rope_scaling.yarn);
  EXPECT_EQ(config.rope_scaling.factor, 40.0);
  EXPECT_EQ(config.rope_scaling.mscale, 0.707);
  EXPECT_EQ(config.rope_scaling.mscale_all_dim, 0.707);
  EXPECT_EQ(config.rope_scaling.original_max_position_embeddings, 4096);
  EXPECT_FALSE(config.quantization.enabled);
  EXPECT_EQ(config.bos_token_id, 100000);
  EXPECT_EQ(config.eos_token_id, 100001);
  EXPECT_EQ(config.max_position_embeddings, 163840);
  EXPECT_FALSE(config.is_moe_layer(0));
  EXPECT_TRUE(config.is_moe_layer(1));
  EXPECT_NEAR(config.softmax_scale(), 0.1147213867929261, 1e-15);
}

TEST(ModelConfig, ParsesEveryFixtureConfig) {
  struct Expected {
    std::string model;
    std::string model_type;
    int64_t hidden_size;
    std::optional<int64_t> q_lora_rank;
    TopkMethod topk_method;
    ScoringFunc scoring_func;
    int n_group, topk_group, num_experts_per_tok, n_shared_experts;
    double routed_scaling_factor;
    bool fp8;
    int64_t vocab_size;
    double softmax_scale;  // gen.py softmax_scale
  };
  const Expected cases[] = {
      {"dsv3-tiny-bf16", "deepseek_v3", 192, 96, TopkMethod::kNoauxTc, ScoringFunc::kSigmoid, 4, 2, 4, 1, 2.5,
       false, 512, 0.23423177588657831},
      {"dsv3-tiny-fp8", "deepseek_v3", 256, 192, TopkMethod::kNoauxTc, ScoringFunc::kSigmoid, 4, 2, 4, 1, 2.5,
       true, 512, 0.19124944415602058},
      {"dsv2-lite-tiny-bf16", "deepseek_v2", 160, std::nullopt, TopkMethod::kGreedy, ScoringFunc::kSoftmax, 1,
       1, 4, 2, 1.0, false, 512, 0.125 * std::pow(0.1 * 0.707 * std::log(40.0) + 1.0, 2)},
      {"dsv2-tiny-bf16", "deepseek_v2", 160, 64, TopkMethod::kGroupLimitedGreedy, ScoringFunc::kSoftmax, 4, 2,
       3, 2, 16.0, false, 512, 0.125 * std::pow(0.1 * 0.707 * std::log(40.0) + 1.0, 2)},
      {"dsv3-tiny-fullvocab", "deepseek_v3", 16, 16, TopkMethod::kNoauxTc, ScoringFunc::kSigmoid, 4, 2, 2, 1,
       2.5, false, 129280, 0.25 * std::pow(0.1 * std::log(40.0) + 1.0, 2)},
  };
  for (const Expected& expected : cases) {
    SCOPED_TRACE(expected.model);
    ModelConfig config = load_model_config(testing::fixture_folder(expected.model) + "/config.json");
    EXPECT_EQ(config.model_type, expected.model_type);
    EXPECT_EQ(config.hidden_size, expected.hidden_size);
    EXPECT_EQ(config.q_lora_rank, expected.q_lora_rank);
    EXPECT_EQ(config.topk_method, expected.topk_method);
    EXPECT_EQ(config.scoring_func, expected.scoring_func);
    EXPECT_EQ(config.n_group, expected.n_group);
    EXPECT_EQ(config.topk_group, expected.topk_group);
    EXPECT_EQ(config.num_experts_per_tok, expected.num_experts_per_tok);
    EXPECT_EQ(config.n_shared_experts, expected.n_shared_experts);
    EXPECT_EQ(config.routed_scaling_factor, expected.routed_scaling_factor);
    EXPECT_EQ(config.quantization.enabled, expected.fp8);
    EXPECT_EQ(config.vocab_size, expected.vocab_size);
    EXPECT_EQ(config.num_nextn_predict_layers, 0);
    EXPECT_EQ(config.first_k_dense_replace, 1);
    EXPECT_NEAR(config.softmax_scale(), expected.softmax_scale, 1e-15);
  }
}

TEST(ModelConfig, AbsentFieldsTakeTheDefaultsOfDeepSeeksConfigClasses) {
  ModelConfig v3 = parse_model_config(R"({"model_type": "deepseek_v3"})");
  EXPECT_EQ(v3.hidden_size, 7168);
  EXPECT_EQ(v3.n_routed_experts, 256);
  EXPECT_EQ(v3.topk_method, TopkMethod::kNoauxTc);
  EXPECT_EQ(v3.scoring_func, ScoringFunc::kSigmoid);
  EXPECT_EQ(v3.q_lora_rank, 1536);  // absent, unlike null, means the default
  EXPECT_EQ(v3.num_nextn_predict_layers, 1);
  EXPECT_EQ(v3.max_position_embeddings, 4096);
  EXPECT_FALSE(v3.rope_scaling.yarn);
  EXPECT_FALSE(v3.quantization.enabled);
  EXPECT_NEAR(v3.softmax_scale(), 1.0 / std::sqrt(192.0), 1e-15);  // no YaRN: plain 1/sqrt(d)

  // DeepseekV2Config leaves experts unset: a dense model.
  ModelConfig v2 = parse_model_config(R"({"model_type": "deepseek_v2"})");
  EXPECT_EQ(v2.n_routed_experts, 0);
  EXPECT_FALSE(v2.is_moe_layer(5));
  EXPECT_EQ(v2.hidden_size, 4096);
  EXPECT_EQ(v2.num_hidden_layers, 30);
  EXPECT_EQ(v2.vocab_size, 102400);
  EXPECT_EQ(v2.topk_method, TopkMethod::kGreedy);
  EXPECT_EQ(v2.bos_token_id, 100000);

  // Newer transformers spell the YaRN type "rope_type"; mscale_all_dim defaults to 0 (no attention rescale).
  ModelConfig yarn = parse_model_config(
      R"({"model_type": "deepseek_v3", "rope_scaling": {"rope_type": "yarn", "factor": 4}, "eos_token_id": null})");
  EXPECT_TRUE(yarn.rope_scaling.yarn);
  EXPECT_EQ(yarn.rope_scaling.factor, 4.0);
  EXPECT_EQ(yarn.rope_scaling.mscale_all_dim, 0.0);
  EXPECT_EQ(yarn.rope_scaling.beta_fast, 32.0);
  EXPECT_EQ(yarn.eos_token_id, -1);
  EXPECT_NEAR(yarn.softmax_scale(), 1.0 / std::sqrt(192.0), 1e-15);
}

// Each unsupported or inconsistent value is an error naming its field and the file.
TEST(ModelConfig, EveryUnsupportedValueNamesItsField) {
  const nlohmann::json base = nlohmann::json::parse(testing::read_file(real_config_path("deepseek-v3")));
  struct Case {
    std::string field;  // the name the message must carry
    std::function<void(nlohmann::json&)> edit;
    std::string detail;
  };
  const std::vector<Case> cases = {
      {"model_type", [](auto& c) { c["model_type"] = "llama"; }, "unsupported value \"llama\""},
      {"model_type", [](auto& c) { c.erase("model_type"); }, "is missing"},
      {"hidden_act", [](auto& c) { c["hidden_act"] = "gelu"; }, "unsupported value \"gelu\""},
      {"attention_bias", [](auto& c) { c["attention_bias"] = true; }, "no biases"},
      {"rope_scaling.type", [](auto& c) { c["rope_scaling"]["type"] = "linear"; }, "supported: yarn"},
      {"rope_scaling.rope_type", [](auto& c) { c["rope_scaling"]["rope_type"] = "dynamic"; }, "\"yarn\""},
      {"rope_scaling.factor", [](auto& c) { c["rope_scaling"].erase("factor"); }, "is missing"},
      {"rope_scaling.factor", [](auto& c) { c["rope_scaling"]["factor"] = "forty"; }, "must be a number"},
      {"rope_scaling", [](auto& c) { c["rope_scaling"] = 3; }, "must be an object"},
      {"quantization_config.quant_method", [](auto& c) { c["quantization_config"]["quant_method"] = "awq"; },
       "unsupported value \"awq\""},
      {"quantization_config.weight_block_size",
       [](auto& c) {
         c["quantization_config"]["weight_block_size"] = {64, 64};
       },
       "[128, 128]"},
      {"quantization_config.weight_block_size",
       [](auto& c) { c["quantization_config"].erase("weight_block_size"); }, "is missing"},
      {"quantization_config.fmt", [](auto& c) { c["quantization_config"]["fmt"] = "e5m2"; }, "\"e5m2\""},
      {"quantization_config.activation_scheme",
       [](auto& c) { c["quantization_config"]["activation_scheme"] = "static"; }, "\"static\""},
      {"topk_method", [](auto& c) { c["topk_method"] = "random"; },
       "supported: greedy, group_limited_greedy, noaux_tc"},
      {"scoring_func", [](auto& c) { c["scoring_func"] = "relu"; }, "\"relu\""},
      {"scoring_func", [](auto& c) { c["scoring_func"] = "softmax"; }, "noaux_tc"},
      {"scoring_func", [](auto& c) { c["topk_method"] = "greedy"; }, "must be \"softmax\""},
      {"n_routed_experts", [](auto& c) { c["n_routed_experts"] = 255; }, "not divisible by n_group (8)"},
      {"topk_group", [](auto& c) { c["topk_group"] = 9; }, "more than n_group"},
      {"num_experts_per_tok", [](auto& c) { c["num_experts_per_tok"] = 0; }, "[1, n_routed_experts = 256]"},
      {"num_experts_per_tok",
       [](auto& c) {
         c["topk_group"] = 1;
         c["num_experts_per_tok"] = 40;
       },
       "32 experts"},
      {"n_group",
       [](auto& c) {
         c["n_group"] = 256;
         c["topk_group"] = 8;
       },
       "at least 2 experts per group"},
      {"hidden_size", [](auto& c) { c["hidden_size"] = "big"; }, "must be an integer"},
      {"hidden_size", [](auto& c) { c["hidden_size"] = 7168.5; }, "must be an integer"},
      {"hidden_size", [](auto& c) { c["hidden_size"] = -7168; }, "outside the supported range"},
      {"num_hidden_layers", [](auto& c) { c["num_hidden_layers"] = 0; }, "outside the supported range"},
      {"vocab_size", [](auto& c) { c["vocab_size"] = 18446744073709551615u; }, "outside the supported range"},
      {"qk_rope_head_dim", [](auto& c) { c["qk_rope_head_dim"] = 63; }, "must be even"},
      {"q_lora_rank", [](auto& c) { c["q_lora_rank"] = 0; }, "outside the supported range"},
      {"first_k_dense_replace", [](auto& c) { c["first_k_dense_replace"] = 62; },
       "more than num_hidden_layers"},
      {"moe_layer_freq", [](auto& c) { c["moe_layer_freq"] = 0; }, "outside the supported range"},
      {"norm_topk_prob", [](auto& c) { c["norm_topk_prob"] = "yes"; }, "must be true or false"},
      {"rms_norm_eps", [](auto& c) { c["rms_norm_eps"] = 0; }, "must be positive"},
      {"routed_scaling_factor", [](auto& c) { c["routed_scaling_factor"] = -1; }, "must be positive"},
      {"num_nextn_predict_layers", [](auto& c) { c["num_nextn_predict_layers"] = -1; },
       "outside the supported range"},
  };
  for (const Case& bad : cases) {
    nlohmann::json config = base;
    bad.edit(config);
    std::string message = error_message([&] { parse_model_config(config.dump(), "/models/v3/config.json"); });
    EXPECT_THAT(message, AllOf(HasSubstr("/models/v3/config.json"), HasSubstr("field '" + bad.field + "'"),
                               HasSubstr(bad.detail)))
        << "case: " << bad.field << " / " << bad.detail;
  }
}

TEST(ModelConfig, ReportsUnreadableFiles) {
  EXPECT_THAT(error_message([] { parse_model_config("{\"model_type\": ", "x/config.json"); }),
              AllOf(HasSubstr("x/config.json"), HasSubstr("not valid JSON")));
  EXPECT_THAT(error_message([] {
                parse_model_config(R"({"model_type": "deepseek_v3", "hidden_size": 1e400})", "x/config.json");
              }),
              AllOf(HasSubstr("x/config.json"), HasSubstr("not valid JSON")));
  EXPECT_THAT(error_message([] { parse_model_config("[]", "x/config.json"); }),
              AllOf(HasSubstr("x/config.json"), HasSubstr("must be a JSON object")));
  EXPECT_THAT(error_message([] { load_model_config("/nonexistent/folder/config.json"); }),
              HasSubstr("cannot open /nonexistent/folder/config.json"));
}

}  // namespace
}  // namespace dsinfer
