// tool_choice "required" or a named function, without a grammar engine. DeepSeek-V3 writes a tool call as
//   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGUMENTS\n```<｜tool▁call▁end｜>
// so forcing one is a matter of starting the assistant turn with that opening: through the function's name and
// the argument fence when the function is known (named, or "required" with a single tool), else up to the name,
// which the model then writes itself. The model continues from there, and the output is parsed (by the tool-call
// parser) with the opening in front, as if the model had written it. What the model writes after the opening is
// not constrained: an unnamed call may name a function that is not in `tools`, and the arguments may not be
// valid JSON. The output ends as the parser reads it: a turn the model ends (EOS, stop) has finish_reason
// "tool_calls"; one cut off by max_tokens has "length" and the arguments written so far; a call cut off before
// its name was written is no call, and its text comes back as content.
#pragma once

#include <vector>

#include "server/openai_request.h"
#include "text/prompt_segment.h"

namespace dsinfer::server {

// The opening the assistant turn must start with for spec.tool_choice and spec.tools, as prompt segments (the
// function's name is request text, encoded as plain text); empty for "auto" and "none".
std::vector<text::PromptSegment> forced_tool_call_prefix(const GenerationSpec& spec);

}  // namespace dsinfer::server
