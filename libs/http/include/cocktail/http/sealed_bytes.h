// SealedBytes: a copy of immutable bytes in a sealed memory file
// (memfd_create with F_SEAL_WRITE, F_SEAL_GROW and F_SEAL_SHRINK), so that
// the server sends them with sendfile(2): the kernel hands the file's pages
// to the socket instead of copying the bytes from user memory. That copy is
// where a large body's time goes (perf on analytics-api serving a 269 KB body
// under wrk -t2 -c64: about 30% of the server's CPU in _copy_from_iter below
// tcp_sendmsg, against a few percent in the server's own code); nginx avoids
// it the same way (sendfile from its page cache). The seals make the file
// immutable for anyone holding its descriptor, so what is sent is what was
// verified.
//
// Immutable; share it freely across threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace cocktail::http {

class SealedBytes {
 public:
  // Bodies smaller than this are written from memory: one gathered write
  // costs less than a header write plus a sendfile.
  static constexpr std::size_t kMinBytes = std::size_t{64} * 1024;

  // Null when the system offers no sealed memory files (the caller then
  // serves from memory).
  static std::shared_ptr<const SealedBytes> make(std::string_view bytes);
  ~SealedBytes();
  SealedBytes(const SealedBytes&) = delete;
  SealedBytes& operator=(const SealedBytes&) = delete;

  int fd() const { return fd_; }
  std::size_t size() const { return size_; }

 private:
  SealedBytes(int fd, std::size_t size) : fd_(fd), size_(size) {}
  int fd_;
  std::size_t size_;
};

}  // namespace cocktail::http
