#include "toml_reader.hpp"

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <utility>
#include <sstream>

#include "fs.hpp"
#include "params.hpp"
#include "plugins.hpp"
#include "toml_guard.hpp"

namespace repro {

namespace {
std::string node_type(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}
// TOML++ quotes the character it stumbled on, which may be a line break or another control character (found by
// tests/fuzz/spec_fuzz): escape those so the error stays one line.
std::string one_line(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else out += c;
  }
  return out;
}

// A table made implicitly (by dotted keys, or copied in from a scale: `[scales.paper]` with `experiment.title = ...`)
// may have no position of its own (found by tests/fuzz/spec_fuzz): it is placed at its earliest positioned child,
// else at the file's start, so that every error stays one located line.
std::optional<toml::source_position> first_position(const toml::node& n) {
  if (n.source().begin.line > 0) return n.source().begin;
  std::optional<toml::source_position> best;
  const auto consider = [&](const toml::node& child) {
    const auto p = first_position(child);
    if (p && (!best || std::pair(p->line, p->column) < std::pair(best->line, best->column))) best = p;
  };
  if (const auto* t = n.as_table())
    for (auto&& [k, v] : *t) consider(v);
  else if (const auto* a = n.as_array())
    for (const auto& v : *a) consider(v);
  return best;
}

Location loc_of(const std::string& file, const toml::node& n) {
  const auto p = first_position(n);
  return p ? Location{file, static_cast<int>(p->line), static_cast<int>(p->column)} : Location{file, 1, 1};
}
}  // namespace

toml::table parse_toml_file(const std::string& file) {
  const std::string text = read_file(file);
  if (const auto h = toml_parser_hazard(text))
    throw UserError(fmt::format("{}:{}:{}: TOML syntax error: {}", file, h->at.line, h->at.column, h->what));
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw UserError(fmt::format("{}:{}:{}: TOML syntax error: {}", file, b.line, b.column, one_line(e.description())));
  }
}

TomlReader::TomlReader(const toml::table& t, std::string file, std::string path)
    : t_(t), file_(std::move(file)), path_(std::move(path)) {}

Location TomlReader::where() const { return loc_of(file_, t_); }
Location TomlReader::where(const std::string& key) const {
  const toml::node* n = t_.get(key);
  return n ? loc_of(file_, *n) : where();
}

void TomlReader::fail(const std::string& key, const std::string& what) const {
  throw UserError(fmt::format("{}: {}: {}", where(key).str(), dotted(key), what));
}

const toml::node* TomlReader::node(const std::string& key) const {
  seen_.insert(key);
  return t_.get(key);
}

const toml::node& TomlReader::required(const std::string& key) const {
  const toml::node* n = node(key);
  if (!n) fail(key, "required key is missing");
  return *n;
}

std::string TomlReader::str(const std::string& key) const {
  const auto& n = required(key);
  if (!n.is_string()) fail(key, "expected a string, got " + node_type(n));
  return n.as_string()->get();
}

std::string TomlReader::str(const std::string& key, const std::string& dflt) const {
  return node(key) ? str(key) : dflt;
}

std::string TomlReader::cell_text(const std::string& key) const { return cell_text(key, str(key)); }

std::string TomlReader::cell_text(const std::string& key, const std::string& dflt) const {
  std::string v = str(key, dflt);
  if (v.find_first_of("|\n\r") != std::string::npos)
    fail(key, "expected text without '|' or line breaks (it is shown in a Markdown table cell)");
  return v;
}

std::string TomlReader::choice(const std::string& key, const std::string& dflt,
                               const std::vector<std::string>& allowed) const {
  std::string v = str(key, dflt);
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "\"" : ", \"") + a + "\"";
    std::string hint = closest(v, allowed);
    fail(key, fmt::format("expected one of {}, got \"{}\"{}", list, v, hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"));
  }
  return v;
}

int64_t TomlReader::integer(const std::string& key, int64_t dflt, int64_t min, int64_t max) const {
  const toml::node* n = node(key);
  if (!n) return dflt;
  if (!n->is_integer()) fail(key, "expected an integer, got " + node_type(*n));
  int64_t v = n->as_integer()->get();
  if (v < min || v > max) fail(key, fmt::format("expected an integer in [{}, {}], got {}", min, max, v));
  return v;
}

double TomlReader::number(const std::string& key, double dflt, double min, double max) const {
  const toml::node* n = node(key);
  if (!n) return dflt;
  double v;
  if (n->is_floating_point()) v = n->as_floating_point()->get();
  else if (n->is_integer()) v = static_cast<double>(n->as_integer()->get());
  else fail(key, "expected a number, got " + node_type(*n));
  if (!(v >= min && v <= max)) fail(key, fmt::format("expected a number in [{}, {}], got {}", min, max, v));
  return v;
}

bool TomlReader::boolean(const std::string& key, bool dflt) const {
  const toml::node* n = node(key);
  if (!n) return dflt;
  if (!n->is_boolean()) fail(key, "expected a boolean, got " + node_type(*n));
  return n->as_boolean()->get();
}

std::vector<std::string> TomlReader::strings(const std::string& key) const {
  const auto& n = required(key);
  std::vector<std::string> out;
  if (n.is_string()) return {n.as_string()->get()};
  if (!n.is_array()) fail(key, "expected an array of strings, got " + node_type(n));
  for (const auto& e : *n.as_array()) {
    if (!e.is_string()) fail(key, "expected an array of strings, found " + node_type(e) + " in it");
    out.push_back(e.as_string()->get());
  }
  if (out.empty()) fail(key, "expected a non-empty array of strings");
  return out;
}

