#include "engine/scheduler.h"

#include <algorithm>
#include <ctime>
#include <exception>
#include <random>

#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/sampler.h"

namespace dsinfer {
namespace {

double seconds_between(Clock::time_point begin, Clock::time_point end) {
  return std::chrono::duration<double>(end - begin).count();
}

double thread_cpu_seconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

}  // namespace

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kAbort: return "abort";
    case FinishReason::kError: return "error";
  }
  return "";
}

Scheduler::Scheduler(ModelBackend& model, SchedulerOptions options, EngineMetrics* metrics)
    : model_(model),
      options_(std::move(options)),
      metrics_(metrics),
      page_size_(model.page_size()),
      vocab_size_(model.vocab_size()),
      pool_(model.num_kv_pages()),
      seed_source_(std::random_device{}()) {
  DSINFER_CHECK(options_.max_running_requests >= 1, "--max-running-requests must be at least 1, got ",
                options_.max_running_requests);
  DSINFER_CHECK(model.max_batch_tokens() >= 1, "the model's max_batch_tokens must be at least 1");
  options_.max_running_requests = std::min(options_.max_running_requests, model.max_batch_tokens());
  if (options_.enable_radix_cache) radix_.emplace(pool_, page_size_);
  refresh_gauges();
}

Scheduler::~Scheduler() = default;

void Scheduler::add(std::unique_ptr<Request> owned) {
  Request* request = owned.get();
  const GenerationRequest& input = request->input;
  request->tokens = input.prompt;
  request->num_prompt_tokens = static_cast<int>(input.prompt.size());
  request->rng = Rng(input.params.seed ? *input.params.seed : seed_source_.next());
  request->unique_prompt_tokens = input.prompt;
  std::sort(request->unique_prompt_tokens.begin(), request->unique_prompt_tokens.end());
  request->unique_prompt_tokens.erase(
      std::unique(request->unique_prompt_tokens.begin(), request->unique_prompt_tokens.end()),
      request->unique_prompt_tokens.end());
  if (!input.params.stop.empty()) request->stop_matcher.emplace(input.params.stop);
  request->pending.request_id = request->id;
  requests_.emplace(request->id, std::move(owned));

  std::string problem;
  if (input.prompt.empty()) {
    problem = "the prompt is empty; it needs at least one token";
  } else if (auto bad = check_sampling_params(input.params, vocab_size_)) {
    problem = bad->message;
  } else {
    for (int32_t token : input.prompt) {
      if (token < 0 || token >= vocab_size_) {
        problem = "prompt token id " + std::to_string(token) + " is outside the vocabulary [0, " +
                  std::to_string(vocab_size_) + ")";
        break;
      }
    }
  }
  // The last sampled token never needs KV, hence the - 1.
  const int64_t most_tokens = static_cast<int64_t>(input.prompt.size()) + input.params.max_new_tokens - 1;
  if (problem.empty() && most_tokens > static_cast<int64_t>(pool_.num_pages()) * page_size_) {
    problem = "the request needs KV-cache room for up to " + std::to_string(most_tokens) + " tokens (" +
              std::to_string(input.prompt.size()) + " prompt + " + std::to_string(input.params.max_new_tokens) +
              " max new tokens) but the whole cache holds " +
              std::to_string(static_cast<int64_t>(pool_.num_pages()) * page_size_) +
              " tokens; lower max_tokens, shorten the prompt, or give the cache more memory (--mem-fraction-static)";
  }
  if (!problem.empty()) {
    finish(request, FinishReason::kError, problem);
    finished_.clear();
    return;
  }
  waiting_.push_back(request);
  refresh_gauges();
}

bool Scheduler::abort(uint64_t request_id) {
  auto found = requests_.find(request_id);
  if (found == requests_.end()) return false;
  finish(found->second.get(), FinishReason::kAbort);
  finished_.clear();
  refresh_gauges();
  return true;
}

void Scheduler::finish_all(FinishReason reason, const std::string& error) {
  std::vector<uint64_t> ids;
  ids.reserve(requests_.size());
  for (const auto& [id, request] : requests_) ids.push_back(id);
  for (uint64_t id : ids) finish(requests_.at(id).get(), reason, error);
  finished_.clear();
  refresh_gauges();
}

