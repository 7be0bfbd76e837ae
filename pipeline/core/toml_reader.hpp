// Checked reading of a TOML table: typed getters whose errors carry "file:line:col: dotted.key:",
// and a finish() that rejects keys nobody asked for, with a did-you-mean.
#pragma once
#define TOML_HEADER_ONLY 1
// TOML++ 3.3 asserts, in builds without NDEBUG, on some malformed input that its release build reports as a
// parse error (e.g. a table header "[/x]", found by tests/fuzz/spec_fuzz): keep the release behaviour everywhere.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_cast<void>(0)
#endif
#include <repro/sdk.hpp>
#include <toml++/toml.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "error.hpp"

namespace repro {

class TomlReader {
 public:
  TomlReader(const toml::table& t, std::string file, std::string path);

  Location where() const;                       // of this table
  Location where(const std::string& key) const;  // of a key's value (the table if absent)
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  std::string dotted(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

  bool has(const std::string& key) const { return t_.contains(key); }
  std::string str(const std::string& key) const;  // required
  std::string str(const std::string& key, const std::string& dflt) const;
  // Text the reports show in a Markdown table cell (labels, titles, claims): a '|' or a line break would split it.
  std::string cell_text(const std::string& key) const;  // required
  std::string cell_text(const std::string& key, const std::string& dflt) const;
  std::string choice(const std::string& key, const std::string& dflt, const std::vector<std::string>& allowed) const;
  int64_t integer(const std::string& key, int64_t dflt, int64_t min, int64_t max) const;
  double number(const std::string& key, double dflt, double min, double max) const;
  bool boolean(const std::string& key, bool dflt) const;
  std::vector<std::string> strings(const std::string& key) const;  // required, non-empty
  std::vector<int64_t> integers(const std::string& key, std::vector<int64_t> dflt) const;
  std::vector<double> numbers(const std::string& key, double min, double max) const;  // empty if absent
  TomlReader sub(const std::string& key) const;  // required table
  std::optional<TomlReader> sub_opt(const std::string& key) const;
  std::vector<TomlReader> array_of_tables(const std::string& key) const;  // [[key]]; empty if absent
  std::vector<std::string> keys() const;  // in file order of appearance is not kept: sorted
  const toml::node* node(const std::string& key) const;

  // A plugin parameter table against its declared specs: defaults filled, types and bounds checked.
  sdk::Params plugin_params(const std::vector<sdk::ParamSpec>& specs) const;

  // Throws for any key not read through this reader (or listed in also_allowed).
  void finish(const std::vector<std::string>& also_allowed = {}) const;

 private:
  const toml::node& required(const std::string& key) const;
  const toml::table& t_;
  std::string file_, path_;
  mutable std::set<std::string> seen_;
};

// Parses a TOML file; syntax errors become UserError "file:line:col: TOML syntax error: ...".
toml::table parse_toml_file(const std::string& file);

}  // namespace repro
