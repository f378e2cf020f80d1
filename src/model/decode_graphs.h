// DecodeGraphs: decode-only steps replayed as CUDA graphs. One graph per batch-size bucket (1, 2, 4, 8, then
// multiples of 8 up to the maximum), captured on the bucket's first use; a batch is padded up to its bucket
// with rows that write no KV entry (slot -1) and attend to one token of page 0. The batch metadata lives in
// buffers owned here, at fixed addresses the graphs read; the page table's row width (a power of two >= the
// longest sequence's pages) is fixed per capture, and growing it, or any move of memory a graph points at
// (the ops' scratch, the model's logits buffer), drops the graphs so they are captured again.
#pragma once

#include <map>
#include <memory>

#include "core/tensor.h"
#include "model/deepseek.h"
#include "model/forward_batch.h"
#include "model/kv_cache.h"
#include "model/step_inputs.h"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer {

class DecodeGraphs {
 public:
  DecodeGraphs(int max_batch_size, const StepLimits& limits);

  // Decode-only (every sequence one new token after a cached prefix, logits of that token) and small enough.
  bool fits(const ForwardBatch& batch) const;
  // Runs the step through its bucket's graph (capturing it first if needed); returns the device logits
  // [sequences, vocab] F32, a view valid until the next step.
  Tensor run(const ForwardBatch& batch, DeepseekModel& model, KvCache& cache);
  // Called with every eagerly computed logits tensor: if the model's logits buffer moved, graphs are stale.
  void note_logits_buffer(const Tensor& logits);
  int bucket_for(int batch_size) const;

 private:
  struct Graph {
    std::shared_ptr<ops::cuda::CapturedGraph> graph;
    Tensor logits;  // [bucket, vocab] on the device, written by every replay
  };
  void ensure_page_width(int pages_per_sequence);
  StepInputs fill_inputs(const ForwardBatch& batch, int bucket);
  void drop_graphs();

  int max_batch_size_;
  StepLimits limits_;
  int page_width_ = 0;             // page table row length the current graphs were captured with
  // Host staging (ops::empty_staging) and device copies of the step metadata.
  Tensor host_metadata_, metadata_;  // [6, max + 2] I32: tokens, positions, slots, logit rows, query start, kv length
  Tensor host_pages_, pages_;      // [max, page_width_] I32
  std::map<int, Graph> graphs_;    // by bucket
  uint64_t memory_generation_ = 0;
  const void* logits_buffer_ = nullptr;
};

}  // namespace dsinfer