bool Scheduler::flush_cache() {
  if (has_work()) return false;
  if (radix_) radix_->flush();
  refresh_gauges();
  return true;
}

int Scheduler::num_available_pages() const {
  return pool_.num_free() + (radix_ ? radix_->num_evictable_pages() : 0);
}

bool Scheduler::take_pages(Request* request, int num_pages) {
  if (num_pages <= 0) return true;
  if (pool_.num_free() < num_pages && radix_) radix_->evict(num_pages - pool_.num_free());
  return pool_.allocate(num_pages, request->page_table);
}

Request* Scheduler::youngest_unscheduled() {
  for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
    if (!(*it)->scheduled) return *it;
  }
  return nullptr;
}

// Makes page_table cover num_tokens, retracting the youngest unscheduled requests (possibly `request`
// itself, which then returns false) until the pool can supply the pages.
bool Scheduler::reserve_with_retraction(Request* request, int num_tokens) {
  const int needed = pages_for(num_tokens) - static_cast<int>(request->page_table.size());
  while (num_available_pages() < needed) {
    Request* victim = youngest_unscheduled();
    if (victim == nullptr) return false;
    retract(victim);
    if (victim == request) return false;
  }
  return take_pages(request, needed);
}

void Scheduler::retract(Request* request) {
  release_pages(request, /*keep_in_cache=*/true);  // cached pages stay reusable unless evicted
  request->num_computed_tokens = 0;
  running_.erase(std::find(running_.begin(), running_.end(), request));
  waiting_.push_front(request);
  if (metrics_) metrics_->preemptions.fetch_add(1, std::memory_order_relaxed);
}

void Scheduler::release_pages(Request* request, bool keep_in_cache) {
  int first_private_page = request->num_tree_pages;
  if (radix_ && keep_in_cache) {
    const int full_pages = request->num_computed_tokens / page_size_;
    radix_->insert(std::span<const int32_t>(request->tokens.data(), static_cast<size_t>(full_pages) * page_size_),
                   std::span<int32_t>(request->page_table.data(), static_cast<size_t>(full_pages)));
    first_private_page = std::max(first_private_page, full_pages);
  }
  pool_.release(std::span<const int32_t>(request->page_table).subspan(static_cast<size_t>(first_private_page)));
  if (radix_) radix_->unlock(request->locked_node);
  request->locked_node = nullptr;
  request->page_table.clear();
  request->num_tree_pages = 0;
}

// Hands the request's full, computed pages to the radix cache (and pins them for the request), so that
// requests with the same prefix can share them while this one is still running.
void Scheduler::cache_computed_prefix(Request* request) {
  if (!radix_) return;
  const int full_pages = request->num_computed_tokens / page_size_;
  if (full_pages <= request->num_tree_pages) return;
  RadixCache::Node* node =
      radix_->insert(std::span<const int32_t>(request->tokens.data(), static_cast<size_t>(full_pages) * page_size_),
                     std::span<int32_t>(request->page_table.data(), static_cast<size_t>(full_pages)));
  radix_->lock(node);
  radix_->unlock(request->locked_node);
  request->locked_node = node;
  request->num_tree_pages = full_pages;
}

void Scheduler::schedule(Request* request, int num_new_tokens) {
  request->scheduled = true;
  scheduled_.push_back({request, num_new_tokens});
}

void Scheduler::schedule_decodes() {
  for (size_t i = 0; i < running_.size();) {
    Request* request = running_[i];
    if (request->is_decoding() && reserve_with_retraction(request, request->num_computed_tokens + 1)) {
      schedule(request, 1);
    }
    // A retraction removes requests at or after i only (the youngest first).
    if (i < running_.size() && running_[i] == request) ++i;
  }
}

