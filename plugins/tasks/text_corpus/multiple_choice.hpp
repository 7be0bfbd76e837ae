// Multiple-choice benchmarks in lm-eval's form: each question becomes one (context, continuation) request per
// choice, scored by the summed log-likelihood of the continuation's tokens given the context. The formats, as
// lm-eval-harness's task configs build them (target delimiter " " before every continuation):
//   piqa        {"goal", "sol1", "sol2", "label": 0|1}: context "Question: <goal>\nAnswer:", continuation " <sol>".
//   hellaswag   {"ctx" (or "ctx_a" + "ctx_b"), "activity_label"?, "endings": [4], "label"}: context
//               preprocess("<activity_label>: <ctx>"), continuation " " + preprocess(ending); preprocess strips,
//               turns " [title]" into ". ", drops [bracketed] WikiHow artefacts and double spaces.
//   winogrande  {"sentence" with one "_", "option1", "option2", "answer": "1"|"2"}: partial scoring — context =
//               the sentence up to the blank with the option filled in, continuation " " + the rest (stripped).
// `chars` is the length of lm-eval's choice string (the ending or solution; for winogrande the filled-in
// context), in characters: acc_norm divides the log-likelihood by it.
#pragma once
#include <repro/sdk.hpp>

#include <functional>
#include <string>
#include <vector>

namespace text_corpus {

struct Choice {
  std::string context, continuation;
  int64_t chars = 0;
};

struct Question {
  std::vector<Choice> choices;
  int64_t label = 0;
};

// The first `limit` questions of a JSONL file; throws "file:line: ..." on a malformed line and when the file
// holds fewer than `limit`.
std::vector<Question> read_questions(const std::string& file, const std::string& format, int64_t limit);

// One row per choice (question-major; subset = choice index): EOS, context, continuation, cut from the left
// to L + 1 tokens; loss_mask on the continuation's targets. Tokens as lm-eval's _encode_pair: the continuation
// is encode(context + continuation) after the first |encode(context)| tokens, trailing spaces of the context
// moved to the continuation. Meta: "length", "mc_question", "mc_label", "mc_chars".
repro::sdk::Dataset choice_rows(const std::vector<Question>& qs,
                                const std::function<std::vector<int>(const std::string&)>& encode, int64_t eos,
                                int64_t L);

}  // namespace text_corpus
