// Child processes of repro itself. Sweep workers and data-parallel ranks are re-executions of this
// binary with extra flags, so they load the same code and plugins as the parent and need no protocol
// beyond their command line, the store's file locks and their exit status.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace repro {

std::filesystem::path self_exe();  // the running binary (/proc/self/exe)

// `args` without every `--name VALUE` and `--name=VALUE` (or bare `--name` when !takes_value).
std::vector<std::string> without_option(const std::vector<std::string>& args, const std::string& name,
                                        bool takes_value = true);

// "0,1,1" -> {0, 1, 1}: GPU ids, repeats allowed. UserError naming `flag` otherwise.
std::vector<int> parse_gpu_list(const std::string& text, const std::string& flag);

// How a child ended: `code` is its exit status, or -1 when a signal (`signal`) killed it.
struct ChildExit {
  pid_t pid = -1;
  int code = 0, signal = 0;
  bool ok() const { return code == 0; }
  std::string describe() const;  // "exit 1" / "killed by signal 9 (Killed)"
};

// Children started by one parent. Only its own pids are waited for (never waitpid(-1): other code
// in the process, e.g. popen, reaps its own children). Children still running when the set is
// destroyed are sent SIGTERM and reaped.
class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children();
  // Starts `self_exe() args…` with `env` added to this process's environment; stdout and stderr are
  // inherited. The child learns our pid (REPRO_PARENT_PID) so it can die with us (die_with_parent).
  pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);
  // Blocks until one of ours ends and returns how; pid -1 when none is running.
  ChildExit wait_any();
  void terminate_all();  // SIGTERM every running child
  size_t running() const { return pids_.size(); }

 private:
  std::vector<pid_t> pids_;
};

// In a child started by Children::spawn: SIGKILL this process when the parent dies, so a killed
// `repro run` never leaves workers training behind it.
void die_with_parent();

// A TCP port on 127.0.0.1 that was free a moment ago (for a local rendezvous).
int free_local_port();

}  // namespace repro
