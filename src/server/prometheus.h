// /metrics: the engine's counters, gauges and latency histograms (and the HTTP server's) in the
// Prometheus text exposition format, names prefixed "dsinfer_".
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "engine/engine_metrics.h"

namespace dsinfer::server {

struct HttpMetrics {
  std::atomic<uint64_t> requests{0};            // requests answered by a route
  std::atomic<uint64_t> client_errors{0};       // 4xx responses
  std::atomic<uint64_t> server_errors{0};       // 5xx responses
  std::atomic<uint64_t> client_disconnects{0};  // clients gone before their response was complete
  std::atomic<int64_t> open_streams{0};         // SSE responses in progress
};

std::string render_prometheus(const EngineMetrics& engine, const HttpMetrics& http, const std::string& model_name);

}  // namespace dsinfer::server
