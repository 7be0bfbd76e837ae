#include "plugins.hpp"

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstdlib>

#include "error.hpp"
#include "log.hpp"

#ifndef REPRO_BUILD_PLUGIN_DIR
#define REPRO_BUILD_PLUGIN_DIR ""
#endif

namespace repro {
namespace fs = std::filesystem;

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::vector<size_t> prev(c.size() + 1), cur(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= word.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= c.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (word[i - 1] != c[j - 1])});
      std::swap(prev, cur);
    }
    if (prev[c.size()] < best_d) best_d = prev[c.size()], best = c;
  }
  return best;
}

std::vector<fs::path> PluginRegistry::search_path(const std::vector<fs::path>& extra_dirs) {
  std::vector<fs::path> dirs = extra_dirs;
  if (const char* env = std::getenv("REPRO_PLUGIN_PATH")) {
    std::string s = env;
    for (size_t a = 0, b; a <= s.size(); a = b + 1) {
      b = s.find(':', a);
      if (b == std::string::npos) b = s.size();
      if (b > a) dirs.emplace_back(s.substr(a, b - a));
    }
  }
  if (*REPRO_BUILD_PLUGIN_DIR) dirs.emplace_back(REPRO_BUILD_PLUGIN_DIR);
  dirs.push_back(boost::dll::program_location().parent_path() / ".." / "lib" / "repro" / "plugins");
  return dirs;
}

PluginRegistry::PluginRegistry(const std::vector<fs::path>& dirs) {
  for (const auto& d : dirs) {
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      const auto fn = e.path().filename().string();
      if (fn.rfind("repro-", 0) == 0 && e.path().extension() == ".so") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        load_file(f);
      } catch (const PluginError& e) {
        problems_.push_back(e.what());
      }
    }
  }
}

namespace {
// Ties an object's lifetime to the library its code lives in: the object dies first, then the handle.
template <class T>
std::shared_ptr<T> pin(std::shared_ptr<T> obj, std::shared_ptr<boost::dll::shared_library> lib) {
  T* raw = obj.get();
  return std::shared_ptr<T>(raw, [obj = std::move(obj), lib = std::move(lib)](T*) mutable {
    obj.reset();
    lib.reset();
  });
}
}  // namespace

void PluginRegistry::load_file(const fs::path& file) {
  auto lib = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code ec;
  lib->load(file, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local, ec);
  if (ec) throw PluginError(file.string() + ": cannot load plugin: " + ec.message());
  if (!lib->has("repro_sdk_abi"))
    throw PluginError(file.string() + ": missing symbol 'repro_sdk_abi' (not built with REPRO_REGISTER_*?)");
  const int abi = lib->get_alias<const int>("repro_sdk_abi");
  if (abi != sdk::kAbiVersion)
    throw PluginError(fmt::format("{}: plugin built for repro SDK ABI {}, this repro has SDK ABI {}; rebuild the plugin",
                                  file.string(), abi, sdk::kAbiVersion));
  // A plugin that registered stays loaded until the process exits: an exception it throws (its type, what()
  // and destructor live in its code) may be caught after the registry is gone, e.g. in main() when a
  // `repro run --dry-run` plugin call fails and unwinding destroys the command's registry.
  static std::vector<std::shared_ptr<boost::dll::shared_library>> keep;
  keep.push_back(lib);
  if (lib->has("repro_make_task")) {
    auto t = pin<const sdk::Task>(lib->get_alias<sdk::detail::TaskFactory>("repro_make_task")(), lib);
    if (tasks_.count(t->name())) return;  // earlier search-path entries win
    paths_["task:" + t->name()] = file;
    tasks_[t->name()] = t;
  } else if (lib->has("repro_make_architecture")) {
    auto a = pin<const sdk::Architecture>(
        lib->get_alias<sdk::detail::ArchitectureFactory>("repro_make_architecture")(), lib);
    if (archs_.count(a->name())) return;
    paths_["architecture:" + a->name()] = file;
    archs_[a->name()] = a;
  } else {
    throw PluginError(file.string() + ": missing symbol 'repro_make_task' or 'repro_make_architecture'");
  }
  log::debug("loaded plugin {}", file.string());
}

namespace {
template <class M>
auto find_or_hint(const M& m, const std::string& name, const char* kind) {
  auto it = m.find(name);
  if (it != m.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, _] : m) names.push_back(n);
  std::string hint = closest(name, names);
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  throw UserError(fmt::format("unknown {} '{}'{}; known: {}", kind, name,
                              hint.empty() ? "" : " (did you mean '" + hint + "'?)", known.empty() ? "none" : known));
}
}  // namespace

std::shared_ptr<const sdk::Task> PluginRegistry::task(const std::string& n) const {
  return find_or_hint(tasks_, n, "task");
}
std::shared_ptr<const sdk::Architecture> PluginRegistry::architecture(const std::string& n) const {
  return find_or_hint(archs_, n, "architecture");
}

std::shared_ptr<sdk::Model> PluginRegistry::build_model(const std::string& arch, const sdk::Params& cfg,
                                                        const sdk::ModelShape& shape) const {
  auto a = architecture(arch);
  auto m = a->build(cfg, shape);
  sdk::Model* raw = m.get();
  // The model's deleter holds the architecture handle, which holds the library.
  return std::shared_ptr<sdk::Model>(raw, [m = std::move(m), a](sdk::Model*) mutable { m.reset(); a.reset(); });
}

std::vector<PluginInfo> PluginRegistry::list() const {
  std::vector<PluginInfo> out;
  for (const auto& [n, t] : tasks_)
    out.push_back({"task", n, t->version(), t->description(), paths_.at("task:" + n), t->params()});
  for (const auto& [n, a] : archs_)
    out.push_back({"architecture", n, a->version(), a->description(), paths_.at("architecture:" + n), a->params()});
  return out;
}

}  // namespace repro
