#include "server/prometheus.h"

#include <cstdio>

namespace dsinfer::server {
namespace {

class Writer {
 public:
  explicit Writer(std::string labels) : labels_(std::move(labels)) {}

  void metric(const char* name, const char* type, const char* help, double value) {
    header(name, type, help);
    line(name, "", value);
  }

  void histogram(const char* name, const char* help, const LatencyHistogram& histogram) {
    header(name, "histogram", help);
    uint64_t cumulative = 0;
    const std::string bucket_name = std::string(name) + "_bucket";
    for (size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
      cumulative += histogram.bucket_count(i);
      char bound[32];
      std::snprintf(bound, sizeof(bound), "%g", LatencyHistogram::kBounds[i]);
      line(bucket_name.c_str(), std::string("le=\"") + bound + "\"", static_cast<double>(cumulative));
    }
    line(bucket_name.c_str(), "le=\"+Inf\"", static_cast<double>(histogram.count()));
    line((std::string(name) + "_sum").c_str(), "", histogram.sum_seconds());
    line((std::string(name) + "_count").c_str(), "", static_cast<double>(histogram.count()));
  }

  std::string take() { return std::move(text_); }

 private:
  void header(const char* name, const char* type, const char* help) {
    text_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void line(const char* name, const std::string& extra_label, double value) {
    char number[64];
    std::snprintf(number, sizeof(number), "%.17g", value);
    text_ += name;
    text_ += "{" + labels_ + (extra_label.empty() ? "" : "," + extra_label) + "} ";
    text_ += number;
    text_ += "\n";
  }

  std::string labels_;
  std::string text_;
};

std::string escape_label(const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return escaped;
}

}  // namespace

std::string render_prometheus(const EngineMetrics& engine, const HttpMetrics& http, const std::string& model_name) {
  Writer out("model_name=\"" + escape_label(model_name) + "\"");
  auto value = [](const auto& atomic) { return static_cast<double>(atomic.load(std::memory_order_relaxed)); };
  out.metric("dsinfer_num_running_requests", "gauge", "Requests admitted to the running batch.", value(engine.running_requests));
  out.metric("dsinfer_num_queued_requests", "gauge", "Requests waiting to be admitted.", value(engine.queued_requests));
  out.metric("dsinfer_kv_pages_total", "gauge", "KV-cache pages in the pool.", value(engine.kv_pages_total));
  out.metric("dsinfer_kv_pages_free", "gauge", "KV-cache pages neither held by requests nor cached.", value(engine.kv_pages_free));
  out.metric("dsinfer_kv_pages_request", "gauge", "KV-cache pages held by running requests alone (live, not in the prefix cache).",
             value(engine.kv_pages_request));
  out.metric("dsinfer_kv_pages_cached", "gauge", "KV-cache pages in the radix prefix cache (reusable).",
             value(engine.kv_pages_cached));
  const double total_pages = value(engine.kv_pages_total);
  out.metric("dsinfer_kv_cache_usage", "gauge", "Share of KV-cache pages not free.",
             total_pages > 0 ? (total_pages - value(engine.kv_pages_free)) / total_pages : 0.0);
  const double prompt_tokens = value(engine.prompt_tokens);
  out.metric("dsinfer_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", prompt_tokens);
  out.metric("dsinfer_prefix_cache_hit_tokens_total", "counter", "Prompt tokens served from the prefix cache.",
             value(engine.prefix_cache_hit_tokens));
  out.metric("dsinfer_prefix_cache_hit_rate", "gauge", "Prefix-cache hit tokens over prompt tokens, since start.",
             prompt_tokens > 0 ? value(engine.prefix_cache_hit_tokens) / prompt_tokens : 0.0);
  out.metric("dsinfer_generation_tokens_total", "counter", "Tokens generated.", value(engine.generated_tokens));
  out.metric("dsinfer_preemptions_total", "counter", "Requests retracted for want of KV pages (recomputed later).",
             value(engine.preemptions));
  out.metric("dsinfer_requests_finished_total", "counter", "Requests that finished normally.", value(engine.requests_finished));
  out.metric("dsinfer_requests_aborted_total", "counter", "Requests aborted (client gone, shutdown).", value(engine.requests_aborted));
  out.metric("dsinfer_requests_failed_total", "counter", "Requests that failed in the engine.", value(engine.requests_failed));
  out.metric("dsinfer_engine_steps_total", "counter", "Scheduler steps (model forwards).", value(engine.steps));
  out.histogram("dsinfer_time_to_first_token_seconds", "From arrival to the first generated token.", engine.time_to_first_token);
  out.histogram("dsinfer_inter_token_latency_seconds", "Between consecutive tokens of one request.", engine.inter_token_latency);
  out.histogram("dsinfer_scheduler_overhead_seconds", "Per step: scheduling, batching and output handling (not the forward or the sampler).",
                engine.scheduler_overhead);
  out.histogram("dsinfer_scheduler_overhead_cpu_seconds", "The same, as engine-thread CPU time (not inflated by other load).",
                engine.scheduler_overhead_cpu);
  out.histogram("dsinfer_forward_seconds", "Per step: the model forward.", engine.forward_time);
  out.metric("dsinfer_http_requests_total", "counter", "HTTP requests answered.", value(http.requests));
  out.metric("dsinfer_http_client_errors_total", "counter", "HTTP 4xx responses.", value(http.client_errors));
  out.metric("dsinfer_http_server_errors_total", "counter", "HTTP 5xx responses.", value(http.server_errors));
  out.metric("dsinfer_http_client_disconnects_total", "counter", "Clients that went away before their response was complete.",
             value(http.client_disconnects));
  out.metric("dsinfer_http_open_streams", "gauge", "Streaming responses in progress.", value(http.open_streams));
  return out.take();
}

}  // namespace dsinfer::server
