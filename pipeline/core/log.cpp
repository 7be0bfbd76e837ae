#include "log.hpp"

namespace repro::log {
Level& threshold() {
  static Level l = Level::Info;
  return l;
}
}  // namespace repro::log
