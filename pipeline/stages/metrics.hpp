// Accuracy definitions shared by validation and probing.
//   token_accuracy   : scored tokens (answer_group >= 0) predicted right / scored tokens.
//   query_accuracy   : a query is right when all of its answer tokens are; mean over the queries of each
//                      subset, then the unweighted mean over subsets (the Global_Mamba evaluator's score).
//   example_accuracy : an example is right when all of its scored tokens are (the paper's App. B.5 wording).
// A token counts as right when it equals the target or, if the task gives an "accept" meta, any of
// its alternatives (K1V1*: any region's value); `alternatives[k]` is the share of scored tokens
// predicted as alternative k (which region the model recalled: the paper's Fig. 7a).
#pragma once
#include <nlohmann/json.hpp>
#include <repro/sdk.hpp>

namespace repro {

struct Accuracy {
  double token = 0, query = 0, example = 0;
  int64_t examples = 0, queries = 0, tokens = 0;
  nlohmann::json subsets = nlohmann::json::object();  // name -> {query_accuracy, example_accuracy, examples}
  std::vector<double> alternatives;                   // empty without an "accept" meta
  nlohmann::json to_json() const;
};

// preds: [N, L] int64 argmax predictions aligned with d.targets.
Accuracy score(const sdk::Dataset& d, const torch::Tensor& preds);

struct Evaluation;  // evaluate.hpp
// A scored split as results record it (a test of the probe, the training set of [train] score_train): the
// accuracies, the language-model metrics that apply (lm_metrics.hpp) and the mean loss.
nlohmann::json split_scores(const sdk::Dataset& d, const Evaluation& ev);

}  // namespace repro
