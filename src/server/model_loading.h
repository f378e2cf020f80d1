// Loading the model for `dsinfer serve` / `dsinfer generate`: finding the model folder (the embedded
// default when none is given), checking the options against the checkpoint, sizing the KV cache from the
// memory budget, and creating the ModelRunner.
//
// KV-cache size (--mem-fraction-static F, as SGLang: the share of memory for weights plus KV cache):
//   --device cpu:  F x --cpu-memory-budget-gb (default 2 GiB) - weight bytes. The budget is ours to set
//                  because a CPU process shares RAM with everything else; pages are touched only when used.
//   --device cuda: the device pool reserves F of the free device memory; the KV cache gets the pool minus
//                  the weights minus a workspace reserve (10% of the pool, at least 1 GiB).
#pragma once

#include <memory>
#include <string>

#include "engine/model_backend.h"
#include "model/config.h"
#include "server/server_options.h"

namespace dsinfer::server {

// `given` if not empty; else the first existing of: <dir of the executable>/../share/dsinfer/dsv3-tiny-fullvocab
// (an installed binary), then `compiled_default` (the source tree's testdata/fixtures/dsv3-tiny-fullvocab, for
// a binary run from its build tree). Throws naming every place it looked.
std::string resolve_model_dir(const std::string& given, const std::string& compiled_default);

struct LoadedModel {
  ModelConfig config;
  std::unique_ptr<ModelBackend> backend;
  int64_t kv_cache_bytes = 0;
};

// options.model_path must already be resolved.
LoadedModel load_model(const ServerOptions& options);

}  // namespace dsinfer::server
