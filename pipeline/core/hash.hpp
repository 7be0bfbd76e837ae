// Content hashes (SHA-1, hex) for cache keys and artifact checksums.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace repro {

class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher& add(std::string_view bytes);
  // Length-prefixed, so ("ab","c") and ("a","bc") hash differently.
  Hasher& field(std::string_view bytes);
  std::string hex();

 private:
  struct Impl;
  Impl* impl_;
};

std::string sha1_hex(std::string_view bytes);
std::string sha1_file(const std::filesystem::path& p);  // throws on unreadable file

}  // namespace repro
