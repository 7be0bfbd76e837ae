// Built with REPRO_SDK_ABI_VERSION=999: the loader must refuse it, naming both versions.
#include <repro/sdk.hpp>

namespace {
class Stale final : public repro::sdk::Task {
 public:
  std::string name() const override { return "stale"; }
  std::string version() const override { return "0"; }
  std::string description() const override { return "test plugin with a wrong ABI"; }
  std::vector<repro::sdk::ParamSpec> params() const override { return {}; }
  int64_t vocab_size(const repro::sdk::Params&) const override { return 2; }
  int64_t seq_len(const repro::sdk::Params&) const override { return 2; }
  repro::sdk::Dataset generate(const repro::sdk::Params&, repro::sdk::Split, uint64_t, int64_t) const override {
    return {};
  }
};
}  // namespace
REPRO_REGISTER_TASK(Stale)
