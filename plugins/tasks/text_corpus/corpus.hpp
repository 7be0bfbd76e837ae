// The documents of a corpus on disk: a JSONL file, or a directory whose *.jsonl files (searched recursively,
// taken in sorted path order) hold one {"text": "..."} object per line — SlimPajama's layout once its
// .jsonl.zst chunks are decompressed, and what tools/fetch-corpus.py writes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace text_corpus {

// The corpus's files; throws naming the path when it is missing or holds no .jsonl file.
std::vector<std::filesystem::path> corpus_files(const std::string& path);

// FNV-1a (64 bit) over every file's path relative to the corpus and its bytes, as 16 hex digits: the
// corpus's content, so a spec can pin it (corpus_hash) and a changed corpus never reuses stale data.
std::string fingerprint(const std::string& path);

// Calls f(text) for every document in order and returns how many there were. A line that is not a JSON
// object with a string "text" is an error naming file:line.
int64_t for_each_document(const std::string& path, const std::function<void(std::string&&)>& f);

}  // namespace text_corpus
