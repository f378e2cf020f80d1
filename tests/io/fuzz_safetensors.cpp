// libFuzzer target for the safetensors parser (clang only; see CMakeLists.txt). Any input must either parse
// with every invariant holding or throw dsinfer::Error; anything else (a crash, a sanitizer report, another
// exception, a broken invariant) is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "io/safetensors_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = dsinfer::SafetensorsFile::parse("fuzz input", data, size);
    std::string violation = dsinfer::testing::safetensors_invariant_violation(*file, data, size);
    if (!violation.empty()) {
      std::fprintf(stderr, "invariant violated: %s\n", violation.c_str());
      std::abort();
    }
  } catch (const dsinfer::Error&) {
    // A rejected input: the expected outcome for most.
  }
  return 0;
}
