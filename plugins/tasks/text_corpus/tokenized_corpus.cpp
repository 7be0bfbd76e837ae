#include "tokenized_corpus.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "corpus.hpp"

namespace text_corpus {
namespace fs = std::filesystem;
using repro::sdk::Split;

namespace {

constexpr const char* kFormat = "1";  // bump when the cache's files change meaning

fs::path cache_root() {
  const char* env = std::getenv("REPRO_CACHE");
  return fs::path(env && *env ? env : ".repro/cache") / "text_corpus";
}

Split split_of_text(const std::string& text) {
  repro::sdk::SplitHash h;
  for (unsigned char c : text) h.add(c);
  return h.split();
}

template <class T>
void write_vector(const fs::path& p, const std::vector<T>& v) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  if (!out.flush()) throw std::runtime_error("cannot write " + p.string());
}

template <class T>
std::vector<T> read_vector(const fs::path& p) {
  std::ifstream in(p, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::vector<T> v(static_cast<size_t>(in.tellg()) / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  return v;
}

// Encodes `docs` on every core; ids come back in document order, so the output never depends on the threads.
std::vector<std::vector<int>> encode_all(const Tokenizer& tok, const std::vector<std::string>& docs) {
  std::vector<std::vector<int>> out(docs.size());
  const size_t threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (size_t i = t; i < docs.size(); i += threads) out[i] = tok.encode(docs[i]);
    });
  for (auto& th : pool) th.join();
  return out;
}

// Pass 1: each document's split and the tokenizer's training lines; tokenizer; pass 2: encode and write.
void build(const CorpusSpec& spec, const fs::path& dir) {
  std::fprintf(stderr, "text_corpus: tokenizing %s into %s (once)\n", spec.path.c_str(), dir.string().c_str());
  std::vector<uint8_t> splits;
  std::vector<std::string> lines;
  int64_t line_bytes = 0, text_bytes = 0;
  for_each_document(spec.path, [&](std::string&& text) {
    const Split s = split_of_text(text);
    splits.push_back(static_cast<uint8_t>(s));
    text_bytes += static_cast<int64_t>(text.size());
    for (size_t b = 0; s == Split::Train && line_bytes < spec.tokenizer_bytes && b < text.size();) {
      size_t e = text.find('\n', b);
      if (e == std::string::npos) e = text.size();
      if (e > b) {
        lines.push_back(text.substr(b, e - b));
        line_bytes += static_cast<int64_t>(e - b);
      }
      b = e + 1;
    }
  });
  if (lines.empty()) throw std::runtime_error("corpus '" + spec.path + "': no training document to train a tokenizer on");
  Tokenizer::train(lines, spec.vocab_size, (dir / "tokenizer.model").string());
  lines = {};
  const Tokenizer tok((dir / "tokenizer.model").string());

  const int width = spec.vocab_size > 65536 ? 4 : 2;
  std::ofstream tokens(dir / "tokens.bin", std::ios::binary);
  std::vector<uint64_t> offsets = {0};
  std::vector<int64_t> per_split(3, 0);
  std::vector<std::string> batch;
  size_t batch_bytes = 0;
  auto flush = [&] {
    for (const auto& ids : encode_all(tok, batch)) {
      per_split[splits[offsets.size() - 1]] += static_cast<int64_t>(ids.size());
      for (int id : ids) {
        const uint32_t v = static_cast<uint32_t>(id);
        if (width == 2) {
          const uint16_t s = static_cast<uint16_t>(v);
          tokens.write(reinterpret_cast<const char*>(&s), 2);
        } else {
          tokens.write(reinterpret_cast<const char*>(&v), 4);
        }
      }
      offsets.push_back(offsets.back() + ids.size());
    }
    batch.clear();
    batch_bytes = 0;
  };
  for_each_document(spec.path, [&](std::string&& text) {
    batch_bytes += text.size();
    batch.push_back(std::move(text));
    if (batch_bytes >= (32u << 20)) flush();
  });
  flush();
  if (!tokens.flush()) throw std::runtime_error("cannot write " + (dir / "tokens.bin").string());
  tokens.close();
  write_vector(dir / "docs.bin", offsets);
  write_vector(dir / "splits.bin", splits);
  const nlohmann::json info = {{"corpus", spec.path},
                               {"documents", splits.size()},
                               {"bytes", text_bytes},
                               {"tokens", offsets.back()},
                               {"tokens_train", per_split[0]},
                               {"tokens_valid", per_split[1]},
                               {"tokens_test", per_split[2]},
                               {"vocab_size", spec.vocab_size},
                               {"tokenizer_bytes", line_bytes},
                               {"token_width", width}};
  std::ofstream(dir / "info.json") << info.dump(2) << "\n";
  std::fprintf(stderr, "text_corpus: %s\n", info.dump().c_str());
}

}  // namespace

