// Minimal leveled logging to stderr. Progress output lives in stages/progress.hpp.
#pragma once
#include <fmt/core.h>

#include <cstdio>

namespace repro::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };
Level& threshold();

template <class... A>
void write(Level l, const char* tag, fmt::format_string<A...> f, A&&... a) {
  if (l < threshold()) return;
  fmt::print(stderr, "{}{}\n", tag, fmt::format(f, std::forward<A>(a)...));
  std::fflush(stderr);
}
template <class... A> void debug(fmt::format_string<A...> f, A&&... a) { write(Level::Debug, "debug: ", f, std::forward<A>(a)...); }
template <class... A> void info(fmt::format_string<A...> f, A&&... a) { write(Level::Info, "", f, std::forward<A>(a)...); }
template <class... A> void warn(fmt::format_string<A...> f, A&&... a) { write(Level::Warn, "warning: ", f, std::forward<A>(a)...); }
template <class... A> void error(fmt::format_string<A...> f, A&&... a) { write(Level::Error, "error: ", f, std::forward<A>(a)...); }

}  // namespace repro::log
