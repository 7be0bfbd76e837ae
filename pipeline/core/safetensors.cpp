#include "safetensors.hpp"

#include <nlohmann/json.hpp>

#include <cstring>

#include "error.hpp"
#include "fs.hpp"

namespace repro {
namespace {

const std::map<torch::Dtype, std::string>& dtype_names() {
  static const std::map<torch::Dtype, std::string> m = {
      {torch::kInt64, "I64"}, {torch::kInt32, "I32"},    {torch::kInt16, "I16"},    {torch::kBool, "BOOL"}, {torch::kFloat32, "F32"},
      {torch::kFloat64, "F64"}, {torch::kBFloat16, "BF16"}, {torch::kFloat16, "F16"}, {torch::kUInt8, "U8"}};
  return m;
}

torch::Dtype dtype_from(const std::string& s, const std::filesystem::path& p) {
  for (const auto& [d, n] : dtype_names())
    if (n == s) return d;
  throw StageError(p.string() + ": unsupported dtype '" + s + "'");
}

}  // namespace

void save_safetensors(const std::filesystem::path& p, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  size_t offset = 0;
  for (const auto& [name, t0] : tensors) {
    auto t = t0.detach().to(torch::kCPU).contiguous();
    auto it = dtype_names().find(t.scalar_type());
    if (it == dtype_names().end()) throw StageError("safetensors: unsupported dtype for " + name);
    size_t bytes = t.numel() * t.element_size();
    header[name] = {{"dtype", it->second}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h += ' ';  // align the data section to 8 bytes
  std::string out(8, '\0');
  uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);  // little-endian hosts only (x86-64, aarch64)
  out += h;
  for (const auto& t : data) out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  write_file_atomic(p, out);
}

TensorMap load_safetensors(const std::filesystem::path& p, std::map<std::string, std::string>* metadata) {
  const std::string buf = read_file(p);
  auto bad = [&](const std::string& why) { return StageError(p.string() + ": malformed safetensors file: " + why); };
  if (buf.size() < 8) throw bad("shorter than its header");
  uint64_t n;
  std::memcpy(&n, buf.data(), 8);
  if (n > buf.size() - 8) throw bad("header length past end of file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(buf.substr(8, n));
  } catch (const std::exception& e) {
    throw bad(e.what());
  }
  const size_t base = 8 + n;
  TensorMap out;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (metadata) *metadata = info.get<std::map<std::string, std::string>>();
      continue;
    }
    auto dtype = dtype_from(info.at("dtype").get<std::string>(), p);
    auto shape = info.at("shape").get<std::vector<int64_t>>();
    auto off = info.at("data_offsets").get<std::vector<size_t>>();
    auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
    const size_t bytes = t.numel() * t.element_size();
    if (off.size() != 2 || off[1] - off[0] != bytes || base + off[1] > buf.size()) throw bad("bad offsets for " + name);
    std::memcpy(t.data_ptr(), buf.data() + base + off[0], bytes);
    out.emplace(name, t);
  }
  return out;
}

}  // namespace repro
