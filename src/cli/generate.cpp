// dsinfer generate: one prompt (--prompt, plain text) or one chat turn (--chat, through the chat template)
// run in-process through the same engine as the server; the text streams to stdout as it is generated.
#include <CLI/CLI.hpp>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "cli/commands.h"
#include "core/error.h"
#include "engine/engine.h"
#include "server/model_loading.h"
#include "text/chat_template.h"
#include "text/incremental_detokenizer.h"
#include "text/tokenizer.h"

namespace dsinfer::cli {
namespace {

class DetokenizerStream : public TokenTextStream {
 public:
  explicit DetokenizerStream(const text::Tokenizer& tokenizer) : decoder_(tokenizer, /*skip_special_tokens=*/true) {}
  std::string push(int32_t token_id) override { return decoder_.push(token_id); }
  std::string finish() override { return decoder_.finish(); }

 private:
  text::IncrementalDetokenizer decoder_;
};

}  // namespace

int run_generate(int argc, char** argv) {
  server::ServerOptions options;
  std::string prompt, chat, system_prompt, device = "cpu";
  SamplingParams params;
  params.max_new_tokens = 128;
  std::optional<float> temperature, top_p;
  std::optional<int> top_k;
  std::optional<uint64_t> seed;
  CLI::App app{"dsinfer generate: run one prompt or chat turn and stream the text to stdout"};
  app.add_option("--model-path,--model", options.model_path, "Hugging Face model folder (default: the embedded tiny model)");
  auto* prompt_option = app.add_option("--prompt", prompt, "plain-text prompt (BOS added as the tokenizer asks)");
  auto* chat_option = app.add_option("--chat", chat, "a user message, rendered with the chat template");
  prompt_option->excludes(chat_option);
  app.add_option("--system", system_prompt, "system message for --chat")->needs(chat_option);
  app.add_option("--chat-template", options.chat_template_path, "Jinja chat template file");
  app.add_option("--max-tokens", params.max_new_tokens, "most tokens to generate (128)");
  app.add_option("--temperature", temperature, "0: greedy (default: generation_config.json, else 1)");
  app.add_option("--top-p", top_p, "nucleus sampling (default: generation_config.json, else 1)");
  app.add_option("--top-k", top_k, "keep the k most likely tokens");
  app.add_option("--seed", seed, "random seed (same seed, same text)");
  app.add_flag("--ignore-eos", params.ignore_eos, "keep going after EOS");
  app.add_option("--stop", params.stop, "stop string (repeatable)");
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--threads", options.cpu_threads, "CPU compute threads (default: all cores)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  DSINFER_CHECK(!prompt.empty() || !chat.empty(), "give --prompt TEXT or --chat TEXT");
  options.device = device == "cuda" ? Device::kCuda : Device::kCpu;
  options.model_path = server::resolve_model_dir(options.model_path, DSINFER_DEFAULT_MODEL_DIR);
  const text::Tokenizer tokenizer = text::Tokenizer::load(options.model_path);
  const GenerationDefaults defaults = load_generation_defaults(options.model_path);
  params.temperature = temperature.value_or(defaults.do_sample ? defaults.temperature.value_or(1.0f) : 0.0f);
  params.top_p = top_p.value_or(defaults.top_p.value_or(1.0f));
  params.top_k = top_k.value_or(defaults.top_k.value_or(-1));
  params.seed = seed;

  std::vector<int32_t> ids;
  if (!chat.empty()) {
    const text::ChatTemplate chat_template = options.chat_template_path.empty()
                                                 ? text::ChatTemplate::from_tokenizer_config(options.model_path)
                                                 : text::ChatTemplate::from_file(options.chat_template_path, options.model_path);
    nlohmann::json messages = nlohmann::json::array();
    if (!system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", system_prompt}});
    messages.push_back({{"role", "user"}, {"content", chat}});
    ids = text::build_chat_prompt(chat_template, tokenizer, messages, nullptr, true, nlohmann::json::object()).ids;
  } else {
    ids = tokenizer.encode(prompt);
    if (tokenizer.add_bos() && tokenizer.bos_id() >= 0) ids.insert(ids.begin(), tokenizer.bos_id());
  }

  // The KV cache needs room for this one request only.
  options.cpu_memory_budget_bytes = int64_t{1} << 30;
  server::LoadedModel model = server::load_model(options);
  SchedulerOptions scheduler;
  scheduler.eos_token_ids = defaults.eos_token_ids;
  if (model.config.eos_token_id >= 0) scheduler.eos_token_ids.push_back(static_cast<int32_t>(model.config.eos_token_id));
  std::mutex mutex;
  std::condition_variable finished;
  std::optional<GenerationUpdate> last;
  Engine engine(std::move(model.backend), scheduler);  // after what its callback uses: destroyed first
  GenerationRequest request;
  request.prompt = ids;
  request.params = params;
  request.text = std::make_unique<DetokenizerStream>(tokenizer);
  request.on_update = [&](GenerationUpdate&& update) {
    std::fwrite(update.text.data(), 1, update.text.size(), stdout);
    std::fflush(stdout);
    if (update.finish_reason == FinishReason::kNone) return;
    std::lock_guard lock(mutex);
    last = std::move(update);
    finished.notify_all();
  };
  engine.submit(std::move(request));
  std::unique_lock lock(mutex);
  finished.wait(lock, [&] { return last.has_value(); });
  std::fputc('\n', stdout);
  if (last->finish_reason == FinishReason::kError || last->finish_reason == FinishReason::kAbort) {
    std::fprintf(stderr, "dsinfer generate: %s\n", last->error.c_str());
    return 1;
  }
  std::fprintf(stderr, "[%d prompt tokens, %d generated, finish_reason %s]\n", last->prompt_tokens, last->completion_tokens,
               std::string(finish_reason_name(last->finish_reason)).c_str());
  return 0;
}

}  // namespace dsinfer::cli
