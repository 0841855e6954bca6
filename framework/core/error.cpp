#include "framework/core/error.h"

namespace unisparse {

InputError input_error(const std::string& file, int line, const std::string& key,
                       const std::string& message) {
  std::string text = file;
  if (line > 0) text += ":" + std::to_string(line);
  if (!key.empty()) text += ": key '" + key + "'";
  text += ": " + message;
  return InputError(text);
}

}  // namespace unisparse
