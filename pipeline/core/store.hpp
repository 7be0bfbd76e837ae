// Content-addressed artifact store. An artifact is a directory <root>/<kind>/<key>/ whose MANIFEST.json
// lists every file with its SHA-1; it is built in a private temp directory and renamed into place only
// when complete, so a visible artifact is always whole. A corrupted one (checksum mismatch, missing
// file, bad manifest) is reported with its path, removed, and treated as absent so it gets rebuilt.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

#include "fs.hpp"

namespace repro {

class Store {
 public:
  explicit Store(std::filesystem::path root);
  const std::filesystem::path& root() const { return root_; }

  // The artifact's directory if present and intact (checksums verified), else nullopt.
  std::optional<std::filesystem::path> find(const std::string& kind, const std::string& key) const;
  // The manifest's "meta" object of an intact artifact.
  nlohmann::json meta(const std::filesystem::path& artifact_dir) const;

  // Serialises builders of one artifact across processes (flock on <root>/locks/<kind>-<key>).
  FileLock lock(const std::string& kind, const std::string& key) const;

  class Builder {
   public:
    const std::filesystem::path& dir() const { return tmp_; }  // write the artifact's files here
    // Checksums every file, writes the manifest, fsyncs, renames into place; returns the final dir.
    std::filesystem::path commit(const nlohmann::json& meta);
    ~Builder();  // an uncommitted builder's temp directory is removed
    Builder(Builder&&) noexcept;
    Builder(const Builder&) = delete;

   private:
    friend class Store;
    Builder(std::filesystem::path tmp, std::filesystem::path final);
    std::filesystem::path tmp_, final_;
    bool done_ = false;
  };
  Builder build(const std::string& kind, const std::string& key) const;

  // A per-key scratch directory for resumable work (training checkpoints); not verified, not final.
  std::filesystem::path work_dir(const std::string& kind, const std::string& key) const;

 private:
  std::filesystem::path root_;
};

}  // namespace repro