std::vector<int64_t> TomlReader::integers(const std::string& key, std::vector<int64_t> dflt) const {
  const toml::node* n = node(key);
  if (!n) return dflt;
  if (n->is_integer()) return {n->as_integer()->get()};
  if (!n->is_array()) fail(key, "expected an array of integers, got " + node_type(*n));
  std::vector<int64_t> out;
  for (const auto& e : *n->as_array()) {
    if (!e.is_integer()) fail(key, "expected an array of integers, found " + node_type(e) + " in it");
    out.push_back(e.as_integer()->get());
  }
  if (out.empty()) fail(key, "expected a non-empty array of integers");
  return out;
}

std::vector<double> TomlReader::numbers(const std::string& key, double min, double max) const {
  const toml::node* n = node(key);
  if (!n) return {};
  if (!n->is_array()) return {number(key, 0, min, max)};
  std::vector<double> out;
  for (const auto& e : *n->as_array()) {
    if (!e.is_number()) fail(key, "expected an array of numbers, found " + node_type(e) + " in it");
    const double v = e.is_integer() ? static_cast<double>(e.as_integer()->get()) : e.as_floating_point()->get();
    if (!(v >= min && v <= max)) fail(key, fmt::format("expected numbers in [{}, {}], got {}", min, max, v));
    out.push_back(v);
  }
  if (out.empty()) fail(key, "expected a non-empty array of numbers");
  return out;
}

TomlReader TomlReader::sub(const std::string& key) const {
  const auto& n = required(key);
  if (!n.is_table()) fail(key, "expected a table, got " + node_type(n));
  return TomlReader(*n.as_table(), file_, dotted(key));
}

std::optional<TomlReader> TomlReader::sub_opt(const std::string& key) const {
  if (!node(key)) return std::nullopt;
  return sub(key);
}

std::vector<TomlReader> TomlReader::array_of_tables(const std::string& key) const {
  const toml::node* n = node(key);
  std::vector<TomlReader> out;
  if (!n) return out;
  if (!n->is_array_of_tables()) fail(key, "expected an array of tables ([[" + dotted(key) + "]]), got " + node_type(*n));
  size_t i = 0;
  for (const auto& e : *n->as_array())
    out.emplace_back(*e.as_table(), file_, dotted(key) + "[" + std::to_string(i++) + "]");
  return out;
}

std::vector<std::string> TomlReader::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, _] : t_) out.emplace_back(k.str());
  return out;
}

sdk::Params TomlReader::plugin_params(const std::vector<sdk::ParamSpec>& specs) const {
  std::map<std::string, sdk::Value> values;
  for (const auto& s : specs) {
    const toml::node* n = node(s.name);
    if (!n) {
      values[s.name] = s.default_value;
      continue;
    }
    auto wrong = [&] { fail(s.name, fmt::format("expected {}, got {}", type_name(s.type), node_type(*n))); };
    auto in_bounds = [&](double x) {
      if ((s.min && x < *s.min) || (s.max && x > *s.max))
        fail(s.name, fmt::format("expected a value in [{}, {}], got {}", s.min ? fmt::format("{}", *s.min) : "-inf",
                                 s.max ? fmt::format("{}", *s.max) : "inf", x));
    };
    switch (s.type) {
      case sdk::ParamType::Int:
        if (!n->is_integer()) wrong();
        in_bounds(static_cast<double>(n->as_integer()->get()));
        values[s.name] = n->as_integer()->get();
        break;
      case sdk::ParamType::Float: {
        if (!n->is_number()) wrong();
        double x = n->is_integer() ? static_cast<double>(n->as_integer()->get()) : n->as_floating_point()->get();
        in_bounds(x);
        values[s.name] = x;
        break;
      }
      case sdk::ParamType::Bool:
        if (!n->is_boolean()) wrong();
        values[s.name] = n->as_boolean()->get();
        break;
      case sdk::ParamType::String: {
        if (!n->is_string()) wrong();
        std::string v = n->as_string()->get();
        if (!s.choices.empty() && std::find(s.choices.begin(), s.choices.end(), v) == s.choices.end()) {
          std::string hint = closest(v, s.choices), list;
          for (const auto& c : s.choices) list += (list.empty() ? "\"" : ", \"") + c + "\"";
          fail(s.name, fmt::format("expected one of {}, got \"{}\"{}", list, v,
                                   hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"));
        }
        values[s.name] = v;
        break;
      }
      case sdk::ParamType::IntList: {
        std::vector<int64_t> xs;
        if (n->is_integer()) xs.push_back(n->as_integer()->get());
        else if (n->is_array()) {
          for (const auto& e : *n->as_array()) {
            if (!e.is_integer()) fail(s.name, "expected a list of integers, found " + node_type(e) + " in it");
            xs.push_back(e.as_integer()->get());
          }
        } else wrong();
        if (xs.empty()) fail(s.name, "expected a non-empty list of integers");
        for (auto x : xs) in_bounds(static_cast<double>(x));
        values[s.name] = xs;
        break;
      }
    }
  }
  finish();
  return sdk::Params(std::move(values));
}

void TomlReader::finish(const std::vector<std::string>& also_allowed) const {
  std::vector<std::string> known(seen_.begin(), seen_.end());
  known.insert(known.end(), also_allowed.begin(), also_allowed.end());
  for (const auto& [k, n] : t_) {
    const std::string key(k.str());
    if (seen_.count(key) || std::find(also_allowed.begin(), also_allowed.end(), key) != also_allowed.end()) continue;
    std::string hint = closest(key, known);
    const auto& b = k.source().begin;  // point at the key itself, not its value
    throw UserError(fmt::format("{}:{}:{}: {}: unknown key{}", file_, b.line, b.column, dotted(key),
                                hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
}

}  // namespace repro
