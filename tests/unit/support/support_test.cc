// The test support library itself: temporary directories, ports, child
// processes and waits behave as their headers promise.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>

#include "cocktail/testing/child_process.h"
#include "cocktail/testing/http_client.h"
#include "cocktail/testing/ports.h"
#include "cocktail/testing/temp_dir.h"
#include "cocktail/testing/wait.h"

namespace cocktail::testing {
namespace {

using namespace std::chrono_literals;

TEST(TempDir, CreatesAndRemovesADirectory) {
  std::filesystem::path p;
  {
    TempDir dir("support-test");
    p = dir.path();
    EXPECT_TRUE(std::filesystem::is_directory(p));
    EXPECT_NE(p.filename().string().find("support-test-"), std::string::npos);
    write_file(dir.file("b.txt"), "hello");
    EXPECT_EQ(read_file(dir.file("b.txt")), "hello");
  }
  EXPECT_FALSE(std::filesystem::exists(p));
  EXPECT_EQ(read_file(p / "b.txt"), "");
}

TEST(Ports, FreeLoopbackPortCanBeBound) {
  const auto port = free_loopback_port();
  EXPECT_GT(port, 0);
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc);
  boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
  acceptor.open(ep.protocol());
  EXPECT_NO_THROW(acceptor.bind(ep));
}

TEST(ChildProcess, CapturesOutputAndExitCode) {
  ChildOptions options;
  options.env = {{"GREETING", "hi"}};
  ChildProcess p("/bin/sh", {"-c", "echo out-$GREETING; echo err >&2; exit 3"}, options);
  auto status = p.wait_for(5s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 3);
  EXPECT_FALSE(status->success());
  EXPECT_EQ(p.stdout_text(), "out-hi\n");
  EXPECT_EQ(p.stderr_text(), "err\n");
}

TEST(ChildProcess, SignalsAndWaitsWithTimeout) {
  ChildProcess p("/bin/sh", {"-c", "echo ready >&2; exec sleep 30"});
  EXPECT_TRUE(p.wait_for_stderr("ready", 5s));
  EXPECT_TRUE(p.running());
  EXPECT_FALSE(p.wait_for(50ms));
  p.signal(SIGTERM);
  auto status = p.wait_for(5s);
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->exited);
  EXPECT_EQ(status->signal, SIGTERM);
}

TEST(ChildProcess, KilledOnDestruction) {
  pid_t pid;
  {
    ChildProcess p("/bin/sleep", {"30"});
    pid = p.pid();
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_NE(::kill(pid, 0), 0);  // reaped: the pid no longer exists
}

TEST(ChildProcess, MissingBinaryExits127) {
  ChildProcess p("/nonexistent/binary", {});
  auto status = p.wait_for(5s);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 127);
}

TEST(WaitUntil, ReturnsWhenTrueOrAfterTimeout) {
  int calls = 0;
  EXPECT_TRUE(wait_until([&] { return ++calls >= 3; }, 5s, 1ms));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait_until([] { return false; }, 50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
}

TEST(HttpClient, ConnectionRefusedThrows) {
  const auto port = free_loopback_port();
  HttpClient c(port, 1s);
  EXPECT_THROW(c.get("/"), HttpClientError);
  EXPECT_THROW(RawConnection(port, 1s), HttpClientError);
}

TEST(HttpClient, SilentServerTimesOut) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  HttpClient c(acceptor.local_endpoint().port(), 200ms);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(c.get("/"), HttpClientError);  // accepted by the kernel, never answered
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

}  // namespace
}  // namespace cocktail::testing
