// A directory's MANIFEST.json: the SHA-1 of every file in it plus free-form metadata. Written last (after
// every listed file is fsynced), so a directory whose manifest verifies is whole. Store artifacts and
// training checkpoints both use it.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace repro {

constexpr const char* kManifestFile = "MANIFEST.json";

// Checksums and fsyncs every regular file under `dir`, then writes the manifest atomically.
void write_manifest(const std::filesystem::path& dir, const nlohmann::json& meta);
// Empty if every listed file is present with its checksum, else what is wrong (for a one-line warning).
std::string verify_manifest(const std::filesystem::path& dir);
nlohmann::json manifest_meta(const std::filesystem::path& dir);

}  // namespace repro
