#include "cocktail/testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "cocktail/testing/temp_dir.h"

extern char** environ;

namespace cocktail::testing {
namespace {

std::string make_private_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/cocktail-child-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp");
  }
  return buf.data();
}

}  // namespace

ChildProcess::ChildProcess(std::string binary, std::vector<std::string> args, ChildOptions options) {
  stdout_path_ = std::move(options.stdout_path);
  stderr_path_ = std::move(options.stderr_path);
  if (stdout_path_.empty() || stderr_path_.empty()) {
    own_dir_ = make_private_dir();
    if (stdout_path_.empty()) {
      stdout_path_ = own_dir_ + "/stdout";
    }
    if (stderr_path_.empty()) {
      stderr_path_ = own_dir_ + "/stderr";
    }
  }

  // Everything the child needs is prepared before fork(): after fork() in a
  // multi-threaded parent only async-signal-safe calls are allowed.
  std::vector<std::string> argv_s;
  argv_s.reserve(args.size() + 1);
  argv_s.push_back(std::move(binary));
  for (auto& a : args) {
    argv_s.push_back(std::move(a));
  }
  std::vector<char*> argv;
  argv.reserve(argv_s.size() + 1);
  for (auto& a : argv_s) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  std::map<std::string, std::string> env_map;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) {
      env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  for (auto& [k, v] : options.env) {
    env_map[k] = v;
  }
  std::vector<std::string> env_s;
  env_s.reserve(env_map.size());
  for (auto& [k, v] : env_map) {
    env_s.push_back(std::string(k).append("=").append(v));
  }
  std::vector<char*> envp;
  envp.reserve(env_s.size() + 1);
  for (auto& e : env_s) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  int out_fd = ::open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0 || err_fd < 0) {
    int err = errno;
    if (out_fd >= 0) {
      ::close(out_fd);
    }
    if (err_fd >= 0) {
      ::close(err_fd);
    }
    throw std::system_error(err, std::generic_category(), "open child output files");
  }
  const pid_t parent = ::getpid();
  const std::string cwd = std::move(options.cwd);

  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(out_fd);
    ::close(err_fd);
    throw std::system_error(err, std::generic_category(), "fork");
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(126);
    }
    // Signals blocked by the parent (ShutdownSignals) must not stay blocked.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
    }
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      ::_exit(126);
    }
    ::execve(argv[0], argv.data(), envp.data());
    const char msg[] = "exec failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  pid_ = pid;
}

ChildProcess::~ChildProcess() {
  kill();
  if (!own_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(own_dir_, ec);
  }
}

bool ChildProcess::reap(bool block) {
  if (status_) {
    return true;
  }
  if (pid_ <= 0) {
    return true;
  }
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    return false;
  }
  ExitStatus s;
  if (r > 0) {
    if (WIFEXITED(st)) {
      s.exited = true;
      s.code = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
      s.signal = WTERMSIG(st);
    }
  }
  status_ = s;
  return true;
}

bool ChildProcess::running() { return !reap(false); }

void ChildProcess::signal(int signo) {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, signo);
  }
}

std::optional<ExitStatus> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reap(false)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return status_;
}

ExitStatus ChildProcess::kill() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  return status_.value_or(ExitStatus{});
}

std::string ChildProcess::stdout_text() const { return read_file(stdout_path_); }
std::string ChildProcess::stderr_text() const { return read_file(stderr_path_); }

bool ChildProcess::wait_for_stderr(std::string_view needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool ended = !running();
    if (stderr_text().find(needle) != std::string::npos) {
      return true;
    }
    if (ended || std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool ChildProcess::wait_for_stdout(std::string_view needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool ended = !running();
    if (stdout_text().find(needle) != std::string::npos) {
      return true;
    }
    if (ended || std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace cocktail::testing
