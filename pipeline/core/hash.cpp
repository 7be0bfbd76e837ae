#include "hash.hpp"

#include <boost/uuid/detail/sha1.hpp>
#include <fmt/core.h>

#include <fstream>
#include <stdexcept>
#include <vector>

namespace repro {

struct Hasher::Impl {
  boost::uuids::detail::sha1 h;
};

Hasher::Hasher() : impl_(new Impl) {}
Hasher::~Hasher() { delete impl_; }

Hasher& Hasher::add(std::string_view b) {
  impl_->h.process_bytes(b.data(), b.size());
  return *this;
}

Hasher& Hasher::field(std::string_view b) {
  return add(std::to_string(b.size())).add(":").add(b);
}

std::string Hasher::hex() {
  boost::uuids::detail::sha1::digest_type d;
  impl_->h.get_digest(d);
  std::string out;
  for (unsigned w : d) out += fmt::format("{:08x}", w);
  return out;
}

std::string sha1_hex(std::string_view bytes) { return Hasher().add(bytes).hex(); }

std::string sha1_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  Hasher h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.add(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  return h.hex();
}

}  // namespace repro
