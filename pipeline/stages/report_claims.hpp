// The claims section: each claim of the paper the spec lists, with a verdict derived from the numbers
// by the spec's rule (holds_if checks): every check passes = holds, none passes = fails, some pass or
// some cannot be evaluated = partial, no check can be evaluated = not run. A comparison of sides that differ by
// less than kNoiseSE standard errors of their seed means is "within noise" (neither passes nor fails): a 0.1-point
// lead with a 4-point seed spread decides nothing.
#pragma once
#include <string>
#include <vector>

#include "report_data.hpp"

namespace repro {

inline constexpr double kNoiseSE = 2;

struct CheckOutcome {
  enum State { kPass, kFail, kNoise, kNotRun } state = kNotRun;
  std::string detail;  // the check with the numbers it compared
};

struct ClaimVerdict {
  std::string word;  // holds | fails | partial | within noise | not run
  std::vector<CheckOutcome> checks;
};

ClaimVerdict judge_claim(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const ClaimSpec& c);
std::string render_claims(const Spec& spec, const std::vector<Cell>& cells, const Results& res);

}  // namespace repro
