#pragma once
// Which scores rank the pages of a dense head in dynamic decode: Quest's key-statistics upper
// bounds, or the oracle's true softmax mass of the query (the upper bound of any page selector at
// that page granularity). Both go through the same budget, forced last page, ties, reuse and GQA
// combination (page_selector.h).
#include <array>
#include <string_view>
#include <utility>

namespace unisparse {

enum class PageSelectorKind { quest, oracle };

inline constexpr std::array<std::pair<PageSelectorKind, std::string_view>, 2> kPageSelectorNames{
    {{PageSelectorKind::quest, "quest"}, {PageSelectorKind::oracle, "oracle"}}};

inline std::string_view to_string(PageSelectorKind kind) {
  for (const auto& [value, name] : kPageSelectorNames)
    if (value == kind) return name;
  return "?";
}

// False on an unknown name (the caller reports where it came from).
inline bool parse(std::string_view text, PageSelectorKind& out) {
  for (const auto& [value, name] : kPageSelectorNames)
    if (name == text) {
      out = value;
      return true;
    }
  return false;
}

}  // namespace unisparse
