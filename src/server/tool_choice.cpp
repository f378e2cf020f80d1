#include "server/tool_choice.h"

namespace dsinfer::server {

std::vector<text::PromptSegment> forced_tool_call_prefix(const GenerationSpec& spec) {
  if (spec.tool_choice != "required" && spec.tool_choice != "function") return {};
  std::vector<text::PromptSegment> prefix = {
      {"<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>", /*user_supplied=*/false}};
  std::string name = spec.tool_choice_name;
  if (spec.tool_choice == "required" && spec.tools.size() == 1) name = spec.tools[0]["function"]["name"].get<std::string>();
  if (!name.empty()) {
    prefix.push_back({name, /*user_supplied=*/true});
    prefix.push_back({"\n```json\n", /*user_supplied=*/false});
  }
  return prefix;
}

}  // namespace dsinfer::server
