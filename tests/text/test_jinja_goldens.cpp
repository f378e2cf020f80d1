// The interpreter against Python Jinja2 configured as Hugging Face transformers configures it: every row of
// data/jinja-goldens.jsonl (made by make_jinja_goldens.py) renders to the same text, or fails where Jinja2
// fails. Rows cover the DeepSeek-R1 and V3 templates on many conversations and the expression language.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "text/jinja/interpreter.h"
#include "text/jinja/parser.h"

namespace dsinfer::text::jinja {
namespace {

std::vector<nlohmann::ordered_json> golden_rows() {
  std::ifstream file(DSINFER_TEXT_TEST_DATA_DIR "/jinja-goldens.jsonl");
  std::vector<nlohmann::ordered_json> rows;
  std::string line;
  while (std::getline(file, line)) rows.push_back(nlohmann::ordered_json::parse(line));
  return rows;
}

std::string template_source(const nlohmann::ordered_json& row) {
  if (row.contains("template")) return row["template"];
  const std::string name = row["template_name"];
  if (name == "deepseek-r1") {
    std::ifstream file(DSINFER_TESTDATA_DIR "/templates/deepseek-r1.jinja");
    return std::string(std::istreambuf_iterator<char>(file), {});
  }
  EXPECT_EQ(name, "deepseek-v3");
  std::ifstream config(DSINFER_TESTDATA_DIR "/fixtures/dsv3-tiny-fullvocab/tokenizer_config.json");
  return nlohmann::json::parse(config)["chat_template"];
}

std::string render_row(const nlohmann::ordered_json& row) {
  const RenderLimits limits;
  const auto parsed =
      parse_template(template_source(row), row["name"].get<std::string>(), limits.max_nesting_depth);
  Dict variables;
  for (const auto& [name, value] : row["variables"].items()) variables.set(name, from_json(value, true, 64));
  return render_template(*parsed, variables, limits).text;
}

TEST(JinjaGoldens, EveryRowMatchesPythonJinja) {
  const auto rows = golden_rows();
  ASSERT_GE(rows.size(), 90u);
  size_t deepseek_rows = 0;
  for (const auto& row : rows) {
    const std::string name = row["name"];
    deepseek_rows += name.starts_with("deepseek");
    if (row.contains("error")) {
      EXPECT_THROW(render_row(row), Error) << name;
      continue;
    }
    try {
      EXPECT_EQ(render_row(row), row["text"].get<std::string>()) << name;
    } catch (const Error& error) {
      ADD_FAILURE() << name << ": " << error.what();
    }
  }
  EXPECT_GE(deepseek_rows, 60u);
}

}  // namespace
}  // namespace dsinfer::text::jinja
