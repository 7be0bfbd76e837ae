// Shell-style globs (fnmatch) over ids: `repro run --only` over cell ids, a figure's `models` over model ids.
#pragma once
#include <fnmatch.h>

#include <algorithm>
#include <string>
#include <vector>

namespace repro {

inline bool matches(const std::string& glob, const std::string& id) {
  return ::fnmatch(glob.c_str(), id.c_str(), 0) == 0;
}

inline bool matches_any(const std::vector<std::string>& globs, const std::string& id) {
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return matches(g, id); });
}

}  // namespace repro
