#include "corpus.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace text_corpus {
namespace fs = std::filesystem;

std::vector<fs::path> corpus_files(const std::string& path) {
  if (path.empty()) throw std::invalid_argument("corpus: no path given (a .jsonl file or a directory of them)");
  std::vector<fs::path> files;
  if (fs::is_regular_file(path)) {
    files.push_back(path);
  } else if (fs::is_directory(path)) {
    for (const auto& e : fs::recursive_directory_iterator(path))
      if (e.is_regular_file() && e.path().extension() == ".jsonl") files.push_back(e.path());
    std::sort(files.begin(), files.end());
  }
  if (files.empty())
    throw std::runtime_error("corpus '" + path + "': no such .jsonl file or directory of .jsonl files (relative paths " +
                             "start at the working directory; tools/fetch-corpus.py builds one)");
  return files;
}

std::string fingerprint(const std::string& path) {
  uint64_t h = 1469598103934665603ull;
  auto add = [&](const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 1099511628211ull;
  };
  const fs::path root = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  std::vector<char> buf(1 << 20);
  for (const auto& f : corpus_files(path)) {
    const std::string rel = fs::relative(f, root).generic_string();
    add(rel.data(), rel.size() + 1);  // with its NUL: "ab"+"c" differs from "a"+"bc"
    std::ifstream in(f, std::ios::binary);
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
      add(buf.data(), static_cast<size_t>(in.gcount()));
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

int64_t for_each_document(const std::string& path, const std::function<void(std::string&&)>& f) {
  int64_t n = 0;
  for (const auto& file : corpus_files(path)) {
    std::ifstream in(file);
    std::string line;
    for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
        throw std::runtime_error(file.string() + ":" + std::to_string(lineno) +
                                 ": expected a JSON object with a string \"text\"");
      f(j["text"].get<std::string>());
      ++n;
    }
  }
  return n;
}

}  // namespace text_corpus
