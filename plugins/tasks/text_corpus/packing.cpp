#include "packing.hpp"

#include <numeric>
#include <stdexcept>

namespace text_corpus {
using namespace repro::sdk;

Dataset blank_rows(int64_t n, int64_t L, const std::string& subset) {
  Dataset d;
  d.inputs = torch::zeros({n, L}, torch::kInt64);
  d.targets = torch::full({n, L}, kIgnore, torch::kInt64);
  d.loss_mask = torch::zeros({n, L}, torch::kBool);
  d.answer_group = torch::full({n, L}, -1, torch::kInt64);
  d.subset = torch::zeros({n}, torch::kInt64);
  d.subset_names = {subset};
  return d;
}

Dataset pack(const TokenizedCorpus& corpus, Split split, uint64_t seed, int64_t n, int64_t L) {
  std::vector<int64_t> docs;
  for (int64_t d = 0; d < corpus.documents(); ++d)
    if (corpus.split_of(d) == split) docs.push_back(d);
  Rng rng(Rng::derive(seed, "documents"));
  for (int64_t i = static_cast<int64_t>(docs.size()) - 1; i > 0; --i) std::swap(docs[i], docs[rng.uniform(0, i + 1)]);

  const int64_t need = n * L + 1;
  std::vector<int64_t> stream;
  stream.reserve(static_cast<size_t>(need) + 1);
  for (size_t i = 0; i < docs.size() && static_cast<int64_t>(stream.size()) < need; ++i) {
    corpus.append(docs[i], stream);
    stream.push_back(corpus.tokenizer().eos());
  }
  if (static_cast<int64_t>(stream.size()) < need)
    throw std::runtime_error("the corpus's " + std::string(split_name(split)) + " documents hold " +
                             std::to_string(stream.size()) + " tokens with separators: " +
                             std::to_string((static_cast<int64_t>(stream.size()) - 1) / L) + " windows of " +
                             std::to_string(L) + ", fewer than the " + std::to_string(n) + " asked for");
  auto all = torch::from_blob(stream.data(), {need}, torch::kInt64);
  Dataset d = blank_rows(n, L);
  d.inputs = all.narrow(0, 0, n * L).view({n, L}).clone();
  d.targets = all.narrow(0, 1, n * L).view({n, L}).clone();
  d.loss_mask.fill_(true);
  return d;
}

int64_t rolling_rows(const std::vector<Document>& docs, int64_t L) {
  int64_t rows = 0;
  for (const auto& doc : docs) rows += (static_cast<int64_t>(doc.tokens.size()) + L - 1) / L;
  return rows;
}

Dataset rolling(const std::vector<Document>& docs, int64_t eos, int64_t L, int64_t n) {
  Dataset d = blank_rows(n, L);
  auto length = torch::ones({n}, torch::kInt64), words = torch::zeros({n}, torch::kInt64),
       bytes = torch::zeros({n}, torch::kInt64);
  auto in = d.inputs.accessor<int64_t, 2>(), tg = d.targets.accessor<int64_t, 2>();
  auto mask = d.loss_mask.accessor<bool, 2>();
  int64_t row = 0;
  for (const auto& doc : docs) {
    std::vector<int64_t> t = {eos};  // t[k + 1] = the document's k-th token
    t.insert(t.end(), doc.tokens.begin(), doc.tokens.end());
    const int64_t predict = static_cast<int64_t>(doc.tokens.size());
    if (predict == 0) continue;  // an empty document: nothing to score
    words[row] = doc.words;
    bytes[row] = doc.bytes;
    for (int64_t done = 0; done < predict; ++row) {
      const int64_t end = std::min(predict, done + L);  // this window predicts t[done + 1 .. end]
      const int64_t start = std::max<int64_t>(0, end - L);  // its inputs t[start .. end - 1]: up to L of context
      length[row] = end - start;
      for (int64_t p = start; p < end; ++p) {
        in[row][p - start] = t[p];
        tg[row][p - start] = t[p + 1];
        mask[row][p - start] = p >= done;
      }
      done = end;
    }
  }
  d.meta["length"] = length;
  d.meta["words"] = words;
  d.meta["bytes"] = bytes;
  return d;
}

}  // namespace text_corpus
