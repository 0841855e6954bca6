#include "framework/cli/args.h"

#include <charconv>
#include <cstdio>

#include "framework/config/params.h"
#include "framework/core/error.h"

namespace unisparse::cli {

namespace {
InputError usage_error(const std::string& message) {
  return InputError("<command line>: " + message + " (see --help)");
}
}  // namespace

ArgParser::ArgParser(std::string usage_line, std::string description)
    : usage_line_(std::move(usage_line)), description_(std::move(description)) {}

void ArgParser::flag(const std::string& name, bool* out, const std::string& help) {
  specs_.push_back({Kind::flag, name, "", help, out, false});
}
void ArgParser::option(const std::string& name, std::string* out, const std::string& metavar,
                       const std::string& help, bool required) {
  specs_.push_back({Kind::option, name, metavar, help, out, required});
}
void ArgParser::repeated(const std::string& name, std::vector<std::string>* out,
                         const std::string& metavar, const std::string& help) {
  specs_.push_back({Kind::repeated, name, metavar, help, out, false});
}
void ArgParser::positional(const std::string& name, std::string* out, const std::string& help,
                           bool required) {
  specs_.push_back({Kind::positional, name, name, help, out, required});
}

ArgParser::Spec* ArgParser::find(const std::string& name) {
  for (Spec& spec : specs_)
    if (spec.kind != Kind::positional && spec.name == name) return &spec;
  return nullptr;
}

bool ArgParser::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      std::string value;
      bool has_inline_value = false;
      if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
      Spec* spec = find(arg);
      if (!spec) throw usage_error("unknown option '" + arg + "'");
      spec->seen = true;
      if (spec->kind == Kind::flag) {
        if (has_inline_value) throw usage_error("option '" + arg + "' takes no value");
        *static_cast<bool*>(spec->out) = true;
        continue;
      }
      if (!has_inline_value) {
        if (i + 1 >= args.size()) throw usage_error("option '" + arg + "' needs a value");
        value = args[++i];
      }
      if (spec->kind == Kind::option)
        *static_cast<std::string*>(spec->out) = value;
      else
        static_cast<std::vector<std::string>*>(spec->out)->push_back(value);
      continue;
    }
    Spec* next = nullptr;
    for (Spec& spec : specs_)
      if (spec.kind == Kind::positional && !spec.seen) {
        next = &spec;
        break;
      }
    if (!next) throw usage_error("unexpected argument '" + arg + "'");
    next->seen = true;
    *static_cast<std::string*>(next->out) = arg;
  }
  for (const Spec& spec : specs_)
    if (spec.required && !spec.seen)
      throw usage_error(spec.kind == Kind::positional ? "missing " + spec.name
                                                      : "missing required option " + spec.name);
  return true;
}

bool ArgParser::given(const std::string& name) const {
  for (const Spec& spec : specs_)
    if (spec.name == name) return spec.seen;
  return false;
}

std::string ArgParser::help() const {
  std::string text = "usage: " + usage_line_ + "\n\n" + description_ + "\n\n";
  for (const Spec& spec : specs_) {
    std::string left = "  " + spec.name;
    if (spec.kind == Kind::option || spec.kind == Kind::repeated) left += " " + spec.metavar;
    if (left.size() < 34) left.resize(34, ' ');
    else left += "\n" + std::string(34, ' ');
    text += left + spec.help + (spec.kind == Kind::repeated ? " (repeatable)" : "") + "\n";
  }
  return text;
}

void set_param_option(PointConfig& point, const std::string& option, std::string_view key,
                      const std::string& value) {
  try {
    set_param(point, key, value);
  } catch (const ParamValueError& error) {
    throw input_error("<command line>", 0, option, "'" + value + "': " + error.what());
  }
}

int parse_int_option(const std::string& option, const std::string& value) {
  int result = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
  if (error != std::errc() || end != value.data() + value.size())
    throw usage_error("option " + option + " expects an integer, got '" + value + "'");
  return result;
}

}  // namespace unisparse::cli
