// A corpus of hand-written bad specs, tests/data/bad_specs/*.toml: the first line of each names the error
// `repro validate` must give, "# error: <line>:<col>: <key>: <message>" ({file} stands for the file's path,
// {tasks} for the loaded task plugins' names: the sanitizer build loads fewer), and it must be exactly that line.
#include <fmt/format.h>

#include "core/fs.hpp"
#include "core/plan.hpp"
#include "core/spec.hpp"
#include "support.hpp"

using namespace repro;
namespace fs = std::filesystem;

TEST(BadSpecs, EachGetsItsExpectedOneLineError) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(REPRO_TESTS_DIR) / "data" / "bad_specs")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 30u);
  std::string tasks;
  for (const auto& p : test::plugins().list())
    if (p.kind == "task") tasks += (tasks.empty() ? "" : ", ") + p.name;
  int ok = 0;
  for (const auto& f : files) {
    const std::string text = read_file(f), tag = "# error: ";
    ASSERT_EQ(text.rfind(tag, 0), 0u) << f << ": first line must be '" << tag << "<line>:<col>: ...'";
    std::string want = f.string() + ":" + text.substr(tag.size(), text.find('\n') - tag.size());
    if (auto at = want.find("{file}"); at != std::string::npos) want.replace(at, 6, f.string());
    if (auto at = want.find("{tasks}"); at != std::string::npos) want.replace(at, 7, tasks);
    try {
      auto spec = load_spec(f.string(), test::plugins());
      plan_cells(spec, test::plugins());
      ADD_FAILURE() << f << ": accepted";
    } catch (const UserError& e) {
      EXPECT_EQ(e.what(), want);
      ok += e.what() == want;
    }
  }
  std::cout << fmt::format("reliability: bad specs: {} of {} hand-written bad specs refused with their expected "
                           "one-line file:line:col error\n",
                           ok, files.size());
}
