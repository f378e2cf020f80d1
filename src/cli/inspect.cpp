// dsinfer inspect --model DIR [--json]: checks that a hub checkpoint is complete for its config.json (every
// tensor present with the right shape and dtype, shards intact) and prints a summary, reading only the
// safetensors headers. Exit 0 when complete; 1 with every problem listed when not.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "io/checkpoint_audit.h"
#include "model/config.h"

namespace dsinfer::cli {

namespace {

constexpr size_t kUnusedNamesShown = 10;  // text mode; --json lists all

struct InspectReport {
  std::string folder;
  std::vector<std::string> problems;  // checkpoint structure first, then the audit against the config
  std::optional<ModelConfig> config;
  std::optional<CheckpointAudit> audit;
  std::vector<std::string> shards;
  size_t tensor_count = 0;
};

InspectReport inspect(const std::string& folder) {
  InspectReport report;
  report.folder = folder;
  Checkpoint checkpoint = Checkpoint::open_collecting(folder, &report.problems);
  report.shards = checkpoint.shard_paths();
  report.tensor_count = checkpoint.tensor_names().size();
  std::string config_path = (std::filesystem::path(folder) / "config.json").string();
  if (std::filesystem::exists(config_path)) {
    try {
      report.config = load_model_config(config_path);
    } catch (const Error& error) {
      report.problems.push_back(error.what());
    }
  }
  if (report.config) {
    report.audit = audit_checkpoint(*report.config, checkpoint);
    report.problems.insert(report.problems.end(), report.audit->problems.begin(),
                           report.audit->problems.end());
  }
  return report;
}

std::string with_commas(uint64_t value) {
  std::string digits = std::to_string(value);
  for (int position = static_cast<int>(digits.size()) - 3; position > 0; position -= 3) {
    digits.insert(position, ",");
  }
  return digits;
}

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

std::string human_count(int64_t count) {
  char text[32];
  if (count >= 1'000'000'000) {
    std::snprintf(text, sizeof(text), "%.2f B", count / 1e9);
  } else {
    std::snprintf(text, sizeof(text), "%.2f M", count / 1e6);
  }
  return text;
}

const char* topk_method_name(TopkMethod method) {
  switch (method) {
    case TopkMethod::kGreedy:
      return "greedy";
    case TopkMethod::kGroupLimitedGreedy:
      return "group_limited_greedy";
    case TopkMethod::kNoauxTc:
      return "noaux_tc";
  }
  return "?";
}

const char* scoring_func_name(ScoringFunc func) {
  return func == ScoringFunc::kSoftmax ? "softmax" : "sigmoid";
}

int moe_layer_count(const ModelConfig& config) {
  int count = 0;
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) count += config.is_moe_layer(layer);
  return count;
}

void print_text(const InspectReport& report) {
  auto line = [](const char* label, const std::string& value) {
    std::printf("%-14s %s\n", label, value.c_str());
  };
  line("model", report.folder);
  if (report.config) {
    const ModelConfig& config = *report.config;
    std::string attention = detail::concat(
        "MLA, ", config.num_attention_heads, " heads, ",
        config.q_lora_rank ? "q LoRA " + std::to_string(*config.q_lora_rank) : std::string("no q LoRA"),
        ", kv LoRA ", config.kv_lora_rank, ", qk ", config.qk_nope_head_dim, " + ", config.qk_rope_head_dim,
        " rope, v ", config.v_head_dim);
    if (config.rope_scaling.yarn) attention += detail::concat(", YaRN x", config.rope_scaling.factor);
    line("architecture", detail::concat(config.model_type, ": hidden ", config.hidden_size, ", vocab ",
                                        config.vocab_size, ", ", attention));
    int moe_layers = moe_layer_count(config);
    line("layers",
         detail::concat(config.num_hidden_layers, " (", config.num_hidden_layers - moe_layers, " dense, ",
                        moe_layers, " MoE); MTP ", report.audit ? report.audit->mtp_layers_present : 0,
                        " of ", config.num_nextn_predict_layers, " present"));
    if (config.n_routed_experts > 0) {
      std::string groups = config.topk_method == TopkMethod::kGreedy
                               ? std::string()
                               : detail::concat(", ", config.n_group, " groups, top ", config.topk_group);
      line("experts",
           detail::concat(config.n_routed_experts, " routed, ", config.num_experts_per_tok, " per token (",
                          topk_method_name(config.topk_method), ", ", scoring_func_name(config.scoring_func),
                          groups, "), ", config.n_shared_experts, " shared"));
    }
    line("quantization",
         config.quantization.enabled
             ? detail::concat("FP8 e4m3 weights in ", config.quantization.block_rows, "x",
                              config.quantization.block_cols, " blocks, dynamic activation scales")
             : std::string("none"));
  }
  if (report.audit) {
    const CheckpointAudit& audit = *report.audit;
    line("parameters",
         detail::concat(with_commas(audit.parameters.total), " (", human_count(audit.parameters.total),
                        ") total, ", with_commas(audit.parameters.active_per_token), " (",
                        human_count(audit.parameters.active_per_token), ") active per token",
                        audit.parameters.mtp ? ", MTP " + human_count(audit.parameters.mtp) : ""));
    bool first = true;
    for (const auto& [dtype, usage] : audit.dtypes) {
      char text[96];
      std::snprintf(text, sizeof(text), "%-8s %8lld tensors %20s bytes",
                    std::string(dtype_name(dtype)).c_str(), static_cast<long long>(usage.tensors),
                    with_commas(usage.bytes).c_str());
      line(first ? "dtypes" : "", text);
      first = false;
    }
    line("total", detail::concat(with_commas(audit.total_bytes), " bytes (", human_bytes(audit.total_bytes),
                                 ") in ", report.tensor_count, " tensors"));
    if (!audit.unused_tensors.empty()) {
      std::string names;
      for (size_t i = 0; i < audit.unused_tensors.size() && i < kUnusedNamesShown; ++i) {
        names += (i ? ", " : "") + audit.unused_tensors[i];
      }
      if (audit.unused_tensors.size() > kUnusedNamesShown) names += ", ...";
      line("unused", detail::concat(audit.unused_tensors.size(), " tensors not part of this model: ", names));
    }
  }
  line("shards",
       detail::concat(report.shards.size(),
                      report.shards.size() == 1 ? " (" + report.shards.front() + ")" : std::string()));
  if (report.problems.empty()) {
    line("status", "complete");
    return;
  }
  line("status", detail::concat("INCOMPLETE: ", report.problems.size(), " problem",
                                report.problems.size() == 1 ? "" : "s"));
  for (const std::string& problem : report.problems) std::printf("  - %s\n", problem.c_str());
}

void print_json(const InspectReport& report) {
  nlohmann::json out;
  out["model"] = report.folder;
  out["complete"] = report.problems.empty();
  out["problems"] = report.problems;
  out["shards"] = report.shards;
  out["tensors"] = report.tensor_count;
  out["config"] = nullptr;
  if (report.config) {
    const ModelConfig& config = *report.config;
    out["config"] = {
        {"model_type", config.model_type},
        {"hidden_size", config.hidden_size},
        {"vocab_size", config.vocab_size},
        {"num_hidden_layers", config.num_hidden_layers},
        {"moe_layers", moe_layer_count(config)},
        {"num_nextn_predict_layers", config.num_nextn_predict_layers},
        {"num_attention_heads", config.num_attention_heads},
        {"q_lora_rank", config.q_lora_rank ? nlohmann::json(*config.q_lora_rank) : nlohmann::json()},
        {"kv_lora_rank", config.kv_lora_rank},
        {"n_routed_experts", config.n_routed_experts},
        {"n_shared_experts", config.n_shared_experts},
        {"num_experts_per_tok", config.num_experts_per_tok},
        {"topk_method", topk_method_name(config.topk_method)},
        {"scoring_func", scoring_func_name(config.scoring_func)}};
    out["quantization"] = nullptr;
    if (config.quantization.enabled) {
      out["quantization"] = {
          {"quant_method", "fp8"},
          {"fmt", "e4m3"},
          {"weight_block_size", {config.quantization.block_rows, config.quantization.block_cols}},
          {"activation_scheme", "dynamic"}};
    }
  }
  if (report.audit) {
    const CheckpointAudit& audit = *report.audit;
    out["mtp_layers_present"] = audit.mtp_layers_present;
    out["parameters"] = {{"total", audit.parameters.total},
                         {"active_per_token", audit.parameters.active_per_token},
                         {"mtp", audit.parameters.mtp}};
    nlohmann::json dtypes = nlohmann::json::object();
    for (const auto& [dtype, usage] : audit.dtypes) {
      dtypes[std::string(dtype_name(dtype))] = {{"tensors", usage.tensors}, {"bytes", usage.bytes}};
    }
    out["dtypes"] = dtypes;
    out["total_bytes"] = audit.total_bytes;
    out["unused_tensors"] = audit.unused_tensors;
  }
  std::printf("%s\n", out.dump(2).c_str());
}

}  // namespace

int run_inspect(int argc, char** argv) {
  CLI::App app{
      "Check that a checkpoint is complete for its config.json and print a summary. Reads only the "
      "safetensors headers, never the weights. Exit status 0: complete; 1: every problem is listed.",
      "dsinfer inspect"};
  std::string model = DSINFER_DEFAULT_MODEL_DIR;
  bool as_json = false;
  app.add_option("--model", model, "Hugging Face model folder (config.json + safetensors shards)")
      ->capture_default_str();
  app.add_flag("--json", as_json, "print the report as one JSON object");
  CLI11_PARSE(app, argc, argv);

  InspectReport report = inspect(model);
  if (as_json) {
    print_json(report);
  } else {
    print_text(report);
  }
  return report.problems.empty() ? 0 : 1;
}

}  // namespace dsinfer::cli
