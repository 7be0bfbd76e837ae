// Plugin parameter values: conversion to JSON (canonical, for cache keys and results) and text.
#pragma once
#include <nlohmann/json.hpp>
#include <repro/sdk.hpp>

#include <set>
#include <string>

namespace repro {

const char* type_name(sdk::ParamType t);
nlohmann::json to_json(const sdk::Value& v);
std::string to_text(const sdk::Value& v);  // TOML-like: 3, 0.001, true, "x", [1, 2]
// Keys sorted, so the dump is canonical.
nlohmann::json params_json(const sdk::Params& p);
// The parameters that `specs` marks in_key_at_default = false when every one of them holds its default value (the
// behaviour from before they existed), else none: then they all describe what is built.
std::set<std::string> unkeyed_params(const sdk::Params& p, const std::vector<sdk::ParamSpec>& specs);
// What cache keys hash: params_json without the unkeyed parameters (DatasetSpec/ModelSpec::unkeyed).
nlohmann::json params_key_json(const sdk::Params& p, const std::set<std::string>& unkeyed);

}  // namespace repro
