#include "params.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace repro {

const char* type_name(sdk::ParamType t) {
  switch (t) {
    case sdk::ParamType::Int: return "an integer";
    case sdk::ParamType::Float: return "a number";
    case sdk::ParamType::Bool: return "a boolean";
    case sdk::ParamType::String: return "a string";
    case sdk::ParamType::IntList: return "a list of integers";
  }
  return "?";
}

nlohmann::json to_json(const sdk::Value& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}

std::string to_text(const sdk::Value& v) {
  struct V {
    std::string operator()(int64_t x) const { return std::to_string(x); }
    std::string operator()(double x) const { return fmt::format("{}", x); }
    std::string operator()(bool x) const { return x ? "true" : "false"; }
    std::string operator()(const std::string& x) const { return "\"" + x + "\""; }
    std::string operator()(const std::vector<int64_t>& x) const { return fmt::format("[{}]", fmt::join(x, ", ")); }
  };
  return std::visit(V{}, v);
}

nlohmann::json params_json(const sdk::Params& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : p.values()) j[k] = to_json(v);
  return j;
}

std::set<std::string> unkeyed_params(const sdk::Params& p, const std::vector<sdk::ParamSpec>& specs) {
  std::set<std::string> out;
  for (const auto& s : specs) {
    if (s.in_key_at_default) continue;
    const auto it = p.values().find(s.name);
    if (it != p.values().end() && !(it->second == s.default_value)) return {};  // a later feature in use: all count
    out.insert(s.name);
  }
  return out;
}

nlohmann::json params_key_json(const sdk::Params& p, const std::set<std::string>& unkeyed) {
  nlohmann::json j = params_json(p);
  for (const auto& name : unkeyed) j.erase(name);
  return j;
}

}  // namespace repro
