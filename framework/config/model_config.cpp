#include "framework/config/model_config.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "framework/config/suggest.h"

namespace unisparse {

ModelConfig load_model_file(const std::string& path) {
  static const std::vector<std::string> known{"name", "description", "num_q_heads", "num_kv_heads",
                                              "head_dim"};
  const YamlSource source{path, ""};
  const YAML::Node root = load_yaml_file(path);
  ModelConfig model;
  PointConfig scratch;  // the head counts go through the parameter table's range checks
  std::set<std::string> given;
  for (const MapEntry& entry : strict_map(root, source, "", known)) {
    const LocatedNode value = located(entry, source, "");
    if (entry.key == "name") {
      model.name = scalar_text(value, "a name");
      const std::string stem = std::filesystem::path(path).stem().string();
      if (model.name != stem)
        throw value.error("name '" + model.name + "' does not match the file name '" + stem + "'");
    } else if (entry.key == "description") {
      model.description = scalar_text(value, "a text");
    } else {
      apply_param(scratch, *find_param(entry.key), value);
    }
    given.insert(entry.key);
  }
  for (const char* required : {"name", "num_q_heads", "num_kv_heads", "head_dim"})
    if (!given.contains(required)) throw source.error(root, required, "missing key");
  model.shape = scratch.shape;
  if (model.shape.num_q_heads % model.shape.num_kv_heads != 0)
    throw source.error(root, "num_q_heads",
                       "num_q_heads " + std::to_string(model.shape.num_q_heads) +
                           " is not a multiple of num_kv_heads " +
                           std::to_string(model.shape.num_kv_heads));
  return model;
}

ModelConfig load_model(const LocatedNode& reference, const std::string& configs_dir) {
  const std::string name = scalar_text(reference, "a model name");
  const std::string models_dir = (std::filesystem::path(configs_dir) / "models").string();
  const std::vector<std::string> available = yaml_names_in(models_dir);
  if (std::find(available.begin(), available.end(), name) == available.end()) {
    std::string listed;
    for (const std::string& known : available) listed += " " + known;
    throw reference.error("unknown model '" + name + "'" + did_you_mean(name, available) +
                          "; models in " + models_dir + ":" + listed);
  }
  return load_model_file((std::filesystem::path(models_dir) / (name + ".yaml")).string());
}

}  // namespace unisparse