bool Scheduler::admit(Request* request, int token_budget) {
  if (radix_) {
    // Leave at least one token to compute: its logits choose the next token. A prompt token still to be scored
    // needs the row of the token before it, so no cached prefix may cover that one.
    const size_t matchable = request->needs_prompt_logprobs() ? static_cast<size_t>(request->prompt_logprobs_end - 1)
                                                              : request->tokens.size() - 1;
    RadixCache::Match match = radix_->match_prefix(std::span<const int32_t>(request->tokens.data(), matchable));
    radix_->lock(match.node);
    request->locked_node = match.node;
    request->page_table = std::move(match.pages);
    request->num_tree_pages = static_cast<int>(request->page_table.size());
    request->num_computed_tokens = request->num_tree_pages * page_size_;
  }
  // Admit only if the whole remaining prompt fits next to one spare page per running request (their
  // next decode page), so that admission does not immediately force a retraction.
  const int remaining_pages =
      pages_for(static_cast<int>(request->tokens.size())) - static_cast<int>(request->page_table.size());
  const int chunk = std::min(request->num_pending_tokens(), chunk_limit(request, token_budget));
  const int chunk_pages = pages_for(request->num_computed_tokens + chunk) - static_cast<int>(request->page_table.size());
  if (remaining_pages + static_cast<int>(running_.size()) > num_available_pages() ||
      !take_pages(request, chunk_pages)) {
    release_pages(request, /*keep_in_cache=*/false);
    request->num_computed_tokens = 0;
    return false;
  }
  if (request->num_cached_prompt_tokens < 0) {
    request->num_cached_prompt_tokens = std::min(request->num_computed_tokens, request->num_prompt_tokens);
    if (metrics_) {
      metrics_->prompt_tokens.fetch_add(static_cast<uint64_t>(request->num_prompt_tokens), std::memory_order_relaxed);
      metrics_->prefix_cache_hit_tokens.fetch_add(static_cast<uint64_t>(request->num_cached_prompt_tokens),
                                                  std::memory_order_relaxed);
    }
  }
  running_.push_back(request);
  schedule(request, chunk);
  return true;
}

int Scheduler::chunk_limit(const Request* request, int token_budget) const {
  return request->needs_prompt_logprobs() ? std::min(token_budget, kPromptLogprobChunkTokens) : token_budget;
}

void Scheduler::schedule_prefills(int token_budget) {
  // Requests part-way through their prompt, oldest first. A chunk shrinks to the pages available; if
  // not even one page is, the youngest requests make room.
  for (size_t i = 0; i < running_.size() && token_budget > 0;) {
    Request* request = running_[i];
    if (!request->scheduled && !request->is_decoding()) {
      const int capacity = static_cast<int>(request->page_table.size() + num_available_pages()) * page_size_ -
                           request->num_computed_tokens;
      int chunk = std::min({request->num_pending_tokens(), chunk_limit(request, token_budget), capacity});
      bool ready = chunk >= 1 && take_pages(request, pages_for(request->num_computed_tokens + chunk) -
                                                         static_cast<int>(request->page_table.size()));
      if (!ready && reserve_with_retraction(request, request->num_computed_tokens + 1)) {
        chunk = std::min({request->num_pending_tokens(), chunk_limit(request, token_budget),
                          static_cast<int>(request->page_table.size()) * page_size_ - request->num_computed_tokens});
        ready = true;
      }
      if (ready) {
        schedule(request, chunk);
        token_budget -= chunk;
      }
    }
    if (i < running_.size() && running_[i] == request) ++i;
  }

  // New (or retracted) requests in arrival order. A request of an `n` > 1 group waits while another
  // member is still prefilling the shared prompt, so that it finds the prompt in the prefix cache.
  std::vector<uint64_t> prefilling_groups;
  if (radix_) {
    for (Request* request : running_) {
      if (request->input.prefix_group != 0 && !request->is_decoding())
        prefilling_groups.push_back(request->input.prefix_group);
    }
  }
  for (size_t i = 0; i < waiting_.size() && token_budget > 0 &&
                     static_cast<int>(running_.size()) < options_.max_running_requests;) {
    Request* request = waiting_[i];
    const uint64_t group = request->input.prefix_group;
    if (group != 0 && std::find(prefilling_groups.begin(), prefilling_groups.end(), group) != prefilling_groups.end()) {
      ++i;
      continue;
    }
    if (!admit(request, token_budget)) break;  // first come, first served: nobody overtakes it
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
    token_budget -= scheduled_.back().num_new_tokens;
    if (radix_ && group != 0) prefilling_groups.push_back(group);
  }
}

