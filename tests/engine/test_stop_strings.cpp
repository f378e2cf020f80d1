#include <gtest/gtest.h>

#include "engine/stop_strings.h"

namespace dsinfer {
namespace {

// Feeds pieces one by one; returns (emitted text, matched stop or "").
std::pair<std::string, std::string> run(std::vector<std::string> stops, const std::vector<std::string>& pieces) {
  StopStringMatcher matcher(std::move(stops));
  std::string emitted;
  for (const auto& piece : pieces) {
    StopStringMatcher::Result result = matcher.push(piece);
    emitted += result.text;
    if (result.stopped) return {emitted, result.matched};
  }
  return {emitted + matcher.finish(), ""};
}

TEST(StopStrings, MatchesAcrossPieceBoundaries) {
  EXPECT_EQ(run({"END"}, {"hello E", "N", "D tail"}), std::make_pair(std::string("hello "), std::string("END")));
  EXPECT_EQ(run({"\n\n"}, {"a\n", "\nb"}), std::make_pair(std::string("a"), std::string("\n\n")));
}

TEST(StopStrings, HoldsBackOnlyWhatCouldStartAStopString) {
  StopStringMatcher matcher({"END"});
  EXPECT_EQ(matcher.push("abcE").text, "abc");   // "E" might start "END"
  EXPECT_EQ(matcher.push("Nx").text, "ENx");     // it did not
  EXPECT_EQ(matcher.push("EN").text, "");
  EXPECT_EQ(matcher.finish(), "EN");             // the output ended without a stop: nothing is lost
}

TEST(StopStrings, EarliestMatchWinsAndTextAfterItIsDropped) {
  EXPECT_EQ(run({"world", "lo w"}, {"hello world!"}), std::make_pair(std::string("hel"), std::string("lo w")));
  EXPECT_EQ(run({"ab", "abc"}, {"xabc"}), std::make_pair(std::string("x"), std::string("abc")));
  EXPECT_EQ(run({"zzz"}, {"no", " match"}), std::make_pair(std::string("no match"), std::string("")));
}

TEST(StopStrings, MultiByteText) {
  EXPECT_EQ(run({"世界"}, {"你好", "世", "界!"}), std::make_pair(std::string("你好"), std::string("世界")));
}

}  // namespace
}  // namespace dsinfer
