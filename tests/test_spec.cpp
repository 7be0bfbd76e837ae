// Every class of spec error gives one line "file:line:col: key: message".
#include <regex>

#include "core/spec.hpp"
#include "core/toml_guard.hpp"
#include "support.hpp"

using namespace repro;

namespace {
std::string error_of(const std::string& text) {
  test::TempDir dir;
  auto p = dir.write("s.toml", text);
  try {
    load_spec(p.string(), test::plugins());
  } catch (const UserError& e) {
    std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << "multi-line error: " << m;
    return m.substr(m.find("s.toml"));  // drop the temp directory
  }
  ADD_FAILURE() << "spec loaded without error";
  return "";
}
std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto i = s.find(from);
  EXPECT_NE(i, std::string::npos) << from;
  return s.replace(i, from.size(), to);
}
}  // namespace

TEST(Spec, TinySpecLoads) {
  test::TempDir dir;
  auto s = load_spec(dir.write("s.toml", test::tiny_spec()).string(), test::plugins());
  EXPECT_EQ(s.name, "tiny");
  EXPECT_EQ(s.models.at("tf").config.i("d_model"), 32);
  EXPECT_EQ(s.models.at("tf").config.i("mlp_ratio"), 4);  // default filled in
  EXPECT_EQ(s.train.epochs, 2);
  EXPECT_EQ(s.hash.size(), 40u);
}

TEST(Spec, SyntaxErrorHasLineAndColumn) {
  EXPECT_EQ(error_of("[experiment]\nname = \n").substr(0, 11), "s.toml:2:8:") << error_of("[experiment]\nname = \n");
}

TEST(Spec, UnknownKeySuggestsTheClosest) {
  auto e = error_of(test::tiny_spec("learning_rate = 0.01\nepoch = 3\n"));
  EXPECT_TRUE(std::regex_search(e, std::regex(R"(^s\.toml:\d+:\d+: train\.epoch: unknown key \(did you mean 'epochs'\?\))")))
      << e;
}

TEST(Spec, TypeErrorNamesKeyAndExpectedType) {
  auto e = error_of(test::tiny_spec("lr = \"fast\"\n"));
  EXPECT_TRUE(std::regex_search(e, std::regex(R"(^s\.toml:18:6: train\.lr: expected a number, got a string$)"))) << e;
}

TEST(Spec, OutOfRange) {
  auto e = error_of(test::tiny_spec("warmup_fraction = 1.5\n"));
  EXPECT_NE(e.find("train.warmup_fraction: expected a number in [0, 1], got 1.5"), std::string::npos) << e;
}

TEST(Spec, MissingRequiredKey) {
  auto e = error_of(replace(test::tiny_spec(), "architecture = \"transformer\"\n", ""));
  EXPECT_NE(e.find("models.tf.architecture: required key is missing"), std::string::npos) << e;
}

TEST(Spec, UnknownPluginSuggestsTheClosest) {
  auto e = error_of(replace(test::tiny_spec(), "task = \"mqar\"", "task = \"mqr\""));
  EXPECT_NE(e.find("datasets.mqar.task: unknown task 'mqr' (did you mean 'mqar'?)"), std::string::npos) << e;
}

TEST(Spec, PluginParamTypeAndUnknownParam) {
  auto e = error_of(replace(test::tiny_spec(), "d_model = 32", "d_model = 32.5"));
  EXPECT_NE(e.find("models.tf.config.d_model: expected an integer, got a float"), std::string::npos) << e;
  e = error_of(replace(test::tiny_spec(), "d_model = 32", "d_modle = 32"));
  EXPECT_NE(e.find("models.tf.config.d_modle: unknown key (did you mean 'd_model'?)"), std::string::npos) << e;
}

TEST(Spec, PluginCrossCheckPointsAtTheParam) {
  auto e = error_of(replace(test::tiny_spec(), "n_heads = 2", "n_heads = 3"));
  EXPECT_TRUE(std::regex_search(e, std::regex(R"(^s\.toml:13:\d+: models\.tf\.config\.n_heads: n_heads = 3 does not divide)"))) << e;
  e = error_of(replace(test::tiny_spec(), "num_kv_pairs = [2]", "num_kv_pairs = [5]"));
  EXPECT_NE(e.find("datasets.mqar.params.num_kv_pairs: length 16, 5 pairs: the 5 queries"), std::string::npos) << e;
}

TEST(Spec, GridReferencesMustExist) {
  auto e = error_of(replace(test::tiny_spec(), "models = [\"tf\"]", "models = [\"ft\"]"));
  EXPECT_NE(e.find("grid.models: no model named 'ft' (did you mean 'tf'?)"), std::string::npos) << e;
}

// An lr sweep lists distinct numbers and needs validation data to choose by.
TEST(Spec, LrSweepNeedsDistinctNumbersAndValidation) {
  const std::string sweep = test::tiny_spec() + "lrs = [1e-3, 0.001]\n";
  auto e = error_of(sweep);
  EXPECT_TRUE(std::regex_search(e, std::regex(R"(^s\.toml:24:7: grid\.lrs: 0\.001 is listed twice$)"))) << e;
  e = error_of(test::tiny_spec() + "lrs = [1e-3, \"fast\"]\n");
  EXPECT_NE(e.find("grid.lrs: expected an array of numbers, found a string in it"), std::string::npos) << e;
  e = error_of(replace(replace(sweep, "1e-3, 0.001", "1e-3, 1e-4"), "valid_examples = 32", "valid_examples = 0"));
  EXPECT_NE(e.find("grid.lrs: an lr sweep picks the lr by validation loss, but dataset 'mqar' has valid_examples = 0"),
            std::string::npos) << e;
}

