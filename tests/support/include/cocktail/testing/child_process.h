// ChildProcess: runs a binary as a separate process for end-to-end tests.
//
// The child inherits the environment plus the given variables, its stdout and
// stderr go to files (read them at any time with stdout_text()/stderr_text()),
// and it is killed (SIGKILL) and reaped when the object is destroyed, so a
// failing test never leaves processes behind. On Linux the child also gets
// SIGKILL if the thread that started it exits, so start children from the
// test's own thread.
//
// Not thread-safe: one owner drives the process.
//
//   ChildOptions options;
//   options.env = {{"CATALOG_DB", dir.file("catalog.db")}};
//   ChildProcess api(COCKTAIL_BIN_DIR "/catalog-api", {"--http", "127.0.0.1:0"}, options);
//   ASSERT_TRUE(api.wait_for_stderr("http.listening", 5s));
//   api.signal(SIGTERM);
//   EXPECT_TRUE(api.wait_for(5s)->success());
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cocktail::testing {

struct ChildOptions {
  // Added to (or replacing) the inherited environment.
  std::vector<std::pair<std::string, std::string>> env;
  // Where stdout and stderr go; empty: files in a private temporary directory.
  std::string stdout_path;
  std::string stderr_path;
  // Working directory; empty: the current one.
  std::string cwd;
};

// How a process ended.
struct ExitStatus {
  bool exited = false;  // true: returned from main or called exit()
  int code = -1;        // exit code when exited
  int signal = 0;       // terminating signal when !exited

  bool success() const { return exited && code == 0; }
};

class ChildProcess {
 public:
  // Starts `binary` with `args` (argv[1..]). Throws std::runtime_error when
  // the process cannot be started (the binary missing is reported by the
  // child as exit code 127 and a message on its stderr).
  ChildProcess(std::string binary, std::vector<std::string> args, ChildOptions options = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // True while the process has not ended (reaps it when it has).
  bool running();
  // Sends a signal (SIGTERM, SIGINT, SIGKILL, SIGSTOP, ...). No-op once reaped.
  void signal(int signo);
  // Waits up to `timeout` for the process to end; nullopt when it has not.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  // SIGKILL and reap; returns how it ended. Idempotent.
  ExitStatus kill();
  // The exit status once reaped.
  const std::optional<ExitStatus>& exit_status() const { return status_; }

  std::string stdout_text() const;
  std::string stderr_text() const;
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }

  // Waits until `needle` appears in stderr (structured logs go there), the
  // process ends, or `timeout` passes. True when found.
  bool wait_for_stderr(std::string_view needle, std::chrono::milliseconds timeout);
  bool wait_for_stdout(std::string_view needle, std::chrono::milliseconds timeout);

 private:
  bool reap(bool block);
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
  std::string own_dir_;  // removed on destruction when we created it
  std::string stdout_path_;
  std::string stderr_path_;
};

}  // namespace cocktail::testing
