// Stage 1, generate: a task plugin's split -> dataset artifact in the store.
#pragma once
#include <filesystem>

#include "../core/plan.hpp"
#include "../core/store.hpp"

namespace repro {

// The split's dataset artifact directory, generated if absent or corrupted. Safe across processes.
std::filesystem::path ensure_split(const Store& store, const PluginRegistry& plugins, const Spec& spec,
                                   const SplitRef& split);

}  // namespace repro
