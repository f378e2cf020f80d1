// The real model behind the scheduler: ModelBackend over the model module's ModelRunner.
#pragma once

#include <memory>

#include "engine/model_backend.h"
#include "model/model_runner.h"

namespace dsinfer {

class ModelRunnerBackend : public ModelBackend {
 public:
  // max_batch_tokens: the value the runner was created with (its workspace size). sample_on_device: draw
  // eligible tokens on the model's device (true for a GPU runner; a CPU runner samples everything on the host,
  // where its logits already are).
  ModelRunnerBackend(std::unique_ptr<ModelRunner> runner, int max_batch_tokens, bool sample_on_device)
      : runner_(std::move(runner)), max_batch_tokens_(max_batch_tokens), sample_on_device_(sample_on_device) {}

  int64_t vocab_size() const override { return runner_->config().vocab_size; }
  int page_size() const override { return runner_->page_size(); }
  int num_kv_pages() const override { return runner_->num_kv_pages(); }
  int max_batch_tokens() const override { return max_batch_tokens_; }
  bool samples_on_device() const override { return sample_on_device_; }
  Tensor forward(const ForwardBatch& batch, const DeviceSampling* sampling, bool return_logits) override {
    return runner_->forward_reusing_buffers(batch, sampling, return_logits);
  }

  const ModelConfig& config() const { return runner_->config(); }

 private:
  std::unique_ptr<ModelRunner> runner_;
  int max_batch_tokens_;
  bool sample_on_device_;
};

}  // namespace dsinfer
