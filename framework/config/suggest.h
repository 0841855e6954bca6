#pragma once
// "Did you mean" hints for misspelled keys and names in configs and overrides.
#include <span>
#include <string>
#include <string_view>

namespace unisparse {

// Levenshtein distance (insert, delete, substitute; each costs 1).
int edit_distance(std::string_view a, std::string_view b);

// The closest candidate within edit distance 2 of word (or the candidate that is word with a dotted
// prefix, e.g. "workload.needle_strength" for "needle_strength"); empty when none is close.
std::string closest_match(std::string_view word, std::span<const std::string> candidates);

// " (did you mean 'x'?)" or "" when nothing is close: appended to an error message.
std::string did_you_mean(std::string_view word, std::span<const std::string> candidates);

}  // namespace unisparse
