// The scheduler: one step = one model forward over a continuous batch. Each step it
//   1. gives every decoding request one token (oldest first), taking a new KV page when one fills up;
//      when the pool is empty it evicts unpinned prefix-cache pages, then retracts the youngest running
//      request (its pages are freed; it returns to the front of the queue and is recomputed later);
//   2. spends the rest of the token budget (--chunked-prefill-size, and the model's max_batch_tokens) on
//      prefill: first requests already part-way through their prompt, then new requests in arrival
//      order, each starting from its longest prefix in the radix cache;
//   3. runs the forward (decode sequences first), samples one token for every request whose tokens are
//      all computed (on the model's device where the backend and the request allow, engine/sampler.h),
//      scores the prompt tokens of requests that asked for prompt logprobs, applies stop conditions, and
//      delivers updates.
// A request whose prompt + max_new_tokens can never fit in the KV cache finishes at once with an error.
// Single-threaded: the engine thread owns it (engine.h adds the thread and queues).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "engine/engine_metrics.h"
#include "engine/kv_page_pool.h"
#include "engine/model_backend.h"
#include "engine/radix_cache.h"
#include "engine/request.h"
#include "engine/sampler.h"

namespace dsinfer {

// Prompt tokens per step of a request that reports prompt logprobs: each is a logits row of its own
// (256 rows x the 129k vocabulary x 4 bytes = 132 MB, as many as 256 decoding requests take).
inline constexpr int kPromptLogprobChunkTokens = 256;

struct SchedulerOptions {
  int max_running_requests = 256;    // admitted (prefilling or decoding) at once; capped at max_batch_tokens
  int chunked_prefill_size = 8192;   // prompt tokens per step; <= 0: only the model's max_batch_tokens limits
  bool enable_radix_cache = true;    // false: --disable-radix-cache, no prefix sharing
  std::vector<int32_t> eos_token_ids;
};

// Wall-clock times of one step, and the engine thread's own CPU time for the parts that are the scheduler's
// (on a loaded machine wall time also counts time the thread spent waiting for a core).
struct StepStats {
  int num_decode_sequences = 0;
  int num_prefill_sequences = 0;
  int num_tokens = 0;
  bool forward_failed = false;  // the forward threw: the batch's requests failed
  double total_seconds = 0.0;
  double forward_seconds = 0.0;
  double sampling_seconds = 0.0;
  double overhead_cpu_seconds = 0.0;  // engine-thread CPU time outside the forward and the sampler
  double overhead_seconds() const { return total_seconds - forward_seconds - sampling_seconds; }
};

class Scheduler {
 public:
  Scheduler(ModelBackend& model, SchedulerOptions options, EngineMetrics* metrics = nullptr);
  ~Scheduler();

  // Queues a request (request->id and request->input must be set).
  void add(std::unique_ptr<Request> request);
  // Finishes the request as aborted and frees its pages now; false when it is not here (already done).
  bool abort(uint64_t request_id);
  // Finishes every request (shutdown: kAbort; an engine failure: kError with `error`).
  void finish_all(FinishReason reason, const std::string& error = {});
  bool has_work() const { return !waiting_.empty() || !running_.empty(); }
  // Runs one forward (no-op when there is nothing to do). A forward that throws fails the requests in
  // that batch with the error message and the scheduler carries on.
  StepStats step();
  // Empties the prefix cache; refused (false) while requests are queued or running.
  bool flush_cache();

  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  int page_size() const { return page_size_; }
  const KvPagePool& page_pool() const { return pool_; }
  int num_cached_pages() const { return radix_ ? radix_->num_cached_pages() : 0; }
  // Pages held by requests alone (neither free nor in the prefix cache).
  int num_request_pages() const { return pool_.num_used() - num_cached_pages(); }
  int max_running_requests() const { return options_.max_running_requests; }

 private:
  struct Scheduled {
    Request* request;
    int num_new_tokens;
    // Set by build_batch:
    int64_t last_logit_row = 0;  // the logits row of the last new token
    bool samples = false;        // every token is computed after this step: the next one is sampled
    bool on_device = false;      // ... and drawn on the device route
  };

  int pages_for(int num_tokens) const { return (num_tokens + page_size_ - 1) / page_size_; }
  int num_available_pages() const;
  bool take_pages(Request* request, int num_pages);  // evicts cache pages as needed; no retraction
  bool reserve_with_retraction(Request* request, int num_tokens);
  Request* youngest_unscheduled();
  void retract(Request* request);
  void release_pages(Request* request, bool keep_in_cache);
  void cache_computed_prefix(Request* request);
  void schedule(Request* request, int num_new_tokens);
  void schedule_decodes();
  void schedule_prefills(int token_budget);
  bool admit(Request* request, int token_budget);
  int chunk_limit(const Request* request, int token_budget) const;
  void build_batch();
  bool plan_sampling();  // routes the sampled tokens; true when the forward must return logits
  void process_results(const Tensor& logits, StepStats& stats);
  void score_prompt_tokens(const Tensor& logits);
  void append_token(Request* request, const GeneratedToken& token);
  void finish(Request* request, FinishReason reason, std::string error = {});
  void deliver(Request* request);
  void fail_batch(const std::string& message);
  void refresh_gauges();

  ModelBackend& model_;
  SchedulerOptions options_;
  EngineMetrics* metrics_;
  int page_size_;
  int64_t vocab_size_;
  KvPagePool pool_;
  std::optional<RadixCache> radix_;

  std::unordered_map<uint64_t, std::unique_ptr<Request>> requests_;  // every request not yet finished
  std::deque<Request*> waiting_;   // arrival order; retracted requests go back to the front
  std::vector<Request*> running_;  // admission order
  std::vector<Scheduled> scheduled_;  // this step, in batch order once built
  ForwardBatch batch_;             // reused every step, as are the two below
  std::vector<size_t> host_samples_;       // scheduled_ entries whose token the host samples this step
  std::vector<GeneratedToken> sampled_;    // their tokens
  DeviceSamplingPlan device_plan_;         // the device route's rows this step
  struct PromptScore {
    Request* request;
    int64_t logit_row;
    int token_index;  // the prompt token that row scores
  };
  std::vector<PromptScore> prompt_scores_;      // this step's prompt tokens to score
  std::vector<GeneratedToken> prompt_scored_;  // their log probabilities
  // Finished requests live until the end of the public call that finished them, so that pointers held
  // in scheduled_ stay valid while a step completes.
  std::vector<std::unique_ptr<Request>> finished_;
  Rng seed_source_;  // seeds for requests that bring none
};

}  // namespace dsinfer