void Scheduler::build_batch() {
  // Decode sequences (one new token after a computed prefix) first, as ForwardBatch requires.
  std::stable_partition(scheduled_.begin(), scheduled_.end(), [](const Scheduled& entry) {
    return entry.num_new_tokens == 1 && entry.request->num_computed_tokens > 0;
  });
  batch_.token_ids.clear();
  batch_.sequences.resize(scheduled_.size());
  int64_t logit_rows = 0;
  for (size_t i = 0; i < scheduled_.size(); ++i) {
    Scheduled& entry = scheduled_[i];
    const Request* request = entry.request;
    SequenceSlice& slice = batch_.sequences[i];
    slice.num_cached_tokens = request->num_computed_tokens;
    slice.num_new_tokens = entry.num_new_tokens;
    slice.page_table.assign(request->page_table.begin(), request->page_table.end());
    slice.all_logits = request->needs_prompt_logprobs();
    batch_.token_ids.insert(batch_.token_ids.end(), request->tokens.begin() + request->num_computed_tokens,
                            request->tokens.begin() + request->num_computed_tokens + slice.num_new_tokens);
    logit_rows += slice.all_logits ? slice.num_new_tokens : 1;
    entry.last_logit_row = logit_rows - 1;
    entry.samples = request->num_pending_tokens() == entry.num_new_tokens;
    entry.on_device = false;
  }
}

bool Scheduler::plan_sampling() {
  bool need_logits = false;
  device_plan_.reset(static_cast<size_t>(batch_.num_logit_rows()));
  for (Scheduled& entry : scheduled_) {
    Request* request = entry.request;
    need_logits = need_logits || request->needs_prompt_logprobs();
    if (!entry.samples) continue;
    entry.on_device = model_.samples_on_device() &&
                      device_plan_.route(static_cast<size_t>(entry.last_logit_row), request->input.params,
                                         request->num_output_tokens(), request->rng);
    need_logits = need_logits || !entry.on_device;
  }
  return need_logits;
}

StepStats Scheduler::step() {
  StepStats stats;
  const Clock::time_point start = Clock::now();
  const double cpu_start = thread_cpu_seconds();
  scheduled_.clear();
  schedule_decodes();
  const int max_tokens = model_.max_batch_tokens();
  const int prefill_limit = options_.chunked_prefill_size > 0 ? options_.chunked_prefill_size : max_tokens;
  schedule_prefills(std::min(prefill_limit, max_tokens - static_cast<int>(scheduled_.size())));
  if (scheduled_.empty()) {
    refresh_gauges();
    return stats;
  }
  build_batch();
  for (const Scheduled& entry : scheduled_) {
    (entry.num_new_tokens == 1 && entry.request->num_computed_tokens > 0 ? stats.num_decode_sequences
                                                                          : stats.num_prefill_sequences)++;
  }
  stats.num_tokens = batch_.num_tokens();

  const bool need_logits = plan_sampling();
  const Clock::time_point forward_start = Clock::now();
  const double cpu_forward_start = thread_cpu_seconds();
  Tensor logits;
  try {
    logits = model_.forward(batch_, device_plan_.empty() ? nullptr : &device_plan_.rows(), need_logits);
    DSINFER_CHECK(!need_logits || (logits.dtype() == DType::kF32 && logits.rank() == 2 &&
                                   logits.dim(0) == batch_.num_logit_rows() && logits.dim(1) == vocab_size_ &&
                                   logits.device() == Device::kCpu),
                  "the model returned logits ", logits.describe(), ", expected F32[", batch_.num_logit_rows(), ", ",
                  vocab_size_, "] on the CPU");
  } catch (const std::exception& error) {
    fail_batch(std::string("model forward failed: ") + error.what());
    finished_.clear();
    stats.forward_failed = true;
    stats.total_seconds = seconds_between(start, Clock::now());
    return stats;
  }
  const Clock::time_point forward_end = Clock::now();
  stats.forward_seconds = seconds_between(forward_start, forward_end);
  stats.overhead_cpu_seconds -= thread_cpu_seconds() - cpu_forward_start;

  process_results(logits, stats);
  finished_.clear();
  stats.total_seconds = seconds_between(start, Clock::now());
  stats.overhead_cpu_seconds += thread_cpu_seconds() - cpu_start;
  if (metrics_) {
    metrics_->steps.fetch_add(1, std::memory_order_relaxed);
    metrics_->forward_time.observe(stats.forward_seconds);
  }
  return stats;
}

