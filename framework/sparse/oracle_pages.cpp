#include "framework/sparse/oracle_pages.h"

#include <stdexcept>
#include <string>

#include "framework/core/types.h"
#include "framework/sparse/top_pages.h"

namespace unisparse {

std::vector<double> page_masses(std::span<const double> weights, int physical_page_size) {
  if (physical_page_size < 1)
    throw std::invalid_argument("page_masses: page size " + std::to_string(physical_page_size));
  const int num_tokens = static_cast<int>(weights.size());
  std::vector<double> masses(ceil_div(num_tokens, physical_page_size), 0.0);
  for (int token = 0; token < num_tokens; ++token)
    masses[token / physical_page_size] += weights[token];
  return masses;
}

std::vector<int32_t> oracle_pages(std::span<const double> weights, int physical_page_size, int k) {
  const std::vector<double> masses = page_masses(weights, physical_page_size);
  return top_pages(masses, static_cast<int>(masses.size()), k);
}

}  // namespace unisparse
