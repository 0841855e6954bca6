#pragma once
// A fast, seedable random number stream for the synthetic generator. Every (sequence, head, role)
// gets its own stream derived from the point's seed, so the generated values do not depend on how
// many threads produce them.
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <numbers>

namespace unisparse {

// SplitMix64 step: turns any 64-bit value into a well-mixed one (used to derive stream seeds).
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// xoshiro256** (Blackman and Vigna) with Box-Muller normals.
class Rng {
 public:
  // The stream named by a seed and a path of ids (e.g. {sequence, kv_head, role}).
  Rng(uint64_t seed, std::initializer_list<uint64_t> stream_ids) {
    uint64_t h = mix64(seed);
    for (uint64_t id : stream_ids) h = mix64(h ^ mix64(id + 0x632be59bd9b4e019ull));
    for (uint64_t& word : state_) word = h = mix64(h);
  }

  uint64_t next_u64() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n), n > 0.
  int below(int n) { return static_cast<int>(uniform() * n); }

  // Standard normal; Box-Muller yields two values per pair of uniforms, the second is kept.
  float normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log1p(-uniform()));  // log of (0, 1]
    const double angle = 2.0 * std::numbers::pi * uniform();
    spare_ = static_cast<float>(radius * std::sin(angle));
    has_spare_ = true;
    return static_cast<float>(radius * std::cos(angle));
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
  float spare_ = 0.0f;
  bool has_spare_ = false;
};

}  // namespace unisparse
