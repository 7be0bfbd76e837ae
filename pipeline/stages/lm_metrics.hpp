// Language-model metrics of one test split, from each example's summed cross-entropy (Evaluation::row_nll):
//   perplexity       exp(total NLL / scored tokens), for a split without answer tokens (language modelling);
//   word_perplexity  exp(total NLL / words), bits_per_byte = total NLL / ln 2 / bytes, when the task gives each
//                    example's "words" and "bytes" (lm-eval's wikitext metrics, over whole documents);
//   mc_accuracy      multiple choice (meta "mc_question", "mc_label", "mc_chars", one example per choice): a
//                    question is right when its label's choice has the highest log-likelihood (the first on ties);
//   mc_accuracy_norm the same with each log-likelihood divided by its choice's length in characters (acc_norm).
// These follow lm-eval-harness's definitions so that a user-provided benchmark file scores as it would there.
#pragma once
#include <nlohmann/json.hpp>
#include <repro/sdk.hpp>

namespace repro {

// The metrics that apply to `d` (an empty object for e.g. MQAR); row_nll: [N] float64.
nlohmann::json lm_metrics(const sdk::Dataset& d, const torch::Tensor& row_nll);

}  // namespace repro
