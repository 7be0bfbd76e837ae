#include "core/error.hpp"
#include "support.hpp"

using namespace repro;

TEST(Loader, FindsTheBuildTreePlugins) {
  const auto& reg = test::plugins();
  EXPECT_TRUE(reg.problems().empty()) << reg.problems().front();
  EXPECT_EQ(reg.task("mqar")->name(), "mqar");
  EXPECT_EQ(reg.architecture("transformer")->name(), "transformer");
}

TEST(Loader, UnknownNameSuggestsTheClosest) {
  try {
    test::plugins().architecture("transfomer");
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'transformer'"), std::string::npos) << e.what();
  }
}

TEST(Loader, RefusesAbiMismatchNamingBothVersions) {
  PluginRegistry reg;
  try {
    reg.load_file(std::string(REPRO_TEST_PLUGIN_DIR) + "/repro-task-abi_mismatch.so");
    FAIL() << "expected PluginError";
  } catch (const PluginError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("ABI 999"), std::string::npos) << m;
    EXPECT_NE(m.find("SDK ABI " + std::to_string(sdk::kAbiVersion)), std::string::npos) << m;
  }
  EXPECT_THROW(reg.task("stale"), UserError);
}

TEST(Loader, RefusesLibraryWithoutTheSymbols) {
  PluginRegistry reg;
  try {
    reg.load_file(std::string(REPRO_TEST_PLUGIN_DIR) + "/repro-task-nosymbol.so");
    FAIL() << "expected PluginError";
  } catch (const PluginError& e) {
    EXPECT_NE(std::string(e.what()).find("missing symbol 'repro_sdk_abi'"), std::string::npos) << e.what();
  }
}

TEST(Loader, ScanningADirectoryRecordsProblemsAndKeepsGoing) {
  PluginRegistry reg({REPRO_TEST_PLUGIN_DIR, REPRO_BUILD_PLUGIN_DIR});
  EXPECT_EQ(reg.problems().size(), 2u);  // abi_mismatch and nosymbol; explode loads
  EXPECT_NO_THROW(reg.architecture("explode"));
  EXPECT_NO_THROW(reg.task("mqar"));
}

TEST(Loader, ModelsKeepTheirLibraryAlive) {
  std::shared_ptr<sdk::Model> model;
  {
    PluginRegistry reg({REPRO_BUILD_PLUGIN_DIR});
    sdk::Params cfg = [&] {
      std::map<std::string, sdk::Value> v;
      for (const auto& p : reg.architecture("transformer")->params()) v[p.name] = p.default_value;
      return sdk::Params(v);
    }();
    model = reg.build_model("transformer", cfg, {16, 8});
  }  // registry gone: the model must still run (its code lives in the plugin)
  auto out = model->forward(torch::zeros({1, 8}, torch::kInt64));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, 8, 16}));
}
