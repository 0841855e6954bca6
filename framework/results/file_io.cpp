#include "framework/results/file_io.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace unisparse {

namespace {

std::runtime_error file_error(const std::string& what, const std::string& path) {
  return std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error("cannot open", path);
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw file_error("cannot read", path);
  return content.str();
}

void write_text_file_atomically(const std::string& path, const std::string& content) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw file_error("cannot create", temporary);
    out << content;
    out.flush();
    if (!out) throw file_error("cannot write", temporary);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    throw std::runtime_error("cannot rename " + temporary + " to " + path + ": " + error.message());
  }
}

}  // namespace unisparse
