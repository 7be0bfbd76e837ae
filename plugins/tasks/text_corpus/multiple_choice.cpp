#include "multiple_choice.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>
#include <stdexcept>

#include "packing.hpp"

namespace text_corpus {
using json = nlohmann::json;
using namespace repro::sdk;

namespace {

int64_t utf8_chars(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string strip(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\n\r\f\v") - b + 1);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

// lm-eval's hellaswag preprocess(); its last replace is a single pass of "  " -> " ", as Python's str.replace.
std::string hellaswag_clean(const std::string& text) {
  static const std::regex brackets("\\[.*?\\]");
  std::string t = replace_all(strip(text), " [title]", ". ");
  t = std::regex_replace(t, brackets, "");
  return replace_all(t, "  ", " ");
}

std::string capitalize(std::string s) {  // Python's str.capitalize on ASCII
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i == 0 ? std::toupper(s[i]) : std::tolower(s[i]));
  return s;
}

int64_t label_of(const json& v) {
  return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
}

Question piqa(const json& d) {
  const std::string ctx = "Question: " + d.at("goal").get<std::string>() + "\nAnswer:";
  Question q;
  for (const char* k : {"sol1", "sol2"}) {
    const auto sol = d.at(k).get<std::string>();
    q.choices.push_back({ctx, " " + sol, utf8_chars(sol)});
  }
  q.label = label_of(d.at("label"));
  return q;
}

Question hellaswag(const json& d) {
  std::string ctx = d.contains("ctx_a") ? d.at("ctx_a").get<std::string>() + " " + capitalize(d.at("ctx_b").get<std::string>())
                                        : d.at("ctx").get<std::string>();
  if (d.contains("activity_label")) ctx = d.at("activity_label").get<std::string>() + ": " + ctx;
  Question q;
  const std::string query = hellaswag_clean(ctx);
  for (const auto& e : d.at("endings")) {
    const std::string ending = hellaswag_clean(e.get<std::string>());
    q.choices.push_back({query, " " + ending, utf8_chars(ending)});
  }
  q.label = label_of(d.at("label"));
  return q;
}

Question winogrande(const json& d) {
  const auto sentence = d.at("sentence").get<std::string>();
  const auto blank = sentence.find('_');
  if (blank == std::string::npos) throw std::invalid_argument("\"sentence\" has no \"_\" blank");
  const std::string rest = " " + strip(sentence.substr(blank + 1));
  Question q;
  for (const char* k : {"option1", "option2"}) {
    const std::string ctx = sentence.substr(0, blank) + d.at(k).get<std::string>();
    q.choices.push_back({ctx, rest, utf8_chars(ctx)});
  }
  q.label = label_of(d.at("answer")) - 1;
  return q;
}

}  // namespace

std::vector<Question> read_questions(const std::string& file, const std::string& format, int64_t limit) {
  std::ifstream in(file);
  if (!in) throw MissingInput("benchmark file '" + file + "' not found");
  std::vector<Question> qs;
  std::string line;
  for (int64_t lineno = 1; static_cast<int64_t>(qs.size()) < limit && std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const json d = json::parse(line);
      Question q = format == "piqa" ? piqa(d) : format == "hellaswag" ? hellaswag(d) : winogrande(d);
      if (q.label < 0 || q.label >= static_cast<int64_t>(q.choices.size()))
        throw std::invalid_argument("label " + std::to_string(q.label) + " is not a choice");
      if (!qs.empty() && q.choices.size() != qs.front().choices.size())
        throw std::invalid_argument("every question needs the same number of choices");
      qs.push_back(std::move(q));
    } catch (const std::exception& e) {
      throw std::runtime_error(file + ":" + std::to_string(lineno) + ": not a " + format + " question: " + e.what());
    }
  }
  if (static_cast<int64_t>(qs.size()) < limit)
    throw std::runtime_error(file + ": holds " + std::to_string(qs.size()) + " questions; the spec's test_examples asks for " +
                             std::to_string(limit));
  return qs;
}

Dataset choice_rows(const std::vector<Question>& qs, const std::function<std::vector<int>(const std::string&)>& encode,
                    int64_t eos, int64_t L) {
  const int64_t k = qs.empty() ? 1 : static_cast<int64_t>(qs.front().choices.size());
  const int64_t n = static_cast<int64_t>(qs.size()) * k;
  Dataset d = blank_rows(n, L, "choice0");
  for (int64_t c = 1; c < k; ++c) d.subset_names.push_back("choice" + std::to_string(c));
  auto length = torch::zeros({n}, torch::kInt64), question = torch::zeros({n}, torch::kInt64),
       label = torch::zeros({n}, torch::kInt64), chars = torch::zeros({n}, torch::kInt64);
  auto in = d.inputs.accessor<int64_t, 2>(), tg = d.targets.accessor<int64_t, 2>();
  auto mask = d.loss_mask.accessor<bool, 2>();
  for (int64_t qi = 0, row = 0; qi < static_cast<int64_t>(qs.size()); ++qi)
    for (int64_t c = 0; c < k; ++c, ++row) {
      Choice ch = qs[qi].choices[c];
      const size_t keep = ch.context.find_last_not_of(' ') + 1;  // lm-eval moves trailing spaces
      if (keep < ch.context.size()) {
        ch.continuation = ch.context.substr(keep) + ch.continuation;
        ch.context.resize(keep);
      }
      const std::vector<int> ctx = encode(ch.context), whole = encode(ch.context + ch.continuation);
      if (whole.size() <= ctx.size()) throw std::runtime_error("question " + std::to_string(qi) + ": empty continuation");
      std::vector<int64_t> t = {eos};
      t.insert(t.end(), whole.begin(), whole.end());
      const int64_t cont = static_cast<int64_t>(whole.size() - ctx.size());
      if (cont > L) throw std::runtime_error("question " + std::to_string(qi) + ": continuation longer than seq_len");
      const int64_t start = std::max<int64_t>(0, static_cast<int64_t>(t.size()) - 1 - L);  // lm-eval cuts the left
      const int64_t len = static_cast<int64_t>(t.size()) - 1 - start;
      for (int64_t p = 0; p < len; ++p) {
        in[row][p] = t[start + p];
        tg[row][p] = t[start + p + 1];
        mask[row][p] = p >= len - cont;
      }
      length[row] = len;
      d.subset[row] = c;
      question[row] = qi;
      label[row] = qs[qi].label;
      chars[row] = ch.chars;
    }
  d.meta["length"] = length;
  d.meta["mc_question"] = question;
  d.meta["mc_label"] = label;
  d.meta["mc_chars"] = chars;
  return d;
}

}  // namespace text_corpus