std::shared_ptr<const TokenizedCorpus> TokenizedCorpus::open(const CorpusSpec& spec) {
  // One process opens a corpus once (fingerprinting reads every byte), whatever the number of splits it packs.
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const TokenizedCorpus>> opened;
  const std::string key = spec.path + '\n' + spec.expected_hash + '\n' + std::to_string(spec.vocab_size) + '\n' +
                          std::to_string(spec.tokenizer_bytes);
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = opened.find(key); it != opened.end()) return it->second;

  const std::string fp = fingerprint(spec.path);
  if (!spec.expected_hash.empty() && fp != spec.expected_hash)
    throw std::runtime_error("corpus '" + spec.path + "' has fingerprint " + fp + " but the spec's corpus_hash is " +
                             spec.expected_hash + ": another corpus (or version of it); set corpus_hash = \"" + fp +
                             "\" if this is the one you mean");
  const fs::path dir = cache_root() / (fp + "-bpe" + std::to_string(spec.vocab_size) + "-t" +
                                       std::to_string(spec.tokenizer_bytes) + "-f" + kFormat);
  if (!fs::exists(dir / "info.json")) {
    const fs::path tmp = dir.string() + ".tmp-" + std::to_string(::getpid());
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    build(spec, tmp);
    std::error_code ec;
    fs::rename(tmp, dir, ec);  // fails only if another process finished first: its copy is the same
    if (ec) fs::remove_all(tmp);
  }

  std::shared_ptr<TokenizedCorpus> c(new TokenizedCorpus());
  c->tokenizer_ = std::make_unique<Tokenizer>((dir / "tokenizer.model").string());
  c->offsets_ = read_vector<uint64_t>(dir / "docs.bin");
  c->splits_ = read_vector<uint8_t>(dir / "splits.bin");
  c->width_ = spec.vocab_size > 65536 ? 4 : 2;
  const fs::path tokens = dir / "tokens.bin";
  const int fd = ::open(tokens.c_str(), O_RDONLY);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) throw std::runtime_error("cannot open " + tokens.string());
  c->mapped_bytes_ = static_cast<size_t>(st.st_size);
  if (c->offsets_.size() != c->splits_.size() + 1 || c->mapped_bytes_ != c->offsets_.back() * c->width_) {
    ::close(fd);
    throw std::runtime_error(dir.string() + ": damaged cache (sizes disagree); delete the directory to rebuild it");
  }
  if (c->mapped_bytes_ > 0) {
    void* p = ::mmap(nullptr, c->mapped_bytes_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw std::runtime_error("cannot map " + tokens.string());
    }
    c->tokens_ = p;
  }
  ::close(fd);
  opened[key] = c;
  return c;
}

TokenizedCorpus::~TokenizedCorpus() {
  if (tokens_) ::munmap(const_cast<void*>(tokens_), mapped_bytes_);
}

Split TokenizedCorpus::split_of(int64_t doc) const { return static_cast<Split>(splits_[doc]); }

void TokenizedCorpus::append(int64_t doc, std::vector<int64_t>& out) const {
  const uint64_t b = offsets_[doc], e = offsets_[doc + 1];
  if (width_ == 2) {
    const auto* t = static_cast<const uint16_t*>(tokens_);
    out.insert(out.end(), t + b, t + e);
  } else {
    const auto* t = static_cast<const uint32_t*>(tokens_);
    out.insert(out.end(), t + b, t + e);
  }
}

}  // namespace text_corpus
