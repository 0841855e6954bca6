#pragma once
// Small file helpers for the run directory. Failures throw std::runtime_error naming the path and
// the system's reason.
#include <string>

namespace unisparse {

std::string read_text_file(const std::string& path);

// Writes path.tmp, then renames it over path, so a reader (or a killed run) never sees a
// half-written file.
void write_text_file_atomically(const std::string& path, const std::string& content);

}  // namespace unisparse
