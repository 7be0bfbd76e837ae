// Crash-safe file primitives: nothing half-written is ever visible under its final name.
#pragma once
#include <filesystem>
#include <mutex>
#include <string>

namespace repro {

std::string read_file(const std::filesystem::path& p);  // throws UserError if unreadable
// Write to a temp file beside p, fsync it, rename over p, fsync the directory.
void write_file_atomic(const std::filesystem::path& p, const std::string& bytes);
void fsync_path(const std::filesystem::path& p);  // file or directory

// An exclusive advisory lock (flock) held for the object's lifetime; blocks until acquired.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& p);
  FileLock(const std::filesystem::path& p, std::try_to_lock_t);  // never blocks: see owns()
  bool owns() const { return fd_ >= 0; }
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace repro
