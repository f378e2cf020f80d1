// What the scheduler needs from a model: one forward over a ForwardBatch, and the shape of the KV
// cache it owns. The server and the CLI use the real ModelRunner (model_runner_backend.h); scheduler
// tests use a small deterministic fake.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "model/forward_batch.h"
#include "model/model_runner.h"

namespace dsinfer {

class ModelBackend {
 public:
  virtual ~ModelBackend() = default;
  virtual int64_t vocab_size() const = 0;
  virtual int page_size() const = 0;         // tokens per KV page
  virtual int num_kv_pages() const = 0;      // page ids are [0, num_kv_pages)
  virtual int max_batch_tokens() const = 0;  // most tokens one forward may carry
  // True when forward() can draw tokens on the model's device (a GPU backend): the scheduler then sends the
  // tokens that allow it there (engine/sampler.h, the device route).
  virtual bool samples_on_device() const { return false; }
  // One forward. `sampling` (given only when samples_on_device()): also draw one token per logits row on the
  // device into sampling->ids. `return_logits`: return F32 logits on the CPU, [batch.num_logit_rows(),
  // vocab_size()], rows in sequence order, possibly in a buffer the backend reuses (valid until the next
  // forward; the caller may modify them); else an undefined Tensor.
  virtual Tensor forward(const ForwardBatch& batch, const DeviceSampling* sampling, bool return_logits) = 0;
};

}  // namespace dsinfer