void Scheduler::process_results(const Tensor& logits, StepStats& stats) {
  const Clock::time_point sampling_start = Clock::now();
  const double cpu_sampling_start = thread_cpu_seconds();
  score_prompt_tokens(logits);
  host_samples_.clear();
  for (size_t i = 0; i < scheduled_.size(); ++i) {
    if (scheduled_[i].samples && !scheduled_[i].on_device) host_samples_.push_back(i);
  }
  sampled_.resize(host_samples_.size());
  parallel_for(static_cast<int64_t>(host_samples_.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const Scheduled& entry = scheduled_[host_samples_[static_cast<size_t>(k)]];
      Request* request = entry.request;
      std::span<float> row(logits.data_as<float>() + entry.last_logit_row * vocab_size_, static_cast<size_t>(vocab_size_));
      SamplerInput input{request->input.params, request->unique_prompt_tokens, request->output_token_counts,
                         request->num_output_tokens(), options_.eos_token_ids, request->rng};
      sampled_[static_cast<size_t>(k)] = sample_token(row, input);
    }
  });
  stats.sampling_seconds = seconds_between(sampling_start, Clock::now());
  stats.overhead_cpu_seconds -= thread_cpu_seconds() - cpu_sampling_start;

  // Requests whose tokens are now all computed get their new token; the others are mid-prompt.
  size_t next_host_sample = 0;
  for (const Scheduled& entry : scheduled_) {
    Request* request = entry.request;
    request->scheduled = false;
    request->num_computed_tokens += entry.num_new_tokens;
    if (entry.num_new_tokens > 1 || request->num_pending_tokens() > 0) cache_computed_prefix(request);
    if (!entry.samples) continue;
    if (entry.on_device) {
      append_token(request, GeneratedToken{device_plan_.token(static_cast<size_t>(entry.last_logit_row)), 0.0f, {}});
    } else {
      append_token(request, sampled_[next_host_sample++]);
    }
  }
  for (const Scheduled& entry : scheduled_) {
    const GenerationUpdate& pending = entry.request->pending;
    if (!entry.request->finished && (!pending.tokens.empty() || !pending.prompt_logprobs.empty())) deliver(entry.request);
  }
  refresh_gauges();
}

// The log probabilities of the prompt tokens that this step's all_logits rows score: the row of position q
// scores token q + 1 (the last prompt position's row picks the first output token instead).
void Scheduler::score_prompt_tokens(const Tensor& logits) {
  prompt_scores_.clear();
  for (const Scheduled& entry : scheduled_) {
    Request* request = entry.request;
    if (!request->needs_prompt_logprobs()) continue;
    const int64_t first_row = entry.last_logit_row - (entry.num_new_tokens - 1);
    for (int i = 0; i < entry.num_new_tokens; ++i) {
      const int token_index = request->num_computed_tokens + i + 1;
      if (token_index >= request->prompt_logprobs_end && token_index < request->num_prompt_tokens)
        prompt_scores_.push_back({request, first_row + i, token_index});
    }
  }
  prompt_scored_.resize(prompt_scores_.size());
  parallel_for(static_cast<int64_t>(prompt_scores_.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const PromptScore& score = prompt_scores_[static_cast<size_t>(k)];
      std::span<const float> row(logits.data_as<float>() + score.logit_row * vocab_size_, static_cast<size_t>(vocab_size_));
      prompt_scored_[static_cast<size_t>(k)] = score_token(
          row, score.request->tokens[static_cast<size_t>(score.token_index)], score.request->input.params.top_logprobs);
    }
  });
  for (size_t k = 0; k < prompt_scores_.size(); ++k) {
    Request* request = prompt_scores_[k].request;
    request->pending.prompt_logprobs.push_back(std::move(prompt_scored_[k]));
    request->prompt_logprobs_end = prompt_scores_[k].token_index + 1;
  }
}

