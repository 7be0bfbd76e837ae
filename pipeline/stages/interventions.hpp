// Stage 3 (probe), the causal interventions of "Achilles' Heel of Mamba" (§4.1, Fig. 6) on one test set, through the
// SDK's Model::intervene in every selective-SSM layer:
//  * blocking: the SSM edges S[i, j] from the positions of the block roles (the key and its anchor pair) to every
//    position after the last of them are cut; agreement = share of examples whose scored predictions are unchanged;
//  * substitution: each example gets a twin whose twin-role tokens are replaced (the anchor pair by "43"); the
//    positions after them take the twin's SSM inputs; agreement = share of examples whose scored predictions are
//    the twin's own.
// Were the pair's information to reach the later tokens through the SSM, blocking would change the answers and
// substitution would not; the paper finds the opposite (the conv carries it into the tokens right after the pair).
#pragma once
#include <nlohmann/json.hpp>
#include <repro/sdk.hpp>

#include "../core/spec.hpp"

namespace repro {

// {"blocking_agreement", "substitution_agreement" (fractions over the examples probed), their "_min" over subsets,
// "intervention_examples", "subsets": {name: {the two agreements, "intervention_examples"}}; with spec.control also
// "control_blocking_agreement" and "control_examples" (overall and per subset; examples without a control position
// are left out of it)}, or
// {"interventions_not_supported": why} when the architecture has no selective SSM to intervene on.
// Throws UserError when the test set's examples lack the roles the spec names.
// The control's sources [n, L]: per row as many positions as `source` has, the nearest before its last position
// that are not sources themselves (fewer where fewer exist).
torch::Tensor control_sources(const torch::Tensor& source);

nlohmann::json intervention_metrics(sdk::Model& model, const InterventionSpec& spec, const sdk::Dataset& data,
                                    const torch::Device& device, int64_t batch_size);

}  // namespace repro
