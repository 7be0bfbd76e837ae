#include "show.hpp"

#include <fmt/format.h>

#include "batches.hpp"

namespace repro {
namespace {

// One token as text. Roles come from the task (sdk::Role); without a "role" meta every token is plain.
std::string token_text(int64_t tok, int role, int64_t target, const std::vector<int64_t>& alts, bool scored) {
  std::string s;
  switch (role) {
    case sdk::kKey: s = fmt::format("k{}", tok); break;
    case sdk::kValue: s = fmt::format("v{}", tok); break;
    case sdk::kSeparator: s = fmt::format("<{}>", tok); break;
    case sdk::kQuery: s = fmt::format("?{}", tok); break;
    case sdk::kAnswer: s = "_"; break;  // hidden value slot: its content is filler or a mask token
    case sdk::kFiller: s = "."; break;
    default: s = std::to_string(tok);
  }
  if (target != sdk::kIgnore) {
    s += fmt::format("={}", target);
    for (auto a : alts)
      if (a >= 0 && a != target) s += fmt::format("|{}", a);
    if (!scored) s += "(loss)";  // trained on but not scored, e.g. a closing separator
  }
  return s;
}

}  // namespace

void show_examples(const sdk::Dataset& d, int64_t count, std::ostream& out) {
  const int64_t n = d.inputs.size(0), subsets = static_cast<int64_t>(d.subset_names.size());
  const auto lengths = example_lengths(d);
  auto role = d.meta.count("role") ? d.meta.at("role").to(torch::kInt64) : torch::Tensor();
  auto accept = d.meta.count("accept") ? d.meta.at("accept") : torch::Tensor();
  // Round-robin over subsets so a mixed grid shows each configuration before repeating one.
  std::vector<std::vector<int64_t>> by_subset(static_cast<size_t>(std::max<int64_t>(subsets, 1)));
  for (int64_t i = 0; i < n; ++i) by_subset[d.subset[i].item<int64_t>()].push_back(i);
  std::vector<int64_t> picked;
  for (size_t k = 0; static_cast<int64_t>(picked.size()) < std::min(count, n); ++k)
    for (const auto& rows : by_subset)
      if (k < rows.size() && static_cast<int64_t>(picked.size()) < count) picked.push_back(rows[k]);

  out << "legend: k=key v=value ?=query key <id>=separator _=hidden answer slot .=filler; "
         "=x target x (|y alternatives also accepted)\n";
  for (int64_t i : picked) {
    const int64_t len = lengths[i];
    out << fmt::format("\nexample {} [{}] length {}\n", i, d.subset_names[d.subset[i].item<int64_t>()], len);
    std::string line;
    int64_t line_start = 0;
    for (int64_t t = 0; t < len; ++t) {
      std::vector<int64_t> alts;
      if (accept.defined())
        for (int64_t k = 0; k < accept.size(2); ++k) alts.push_back(accept[i][t][k].item<int64_t>());
      const int r = role.defined() ? static_cast<int>(role[i][t].item<int64_t>()) : -1;
      std::string tok = token_text(d.inputs[i][t].item<int64_t>(), r, d.targets[i][t].item<int64_t>(), alts,
                                   d.answer_group[i][t].item<int64_t>() >= 0);
      if (line.size() + tok.size() > 100) {
        out << fmt::format("{:>5}  {}\n", line_start, line);
        line.clear();
        line_start = t;
      }
      line += (line.empty() ? "" : " ") + tok;
    }
    if (!line.empty()) out << fmt::format("{:>5}  {}\n", line_start, line);
  }
}

}  // namespace repro