TEST(Spec, ChoiceSuggests) {
  auto e = error_of(test::tiny_spec("schedule = \"cosin\"\n"));
  EXPECT_NE(e.find("(did you mean \"cosine\"?)"), std::string::npos) << e;
}

TEST(Spec, MissingFile) {
  try {
    load_spec("/nonexistent/spec.toml", test::plugins());
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/spec.toml: cannot read file"), std::string::npos);
  }
}

// TOML++ 3.3 has undefined behaviour when it tests some non-ASCII characters for whitespace (UBSan, via the spec
// fuzzer): outside strings and comments (TOML allows them only inside), and in a """ string right after a backslash.
namespace {
// Where the guard stops the text, checking that it is for the reason `why` names.
std::optional<TextPosition> hazard_at(std::string_view toml, std::string_view why) {
  const auto h = toml_parser_hazard(toml);
  if (h) EXPECT_NE(h->what.find(why), std::string_view::npos) << h->what;
  return h ? std::optional(h->at) : std::nullopt;
}
}  // namespace

TEST(TomlGuard, NonAsciiOnlyInsideStringsAndComments) {
  const auto at = [](std::string_view toml) { return hazard_at(toml, "outside a string or comment"); };
  EXPECT_FALSE(at(R"(a = "γ × 3"  # ≤ 14 %
b = 'é'
c = """x
\""" é"""
d = '''é'''''
)"));
  EXPECT_FALSE(at("\"ké y\" = 1\nx = \"\\\\\" # é\n"));  // quoted key; escaped backslash
  auto p = at("a = 1\nbé = 2\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->line, 2);
  EXPECT_EQ(p->column, 2);
  p = at("a = \"\"\"x\"\"\"\"\" # ok\n[tγ]\n");  // """x""""" ends after all five quotes
  ASSERT_TRUE(p);
  EXPECT_EQ(p->line, 2);
  EXPECT_EQ(p->column, 3);
  p = at("a = \"é\"é\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->column, 8);  // code points: a, space, =, space, ", é, "  then é
}

TEST(TomlGuard, NonAsciiRightAfterABackslashInAMultiLineBasicString) {
  const auto at = [](std::string_view toml) { return hazard_at(toml, "right after a backslash"); };
  auto p = at("s = \"\"\"\\\n  γ\"\"\"\n");  // a line-ending backslash; the next line starts with γ
  ASSERT_TRUE(p);
  EXPECT_EQ(p->line, 2);
  EXPECT_EQ(p->column, 3);
  p = at("s = \"\"\"\\ \t\n\n γ\"\"\"\n");  // trailing blanks and an empty line are skipped too
  ASSERT_TRUE(p);
  EXPECT_EQ(p->line, 3);
  EXPECT_EQ(p->column, 2);
  p = at("s = \"\"\"\\ γ\"\"\"\n");  // what the fuzzer found: backslash, space, γ
  ASSERT_TRUE(p);
  EXPECT_EQ(p->column, 10);
  p = at("s = \"\"\"\\γ\"\"\"\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->column, 9);
  EXPECT_FALSE(at("s = \"\"\"\\\\ γ\"\"\"\n"));     // an escaped backslash, then text
  EXPECT_FALSE(at("s = \"\"\"\\\n  x γ\"\"\"\n"));  // the line after the backslash starts in ASCII
  EXPECT_FALSE(at("s = \"\\ γ\"\n"));                // one-line strings: TOML++ refuses the escape safely
  EXPECT_FALSE(at("s = '''\\\n γ'''\n"));            // no escapes in literal strings
}

TEST(Spec, InterventionsNameATestSetRolesAndTokensInTheVocabulary) {
  const std::string probe = "\n[probe.interventions]\ntest = \"mqar\"\nblock_roles = [\"key\"]\ntwin_role = \"query\"\n";
  EXPECT_NE(error_of(test::tiny_spec() + probe + "twin_tokens = [1]\nblock_role = 1\n").find("block_role"),
            std::string::npos);
  EXPECT_NE(error_of(replace(test::tiny_spec() + probe + "twin_tokens = [1]\n", "block_roles = [\"key\"]",
                             "block_roles = [\"keys\"]"))
                .find("\"keys\" is not a role (expected one of filler, pad, key, value, separator, query, answer)"),
            std::string::npos);
  EXPECT_NE(error_of(test::tiny_spec() + probe + "twin_tokens = [100000]\n").find("outside the vocabulary"),
            std::string::npos);
  EXPECT_NE(error_of(replace(test::tiny_spec() + probe + "twin_tokens = [1]\n", "test = \"mqar\"\nblock",
                             "test = \"nope\"\nblock")).find("nope"),
            std::string::npos);
}
