#include "framework/config/suggest.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace unisparse {

int edit_distance(std::string_view a, std::string_view b) {
  // One row of the dynamic-programming table: previous[j] = distance(a[0..i), b[0..j)).
  std::vector<int> previous(b.size() + 1);
  std::iota(previous.begin(), previous.end(), 0);
  std::vector<int> current(b.size() + 1);
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string closest_match(std::string_view word, std::span<const std::string> candidates) {
  constexpr int kMaxDistance = 2;
  for (const std::string& candidate : candidates) {
    const size_t dot = candidate.rfind('.');
    if (dot != std::string::npos && std::string_view(candidate).substr(dot + 1) == word)
      return candidate;
  }
  std::string best;
  int best_distance = kMaxDistance + 1;
  for (const std::string& candidate : candidates) {
    const int distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, std::span<const std::string> candidates) {
  const std::string match = closest_match(word, candidates);
  return match.empty() ? std::string() : " (did you mean '" + match + "'?)";
}

}  // namespace unisparse