void Scheduler::append_token(Request* request, const GeneratedToken& token) {
  const SamplingParams& params = request->input.params;
  request->tokens.push_back(token.token_id);
  ++request->output_token_counts[token.token_id];
  request->pending.tokens.push_back(token);

  const Clock::time_point now = Clock::now();
  if (metrics_) {
    metrics_->generated_tokens.fetch_add(1, std::memory_order_relaxed);
    if (request->num_output_tokens() == 1) {
      metrics_->time_to_first_token.observe(seconds_between(request->input.arrival, now));
    } else {
      metrics_->inter_token_latency.observe(seconds_between(request->last_token_time, now));
    }
  }
  request->last_token_time = now;

  const bool is_eos = std::find(options_.eos_token_ids.begin(), options_.eos_token_ids.end(), token.token_id) !=
                      options_.eos_token_ids.end();
  const bool is_stop_token = std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(), token.token_id) !=
                             params.stop_token_ids.end();
  if (is_stop_token || (is_eos && !params.ignore_eos)) {
    request->pending.matched_stop_token = token.token_id;
    finish(request, FinishReason::kStop);
    return;
  }
  if (request->input.text) {
    std::string text = request->input.text->push(token.token_id);
    if (request->stop_matcher) {
      StopStringMatcher::Result result = request->stop_matcher->push(text);
      request->pending.text += result.text;
      if (result.stopped) {
        request->pending.matched_stop = std::move(result.matched);
        finish(request, FinishReason::kStop);
        return;
      }
    } else {
      request->pending.text += text;
    }
  }
  if (request->num_output_tokens() >= params.max_new_tokens) finish(request, FinishReason::kLength);
}

// Ends the request: frees or caches its pages, delivers the final update, forgets it.
void Scheduler::finish(Request* request, FinishReason reason, std::string error) {
  if (reason == FinishReason::kStop || reason == FinishReason::kLength) {
    if (request->input.text && request->pending.matched_stop.empty()) {
      std::string rest = request->input.text->finish();
      if (request->stop_matcher) {
        StopStringMatcher::Result result = request->stop_matcher->push(rest);
        rest = std::move(result.text);
        if (result.stopped) {
          request->pending.matched_stop = std::move(result.matched);
          reason = FinishReason::kStop;
        } else {
          rest += request->stop_matcher->finish();
        }
      }
      request->pending.text += rest;
    }
  }
  // Finished requests leave their KV to the prefix cache; aborted and failed ones just free it.
  release_pages(request, /*keep_in_cache=*/reason == FinishReason::kStop || reason == FinishReason::kLength);
  auto in_queue = std::find(waiting_.begin(), waiting_.end(), request);
  if (in_queue != waiting_.end()) waiting_.erase(in_queue);
  auto in_running = std::find(running_.begin(), running_.end(), request);
  if (in_running != running_.end()) running_.erase(in_running);
  request->finished = true;

  request->pending.finish_reason = reason;
  request->pending.error = std::move(error);
  if (metrics_) {
    auto& counter = reason == FinishReason::kAbort   ? metrics_->requests_aborted
                    : reason == FinishReason::kError ? metrics_->requests_failed
                                                     : metrics_->requests_finished;
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  deliver(request);
  auto owner = requests_.find(request->id);
  finished_.push_back(std::move(owner->second));
  requests_.erase(owner);
}

void Scheduler::deliver(Request* request) {
  GenerationUpdate& update = request->pending;
  update.request_id = request->id;
  update.prompt_tokens = request->num_prompt_tokens;
  update.completion_tokens = request->num_output_tokens();
  update.cached_tokens = std::max(0, request->num_cached_prompt_tokens);
  if (request->input.on_update) request->input.on_update(std::move(update));
  update = GenerationUpdate{};
}

void Scheduler::fail_batch(const std::string& message) {
  std::vector<Request*> failed;
  for (const Scheduled& entry : scheduled_) failed.push_back(entry.request);
  scheduled_.clear();
  for (Request* request : failed) {
    request->scheduled = false;
    finish(request, FinishReason::kError, message);
  }
  refresh_gauges();
}

void Scheduler::refresh_gauges() {
  if (!metrics_) return;
  metrics_->running_requests.store(static_cast<int64_t>(running_.size()), std::memory_order_relaxed);
  metrics_->queued_requests.store(static_cast<int64_t>(waiting_.size()), std::memory_order_relaxed);
  metrics_->kv_pages_total.store(pool_.num_pages(), std::memory_order_relaxed);
  metrics_->kv_pages_free.store(pool_.num_free(), std::memory_order_relaxed);
  metrics_->kv_pages_cached.store(num_cached_pages(), std::memory_order_relaxed);
  metrics_->kv_pages_request.store(num_request_pages(), std::memory_order_relaxed);
}

}  // namespace dsinfer
