#include "process.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "error.hpp"

extern char** environ;

namespace repro {
namespace fs = std::filesystem;

fs::path self_exe() { return fs::read_symlink("/proc/self/exe"); }

std::vector<std::string> without_option(const std::vector<std::string>& args, const std::string& name,
                                        bool takes_value) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) {
      if (takes_value) ++i;
      continue;
    }
    if (takes_value && args[i].rfind(name + "=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

std::vector<int> parse_gpu_list(const std::string& text, const std::string& flag) {
  std::vector<int> ids;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    char* end = nullptr;
    const long v = item.empty() ? -1 : std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 0 || v > 1024)
      throw UserError(fmt::format("{}: expected comma-separated GPU ids such as 0,1 or 0,0,0,0, got '{}'", flag, text));
    ids.push_back(static_cast<int>(v));
    at = comma + 1;
  }
  return ids;
}

std::string ChildExit::describe() const {
  if (code >= 0) return fmt::format("exit {}", code);
  return fmt::format("killed by signal {} ({})", signal, ::strsignal(signal));
}

pid_t Children::spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> vars = env;
  vars["REPRO_PARENT_PID"] = std::to_string(::getpid());
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    if (!vars.count(kv.substr(0, kv.find('=')))) envs.push_back(kv);
  }
  for (const auto& [k, v] : vars) envs.push_back(k + "=" + v);
  const std::string exe = self_exe().string();
  std::vector<char*> argv{const_cast<char*>(exe.c_str())}, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  // posix_spawn, not fork: the parent has LibTorch's thread pools, which a forked child would inherit broken.
  if (int rc = ::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), envp.data()); rc != 0)
    throw StageError(fmt::format("cannot start {}: {}", exe, std::strerror(rc)));
  pids_.push_back(pid);
  return pid;
}

ChildExit Children::wait_any() {
  while (!pids_.empty()) {
    for (size_t i = 0; i < pids_.size(); ++i) {
      int status = 0;
      const pid_t r = ::waitpid(pids_[i], &status, WNOHANG);
      if (r == 0 || (r < 0 && errno == EINTR)) continue;
      ChildExit e;
      e.pid = pids_[i];
      pids_.erase(pids_.begin() + static_cast<long>(i));
      if (r < 0) e.code = 127;  // not our child any more: count it as failed
      else if (WIFEXITED(status)) e.code = WEXITSTATUS(status);
      else e.code = -1, e.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      return e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

void Children::terminate_all() {
  for (pid_t p : pids_) ::kill(p, SIGTERM);
}

Children::~Children() {
  terminate_all();
  for (pid_t p : pids_) {
    int status = 0;
    ::waitpid(p, &status, 0);
  }
}

void die_with_parent() {
  const char* parent = std::getenv("REPRO_PARENT_PID");
  if (!parent) return;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (std::to_string(::getppid()) != parent) ::raise(SIGKILL);  // it died before prctl took effect
}

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw StageError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const int e = errno;
    ::close(fd);
    throw StageError(std::string("cannot find a free port on 127.0.0.1: ") + std::strerror(e));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace repro
