// Plugin discovery and loading (Boost.DLL). Library handles outlive every object made from them:
// each task/architecture/model handed out keeps its library loaded through its shared_ptr deleter.
#pragma once
#include <repro/sdk.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace repro {

struct PluginInfo {
  std::string kind;  // "task" or "architecture"
  std::string name, version, description;
  std::filesystem::path path;
  std::vector<sdk::ParamSpec> params;
};

class PluginRegistry {
 public:
  // Search order: extra_dirs (--plugin-path), REPRO_PLUGIN_PATH (':'-separated), the build tree,
  // <exe dir>/../lib/repro/plugins. A name found twice keeps the first.
  static std::vector<std::filesystem::path> search_path(const std::vector<std::filesystem::path>& extra_dirs);

  // Loads every repro-*.so in the given directories. Broken or incompatible plugins are recorded in
  // problems() (and refused), so one bad file does not hide the others.
  explicit PluginRegistry(const std::vector<std::filesystem::path>& dirs);
  PluginRegistry() = default;

  // Loads one file; throws PluginError (ABI mismatch naming both versions, missing symbol, dlopen error).
  void load_file(const std::filesystem::path& file);

  std::shared_ptr<const sdk::Task> task(const std::string& name) const;  // throws UserError with did-you-mean
  std::shared_ptr<const sdk::Architecture> architecture(const std::string& name) const;
  // Builds a model whose lifetime also pins the architecture's library.
  std::shared_ptr<sdk::Model> build_model(const std::string& arch, const sdk::Params& cfg,
                                          const sdk::ModelShape& shape) const;

  std::vector<PluginInfo> list() const;
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::map<std::string, std::shared_ptr<const sdk::Task>> tasks_;
  std::map<std::string, std::shared_ptr<const sdk::Architecture>> archs_;
  std::map<std::string, std::filesystem::path> paths_;  // "task:name" -> file
  std::vector<std::string> problems_;
};

// Closest candidate by edit distance, or "" if none is close; for "did you mean" hints.
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace repro
