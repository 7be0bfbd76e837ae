// Error kinds the CLI maps to exit codes; messages are single lines a user can act on.
#pragma once
#include <stdexcept>
#include <string>

namespace repro {

// Bad input from the user (spec, flags, files): "file:line:col: field: what was expected". Exit 2.
struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A plugin could not be loaded or is incompatible. Exit 3.
struct PluginError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A stage failed while running (e.g. non-finite loss). Exit 1.
struct StageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where in a spec file something is; prints as "file:line:col".
struct Location {
  std::string file;
  int line = 0, column = 0;
  std::string str() const {
    return line > 0 ? file + ":" + std::to_string(line) + ":" + std::to_string(column) : file;
  }
};

}  // namespace repro
