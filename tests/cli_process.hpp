// The repro CLI as a child process, for what only a separate process can show: a real SIGKILL, a file
// size limit, two runs on one store at once. Each run's stdout+stderr go to a log file.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/fs.hpp"
#include "support.hpp"

namespace repro::test {

struct CliOptions {
  std::vector<std::string> env;  // extra NAME=value entries
  long long file_size_limit = -1;  // RLIMIT_FSIZE in bytes (-1: none)
};

class CliProcess {
 public:
  // Starts `repro <args...>`; output goes to `log`.
  CliProcess(const std::vector<std::string>& args, std::filesystem::path log, const CliOptions& o = {})
      : log_(std::move(log)) {
    std::vector<std::string> argv_s = {REPRO_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
    env_s.insert(env_s.end(), o.env.begin(), o.env.end());
    // Everything the child needs is built before fork: between fork and exec only async-signal-safe calls.
    std::vector<char*> argv, envp;
    for (auto& s : argv_s) argv.push_back(s.data());
    for (auto& s : env_s) envp.push_back(s.data());
    argv.push_back(nullptr), envp.push_back(nullptr);
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) throw std::runtime_error("cannot write " + log_.string());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fd, 1), ::dup2(fd, 2);
      if (o.file_size_limit >= 0) {
        rlimit r{static_cast<rlim_t>(o.file_size_limit), static_cast<rlim_t>(o.file_size_limit)};
        ::setrlimit(RLIMIT_FSIZE, &r);
      }
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(fd);
    if (pid_ < 0) throw std::runtime_error("fork failed");
  }
  CliProcess(const CliProcess&) = delete;
  ~CliProcess() {
    if (pid_ > 0 && !waited_) ::waitpid(pid_, &status_, 0);
  }

  // Waits; the raw wait status.
  int wait() {
    if (!waited_) ::waitpid(pid_, &status_, 0), waited_ = true;
    return status_;
  }
  int exit_code() { return WIFEXITED(wait()) ? WEXITSTATUS(status_) : -1; }
  bool killed_by(int sig) { return WIFSIGNALED(wait()) && WTERMSIG(status_) == sig; }
  std::string log() {
    wait();
    return read_file(log_);
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool waited_ = false;
};

// A finished run: exit code (-1 if killed by a signal), whether SIGKILL ended it, and its log.
struct CliResult {
  int code;
  bool sigkill;
  std::string log;
};
inline CliResult run_cli(const std::vector<std::string>& args, const std::filesystem::path& log, const CliOptions& o = {}) {
  CliProcess p(args, log, o);
  const int code = p.exit_code();
  return {code, p.killed_by(SIGKILL), p.log()};
}

// The pipeline options every reliability test passes: its own store, results and reports under `dir`.
inline std::vector<std::string> pipeline_args(const std::string& cmd, const std::filesystem::path& spec,
                                              const std::filesystem::path& dir) {
  return {cmd, spec.string(), "--store", (dir / "store").string(), "--results", (dir / "results").string(),
          "--reports", (dir / "reports").string(), "--device", "cpu", "--no-pdf"};
}

inline size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

}  // namespace repro::test
