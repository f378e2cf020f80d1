// The real model behind the scheduler: ModelBackend over the model module's ModelRunner.
#pragma once

#include <memory>

#include "engine/model_backend.h"
#include "model/model_runner.h"

namespace dsinfer {

class ModelRunnerBackend : public ModelBackend {
 public:
  // max_batch_tokens: the value the runner was created with (its workspace size).
  ModelRunnerBackend(std::unique_ptr<ModelRunner> runner, int max_batch_tokens)
      : runner_(std::move(runner)), max_batch_tokens_(max_batch_tokens) {}

  int64_t vocab_size() const override { return runner_->config().vocab_size; }
  int page_size() const override { return runner_->page_size(); }
  int num_kv_pages() const override { return runner_->num_kv_pages(); }
  int max_batch_tokens() const override { return max_batch_tokens_; }
  Tensor forward(const ForwardBatch& batch) override { return runner_->forward(batch); }

  const ModelConfig& config() const { return runner_->config(); }

 private:
  std::unique_ptr<ModelRunner> runner_;
  int max_batch_tokens_;
};

}  // namespace dsinfer
