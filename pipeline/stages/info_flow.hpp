// The information-flow matrix of the Achilles paper (Fig. 5): S = Mask∘CᵀB per selective-SSM layer,
// S[i, j] = C_i · (prod_{k=j+1..i} exp(delta_k A)) B_j for j <= i (0 above the diagonal). Unlike the
// attention-like matrix of Eq. 5 it leaves out delta_j, which the paper folds into the input X∘delta.
// Built from the SDK's "ssm.*" internals, so it works for any architecture that exposes them.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace repro {

// Mamba-1 has a decay per channel, so S has one matrix per channel; we return the mean over channels
// of |S^d| [B, L, L] (the paper's single-head Mamba-2 has one). Computed in fp64.
torch::Tensor info_flow_matrix(const std::map<std::string, torch::Tensor>& layer);

}  // namespace repro
