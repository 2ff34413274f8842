#include "cocktail/snapshot/snapshot_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <set>
#include <utility>

#include "cocktail/core/log.h"
#include "cocktail/snapshot/sha256.h"

namespace cocktail::snapshot {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kCurrentName = "CURRENT";
constexpr std::string_view kLockName = ".lock";
constexpr int kReadAttempts = 5;

[[noreturn]] void io_fail(const std::string& what, const fs::path& path, int err) {
  throw SnapshotIoError(what + " '" + path.string() + "': " + std::strerror(err), err);
}

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error (close can report a deferred write error).
  int close() {
    int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

void write_all(int fd, std::string_view bytes, const fs::path& path) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      io_fail("cannot write", path, errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

// Writes `bytes` to `fd`. A large file is handed to writeback as it is
// written (sync_file_range), at most two chunks in flight: its fsync then
// has little left to do, and a journal commit forced meanwhile by another
// writer's fsync (ext4 data=ordered writes out every allocated block first)
// never waits behind megabytes of it.
void write_behind(int fd, std::string_view bytes, const fs::path& path) {
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  if (bytes.size() <= kChunk) {
    write_all(fd, bytes, path);
    return;
  }
  for (std::size_t at = 0; at < bytes.size(); at += kChunk) {
    const std::size_t n = std::min(kChunk, bytes.size() - at);
    write_all(fd, bytes.substr(at, n), path);
    // Failures here only lose the head start: fsync reports real errors.
    ::sync_file_range(fd, static_cast<off_t>(at), static_cast<off_t>(n), SYNC_FILE_RANGE_WRITE);
    if (at >= kChunk) {
      ::sync_file_range(fd, static_cast<off_t>(at - kChunk), static_cast<off_t>(kChunk),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    }
  }
}

// Makes the content of every descriptor durable: writeback is started for
// all of them first, so that one journal commit usually covers them all and
// the later fsyncs find little left to do. Returns the number of fsyncs.
int fsync_all(const std::vector<std::pair<int, fs::path>>& files) {
  for (const auto& [fd, path] : files) {
    ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  }
  for (const auto& [fd, path] : files) {
    if (::fsync(fd) != 0) {
      io_fail("cannot fsync", path, errno);
    }
  }
  return static_cast<int>(files.size());
}

// Creates (or truncates) `path` with `bytes` and makes its content durable.
void write_durable(const fs::path& path, std::string_view bytes) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    io_fail("cannot create", path, errno);
  }
  write_all(fd.get(), bytes, path);
  if (::fsync(fd.get()) != 0) {
    io_fail("cannot fsync", path, errno);
  }
  if (int err = fd.close(); err != 0) {
    io_fail("cannot close", path, err);
  }
}

// Makes the directory's entries (creations, renames) durable.
void fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    io_fail("cannot open directory", dir, errno);
  }
  if (::fsync(fd.get()) != 0) {
    io_fail("cannot fsync directory", dir, errno);
  }
}

void rename_file(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    io_fail("cannot rename to", to, errno);
  }
}

// Reads a whole file; on failure returns errno (ENOENT when missing).
int read_whole(const fs::path& path, std::string* out) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return errno;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return errno;
  }
  out->clear();
  out->resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (true) {
    if (got == out->size()) {
      out->resize(got + 4096 + got / 2);  // grew since fstat
    }
    ssize_t n = ::read(fd.get(), out->data() + got, out->size() - got);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  out->resize(got);
  return 0;
}

std::optional<std::int64_t> parse_generation(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 18) {
    return std::nullopt;
  }
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v <= 0) {
    return std::nullopt;
  }
  return v;
}

ReadError io_error(ReadErrorKind kind, std::string file, std::string message) {
  return ReadError{kind, std::move(file), std::move(message)};
}

ReadError errno_error(const std::string& file, int err) {
  if (err == ENOENT || err == ENOTDIR) {
    return io_error(ReadErrorKind::kNotFound, file, file + " is missing");
  }
  return io_error(ReadErrorKind::kIo, file, file + ": " + std::strerror(err));
}

// Opens `path` for writing a new file (created or truncated).
int create_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    io_fail("cannot create", path, errno);
  }
  return fd;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Whether a staged writer holds generation directory `dir` (its flock):
// such a generation is being written, not partial. Only meaningful under the
// writers' lock, which a new staged writer needs to create its directory.
bool being_written(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return false;
  }
  return ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

// Takes the store's exclusive writer lock (blocking); returns the descriptor.
int lock_store(const fs::path& version_dir) {
  const fs::path path = version_dir / kLockName;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    io_fail("cannot open lock", path, errno);
  }
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) {
      continue;
    }
    int err = errno;
    ::close(fd);
    io_fail("cannot lock", path, err);
  }
  return fd;
}

std::int64_t dir_bytes(const fs::path& dir, std::int64_t* files) {
  std::int64_t total = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2)) {
      total += static_cast<std::int64_t>(it->file_size(ec2));
      if (files != nullptr && it->path().filename().string().front() != '.') {
        ++*files;
      }
    }
  }
  return total;
}

// Every regular file under v1/ by inode, and which generation (or v1/
// itself: the legacy copies, CURRENT, the lock) links it: what removing
// generations frees, each inode counted once. Hard links outside the store
// are not seen: a file also linked elsewhere is counted as freed here.
class StoreFiles {
 public:
  explicit StoreFiles(const fs::path& version_dir) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(version_dir, ec), end; !ec && it != end; it.increment(ec)) {
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        continue;
      }
      std::int64_t owner = kTopLevel;
      if (it.depth() == 2) {
        const std::string dir = it->path().parent_path().filename().string();
        if (auto g = parse_generation(dir); g && std::to_string(*g) == dir) {
          owner = *g;
        }
      }
      const Key key{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
      auto& inode = inodes_[key];
      inode.bytes = static_cast<std::int64_t>(st.st_size);
      ++inode.links;
      files_[owner].push_back(File{it->path().filename().string(), key});
    }
  }

  struct Key {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 sees the 0 of the defaulted comparison
    auto operator<=>(const Key&) const = default;
  };

  // The inode of generation `g`'s file `name`; nullopt when it has none.
  std::optional<Key> key(std::int64_t g, const std::string& name) const {
    const auto it = files_.find(g);
    if (it == files_.end()) {
      return std::nullopt;
    }
    for (const auto& f : it->second) {
      if (f.name == name) {
        return f.key;
      }
    }
    return std::nullopt;
  }

  // Drops generation `g`'s links; returns the bytes whose last link that was.
  std::int64_t remove(std::int64_t g) {
    std::int64_t freed = 0;
    const auto it = files_.find(g);
    if (it == files_.end()) {
      return 0;
    }
    for (const auto& f : it->second) {
      auto& inode = inodes_[f.key];
      if (--inode.links == 0) {
        freed += inode.bytes;
      }
    }
    files_.erase(it);
    return freed;
  }

  // Bytes of every inode still linked.
  std::int64_t bytes() const {
    std::int64_t total = 0;
    for (const auto& [key, inode] : inodes_) {
      if (inode.links > 0) {
        total += inode.bytes;
      }
    }
    return total;
  }

 private:
  static constexpr std::int64_t kTopLevel = -1;
  struct File {
    std::string name;
    Key key;
  };
  struct Inode {
    std::int64_t bytes = 0;
    std::int64_t links = 0;
  };
  std::map<std::int64_t, std::vector<File>> files_;  // by generation; kTopLevel: v1/ itself
  std::map<Key, Inode> inodes_;
};

std::int64_t mtime_ms(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return 0;
  }
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

}  // namespace

const char* write_step_name(WriteStep step) {
  switch (step) {
    case WriteStep::kGenerationCreated: return "generation_created";
    case WriteStep::kTempWritten: return "temp_written";
    case WriteStep::kRenamed: return "renamed";
    case WriteStep::kBeforeManifest: return "before_manifest";
    case WriteStep::kBeforeCurrent: return "before_current";
    case WriteStep::kCurrentReplaced: return "current_replaced";
    case WriteStep::kLegacyRenamed: return "legacy_renamed";
  }
  return "unknown";
}

const char* read_error_kind_name(ReadErrorKind kind) {
  switch (kind) {
    case ReadErrorKind::kNoSnapshot: return "no_snapshot";
    case ReadErrorKind::kNotFound: return "not_found";
    case ReadErrorKind::kCorrupt: return "corrupt";
    case ReadErrorKind::kMalformed: return "malformed";
    case ReadErrorKind::kIo: return "io";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// SnapshotStore

SnapshotStore::SnapshotStore(fs::path analytics_path, WriteObserver* observer)
    : root_(std::move(analytics_path)), observer_(observer) {
  std::error_code ec;
  fs::create_directories(root_ / "v1" / "generations", ec);
  if (ec) {
    throw SnapshotIoError("cannot create '" + (root_ / "v1" / "generations").string() + "': " + ec.message());
  }
}

fs::path SnapshotStore::generation_dir(std::int64_t generation) const {
  return root_ / "v1" / "generations" / std::to_string(generation);
}

void SnapshotStore::notify(WriteStep step, std::string_view file) const {
  if (observer_ != nullptr) {
    observer_->on_step(step, file);
  }
}

std::vector<std::int64_t> SnapshotStore::list_generations() const {
  std::vector<std::int64_t> out;
  const fs::path dir = root_ / "v1" / "generations";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    if (auto g = parse_generation(name); g && std::to_string(*g) == name) {
      out.push_back(*g);
    }
  }
  if (ec) {
    throw SnapshotIoError("cannot list '" + dir.string() + "': " + ec.message());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::int64_t SnapshotStore::create_next_generation() const {
  std::int64_t next = 1;
  if (auto gens = list_generations(); !gens.empty()) {
    next = gens.back() + 1;
  }
  if (auto cur = current_generation(); cur.ok()) {
    next = std::max(next, cur.value() + 1);
  }
  const fs::path dir = generation_dir(next);
  if (::mkdir(dir.c_str(), 0755) != 0) {
    io_fail("cannot create generation", dir, errno);
  }
  // Its entry in generations/ is made durable with the manifest (commit).
  return next;
}

GenerationWriter SnapshotStore::begin_generation() {
  const auto start = std::chrono::steady_clock::now();
  const int lock_fd = lock_store(version_dir());
  const double waited = ms_since(start);
  std::int64_t next = 0;
  try {
    next = create_next_generation();
  } catch (...) {
    ::close(lock_fd);
    throw;
  }
  // From here the writer owns the lock and the directory: an exception
  // destroys it, which removes the directory and releases the lock.
  GenerationWriter writer(*this, lock_fd, -1, next);
  writer.timings_.lock_wait_ms = waited;
  notify(WriteStep::kGenerationCreated, "");
  return writer;
}

GenerationWriter SnapshotStore::stage_generation() {
  Fd lock(lock_store(version_dir()));  // only while the number is reserved
  const std::int64_t next = create_next_generation();
  const fs::path dir = generation_dir(next);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || ::flock(dir_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (dir_fd >= 0) {
      ::close(dir_fd);
    }
    std::error_code ec;
    fs::remove(dir, ec);
    io_fail("cannot lock generation", dir, err);
  }
  GenerationWriter writer(*this, -1, dir_fd, next);
  notify(WriteStep::kGenerationCreated, "");
  return writer;
}

ReadResult<std::int64_t> SnapshotStore::current_generation() const {
  std::string text;
  const std::string file = "v1/CURRENT";
  if (int err = read_whole(version_dir() / kCurrentName, &text); err != 0) {
    if (err == ENOENT) {
      return io_error(ReadErrorKind::kNoSnapshot, file, "no generation has been published");
    }
    return errno_error(file, err);
  }
  auto g = parse_generation(text);
  if (!g) {
    return io_error(ReadErrorKind::kMalformed, file, "CURRENT does not hold a generation number");
  }
  return *g;
}

ReadResult<Manifest> SnapshotStore::read_manifest(std::int64_t generation) const {
  const std::string file = "v1/generations/" + std::to_string(generation) + "/" + std::string(kManifestName);
  std::string text;
  if (int err = read_whole(generation_dir(generation) / kManifestName, &text); err != 0) {
    return errno_error(file, err);
  }
  auto parsed = parse_manifest(text);
  if (!parsed.ok()) {
    return io_error(ReadErrorKind::kMalformed, file, parsed.error().message);
  }
  if (parsed->generation != generation) {
    return io_error(ReadErrorKind::kMalformed, file,
                    "manifest names generation " + std::to_string(parsed->generation));
  }
  return std::move(parsed).value();
}

ReadResult<std::string> SnapshotStore::read_file(const Manifest& manifest, std::string_view name) const {
  const std::string file = "v1/generations/" + std::to_string(manifest.generation) + "/" + std::string(name);
  auto entry = manifest.files.find(std::string(name));
  if (entry == manifest.files.end()) {
    return io_error(ReadErrorKind::kNotFound, file, file + " is not in the manifest");
  }
  std::string bytes;
  if (int err = read_whole(generation_dir(manifest.generation) / std::string(name), &bytes); err != 0) {
    return errno_error(file, err);
  }
  if (static_cast<std::int64_t>(bytes.size()) != entry->second.bytes) {
    return io_error(ReadErrorKind::kCorrupt, file,
                    file + " has " + std::to_string(bytes.size()) + " bytes, the manifest says " +
                        std::to_string(entry->second.bytes));
  }
  if (sha256_hex(bytes) != entry->second.sha256) {
    return io_error(ReadErrorKind::kCorrupt, file, file + " does not match its SHA-256 in the manifest");
  }
  return bytes;
}

std::optional<FileStamp> SnapshotStore::stamp(std::int64_t generation, std::string_view name) const {
  struct stat st {};
  if (::stat((generation_dir(generation) / std::string(name)).c_str(), &st) != 0) {
    return std::nullopt;
  }
  return FileStamp{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                   static_cast<std::int64_t>(st.st_size),
                   static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

std::optional<ReadError> SnapshotStore::verify_file(const Manifest& manifest, std::string_view name,
                                                    const std::function<void(std::size_t)>& pace,
                                                    std::size_t chunk_bytes) const {
  const std::string file = "v1/generations/" + std::to_string(manifest.generation) + "/" + std::string(name);
  auto entry = manifest.files.find(std::string(name));
  if (entry == manifest.files.end()) {
    return io_error(ReadErrorKind::kNotFound, file, file + " is not in the manifest");
  }
  Fd fd(::open((generation_dir(manifest.generation) / std::string(name)).c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return errno_error(file, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return errno_error(file, errno);
  }
  auto wrong_size = [&](std::int64_t size) {
    return io_error(ReadErrorKind::kCorrupt, file,
                    file + " has " + std::to_string(size) + " bytes, the manifest says " +
                        std::to_string(entry->second.bytes));
  };
  if (static_cast<std::int64_t>(st.st_size) != entry->second.bytes) {
    return wrong_size(st.st_size);
  }
  Sha256 hash;
  std::string buffer(std::max<std::size_t>(chunk_bytes, 4096), '\0');
  std::int64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(file, errno);
    }
    if (n == 0) {
      break;
    }
    hash.update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    total += n;
    if (pace) {
      pace(static_cast<std::size_t>(n));
    }
  }
  if (total != entry->second.bytes) {
    return wrong_size(total);
  }
  if (hash.hex() != entry->second.sha256) {
    return io_error(ReadErrorKind::kCorrupt, file, file + " does not match its SHA-256 in the manifest");
  }
  return std::nullopt;
}

ReadResult<Snapshot> SnapshotStore::read_current() const {
  ReadError last;
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    auto current = current_generation();
    if (!current.ok()) {
      return current.error();
    }
    const std::int64_t g = current.value();
    // A missing manifest or file may only mean gc removed a generation that
    // stopped being current while we read it: retry when CURRENT moved.
    auto moved = [&] {
      auto now = current_generation();
      return !now.ok() || now.value() != g;
    };
    auto manifest = read_manifest(g);
    if (!manifest.ok()) {
      if (manifest.error().kind == ReadErrorKind::kNotFound && moved()) {
        last = manifest.error();
        continue;
      }
      return manifest.error();
    }
    Snapshot snap;
    snap.manifest = std::move(manifest).value();
    bool retry = false;
    for (const auto& [name, entry] : snap.manifest.files) {
      auto bytes = read_file(snap.manifest, name);
      if (!bytes.ok()) {
        if (bytes.error().kind == ReadErrorKind::kNotFound && moved()) {
          last = bytes.error();
          retry = true;
          break;
        }
        return bytes.error();
      }
      snap.files.emplace(name, std::move(bytes).value());
    }
    if (!retry) {
      return snap;
    }
  }
  return last;
}

// ---------------------------------------------------------------------------
// Retention and report

RetentionResult SnapshotStore::collect_garbage(const RetentionPolicy& policy, bool dry_run,
                                               std::int64_t now_ms) {
  Fd lock(lock_store(version_dir()));
  RetentionResult result;
  result.dry_run = dry_run;
  auto current = current_generation();
  if (current.ok()) {
    result.current = current.value();
  } else if (current.error().kind != ReadErrorKind::kNoSnapshot) {
    throw SnapshotIoError("refusing to collect garbage: " + current.error().message);
  }

  struct Candidate {
    std::int64_t generation;
    bool complete;
    std::int64_t generated_at_ms;
    std::int64_t age_ms = 0;
    std::string reason{};  // empty: kept
    bool writing = false;  // a staged writer holds its directory: never removed
  };
  std::vector<Candidate> gens;
  for (std::int64_t g : list_generations()) {
    auto m = read_manifest(g);
    gens.push_back({g, m.ok(), m.ok() ? m->generated_at_ms : mtime_ms(generation_dir(g))});
  }
  // Newest first, so that "among the newest N" is a running count.
  std::sort(gens.begin(), gens.end(),
            [](const auto& a, const auto& b) { return a.generation > b.generation; });
  std::int64_t published_seen = 0;
  for (auto& c : gens) {
    const bool is_current = result.current && c.generation == *result.current;
    c.age_ms = std::max<std::int64_t>(0, now_ms - c.generated_at_ms);
    if (is_current) {
      c.reason.clear();
    } else if (!c.complete) {
      c.reason = "partial";
    } else if (result.current && c.generation > *result.current) {
      c.reason = "unpublished";
    } else {
      const bool newest = published_seen < policy.keep_generations;
      const bool young = c.age_ms < policy.max_age_ms;
      if (!newest && !young) {
        c.reason = "expired";
      }
    }
    if (c.complete && (!result.current || c.generation <= *result.current)) {
      ++published_seen;
    }
    if (!c.complete && being_written(generation_dir(c.generation))) {
      c.writing = true;
      c.reason.clear();
    }
  }

  StoreFiles files(version_dir());
  // The limits that override count and age apply once a generation is current.
  if (result.current && !policy.versioned_files.empty()) {
    // Newest first: the first versions met are the newest.
    for (const auto& name : policy.versioned_files) {
      std::set<StoreFiles::Key> allowed;
      if (auto k = files.key(*result.current, name)) {
        allowed.insert(*k);
      }
      std::int64_t others = 0;
      for (auto& c : gens) {
        if (!c.reason.empty() || c.writing || c.generation == *result.current) {
          continue;
        }
        const auto k = files.key(c.generation, name);
        if (!k || allowed.count(*k) != 0) {
          continue;
        }
        if (others < policy.keep_versions) {
          allowed.insert(*k);
          ++others;
        } else {
          c.reason = "superseded";
        }
      }
    }
  }
  // Removal happens oldest first; the budget takes the oldest kept ones.
  std::reverse(gens.begin(), gens.end());
  StoreFiles after = files;
  for (const auto& c : gens) {
    if (!c.reason.empty()) {
      after.remove(c.generation);
    }
  }
  if (result.current && policy.max_bytes > 0) {
    std::int64_t bytes = after.bytes();
    for (auto& c : gens) {
      if (bytes <= policy.max_bytes) {
        break;
      }
      if (!c.reason.empty() || c.writing || c.generation == *result.current) {
        continue;
      }
      c.reason = "over_budget";
      after.remove(c.generation);
      bytes = after.bytes();
    }
  }

  for (const auto& c : gens) {
    if (c.reason.empty()) {
      result.kept.push_back(c.generation);
      continue;
    }
    const fs::path dir = generation_dir(c.generation);
    RemovedGeneration removed{c.generation, c.reason, files.remove(c.generation), c.age_ms};
    if (!dry_run) {
      std::error_code ec;
      fs::remove_all(dir, ec);
      if (ec) {
        throw SnapshotIoError("cannot remove '" + dir.string() + "': " + ec.message(), ec.value());
      }
    }
    result.bytes_freed += removed.bytes;
    result.removed.push_back(std::move(removed));
  }
  result.store_bytes = files.bytes();
  if (!dry_run) {
    // Temporary files left in v1/ by a writer that crashed (none is running:
    // we hold the lock).
    std::error_code ec;
    for (fs::directory_iterator it(version_dir(), ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() > 5 && name.front() == '.' && name.ends_with(".tmp")) {
        std::error_code ec2;
        fs::remove(it->path(), ec2);
      }
    }
    fsync_dir(root_ / "v1" / "generations");
  }
  return result;
}

RetentionResult SnapshotStore::make_room(std::int64_t available_bytes, std::int64_t now_ms) {
  Fd lock(lock_store(version_dir()));
  RetentionResult result;
  auto current = current_generation();
  if (current.ok()) {
    result.current = current.value();
  }
  auto room = [&] {
    const auto s = space();
    return !s || s->available_bytes >= available_bytes;
  };
  StoreFiles files(version_dir());
  if (!room()) {
    // Never-published generations first, then published ones, oldest first.
    struct Candidate {
      std::int64_t generation;
      std::string reason;
      std::int64_t generated_at_ms;
    };
    std::vector<Candidate> order;
    std::vector<Candidate> published;
    for (std::int64_t g : list_generations()) {
      if (result.current && g == *result.current) {
        continue;
      }
      auto m = read_manifest(g);
      const std::int64_t at = m.ok() ? m->generated_at_ms : mtime_ms(generation_dir(g));
      if (!m.ok()) {
        if (being_written(generation_dir(g))) {
          continue;  // a staged writer's, not partial
        }
        order.push_back({g, "partial", at});
      } else if (result.current && g > *result.current) {
        order.push_back({g, "unpublished", at});
      } else {
        published.push_back({g, "space", at});
      }
    }
    order.insert(order.end(), published.begin(), published.end());
    for (const auto& c : order) {
      const fs::path dir = generation_dir(c.generation);
      std::error_code ec;
      fs::remove_all(dir, ec);
      if (ec) {
        throw SnapshotIoError("cannot remove '" + dir.string() + "': " + ec.message(), ec.value());
      }
      RemovedGeneration removed{c.generation, c.reason, files.remove(c.generation),
                                std::max<std::int64_t>(0, now_ms - c.generated_at_ms)};
      result.bytes_freed += removed.bytes;
      result.removed.push_back(std::move(removed));
      if (room()) {
        break;
      }
    }
    if (!result.removed.empty()) {
      fsync_dir(root_ / "v1" / "generations");
    }
  }
  for (std::int64_t g : list_generations()) {
    result.kept.push_back(g);
  }
  result.store_bytes = files.bytes();
  return result;
}

std::optional<core::FilesystemUsage> SnapshotStore::space() const { return space_probe_(root_); }

void SnapshotStore::set_space_probe(core::FilesystemProbe probe) { space_probe_ = std::move(probe); }

StoreReport SnapshotStore::report(std::int64_t now_ms) const {
  StoreReport r;
  r.path = root_.string();
  if (auto cur = current_generation(); cur.ok()) {
    r.current = cur.value();
  }
  for (std::int64_t g : list_generations()) {
    GenerationInfo info;
    info.generation = g;
    info.current = r.current && *r.current == g;
    const fs::path dir = generation_dir(g);
    if (auto m = read_manifest(g); m.ok()) {
      info.complete = true;
      info.catalog_seq = m->catalog_seq;
      info.generated_at_ms = m->generated_at_ms;
    } else {
      info.generated_at_ms = mtime_ms(dir);
    }
    info.age_ms = std::max<std::int64_t>(0, now_ms - info.generated_at_ms);
    info.bytes = dir_bytes(dir, &info.files);
    r.generation_bytes += info.bytes;
    r.generations.push_back(info);
  }
  // Disk use counts each inode once: legacy copies are hard links to the
  // current generation's files when the file system allows it.
  std::vector<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(version_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    // Legacy copies: v1/<name> for any name a generation may hold (never
    // CURRENT, the lock or a temporary file).
    if (it.depth() == 0 && is_valid_file_name(it->path().filename().string())) {
      r.legacy_bytes += st.st_size;
    }
    if (st.st_nlink > 1) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        continue;
      }
      seen.push_back(key);
    }
    r.total_bytes += st.st_size;
  }
  if (const auto fs_space = space()) {
    r.fs_total_bytes = fs_space->total_bytes;
    r.fs_free_bytes = fs_space->free_bytes;
    r.fs_available_bytes = fs_space->available_bytes;
  }
  return r;
}

// ---------------------------------------------------------------------------
// GenerationWriter

GenerationWriter::GenerationWriter(const SnapshotStore& store, int lock_fd, int dir_lock_fd,
                                   std::int64_t generation)
    : store_(&store), lock_fd_(lock_fd), dir_lock_fd_(dir_lock_fd), generation_(generation) {}

GenerationWriter::GenerationWriter(GenerationWriter&& other) noexcept
    : store_(other.store_),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      dir_lock_fd_(std::exchange(other.dir_lock_fd_, -1)),
      generation_(other.generation_),
      published_as_(other.published_as_),
      done_(std::exchange(other.done_, true)),
      files_(std::move(other.files_)),
      pending_(std::move(other.pending_)),
      legacy_(std::move(other.legacy_)),
      timings_(other.timings_) {}

GenerationWriter::~GenerationWriter() {
  abort();
  close_pending();
  if (dir_lock_fd_ >= 0) {
    ::close(dir_lock_fd_);
  }
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);  // releases the flock
  }
}

void GenerationWriter::close_pending() noexcept {
  for (auto& p : pending_) {
    if (p.fd >= 0) {
      ::close(std::exchange(p.fd, -1));
    }
  }
  pending_.clear();
}

void GenerationWriter::abort() noexcept {
  if (done_) {
    return;
  }
  done_ = true;
  close_pending();
  std::error_code ec;
  fs::remove_all(store_->generation_dir(generation_), ec);
  if (published_as_ != 0) {
    fs::remove_all(store_->generation_dir(published_as_), ec);
  }
  // v1/.CURRENT.tmp is only ever written under the writers' lock.
  if (lock_fd_ >= 0) {
    fs::remove(store_->version_dir() / ".CURRENT.tmp", ec);
  }
  if (ec) {
    core::log::warn("snapshot.abort_cleanup_failed", {{"generation", generation_}, {"error", ec.message()}});
  }
}

void GenerationWriter::lock() {
  if (lock_fd_ >= 0) {
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  lock_fd_ = lock_store(store_->version_dir());
  timings_.lock_wait_ms += ms_since(start);
}

void GenerationWriter::check_new_name(const std::string& name) const {
  if (done_) {
    throw std::logic_error("generation already committed or aborted");
  }
  if (!is_valid_file_name(name)) {
    throw std::invalid_argument("invalid snapshot file name '" + name + "'");
  }
  if (files_.count(name) != 0) {
    throw std::invalid_argument("file '" + name + "' added twice");
  }
}

void GenerationWriter::added(const std::string& name, FileEntry entry) {
  files_.emplace(name, std::move(entry));
  legacy_.push_back(name);
}

void GenerationWriter::add(const std::string& name, std::string_view bytes,
                           std::optional<std::int64_t> catalog_seq) {
  check_new_name(name);
  const auto start = std::chrono::steady_clock::now();
  const fs::path tmp = store_->generation_dir(generation_) / ("." + name + ".tmp");
  PendingFile file{name, create_file(tmp)};
  try {
    write_behind(file.fd, bytes, tmp);
  } catch (...) {
    ::close(file.fd);
    throw;
  }
  pending_.push_back(std::move(file));
  added(name, FileEntry{sha256_hex(bytes), static_cast<std::int64_t>(bytes.size()), catalog_seq});
  timings_.files_ms += ms_since(start);
}

void GenerationWriter::flush() {
  if (pending_.empty()) {
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  const fs::path dir = store_->generation_dir(generation_);
  std::vector<std::pair<int, fs::path>> fds;
  for (const auto& p : pending_) {
    fds.emplace_back(p.fd, dir / ("." + p.name + ".tmp"));
  }
  timings_.fsyncs += fsync_all(fds);
  // The directory entries are made durable with the manifest's (commit()):
  // until then the generation is partial anyway.
  for (auto& p : pending_) {
    const fs::path tmp = dir / ("." + p.name + ".tmp");
    if (::close(std::exchange(p.fd, -1)) != 0) {
      io_fail("cannot close", tmp, errno);
    }
    store_->notify(WriteStep::kTempWritten, p.name);
    rename_file(tmp, dir / p.name);
    store_->notify(WriteStep::kRenamed, p.name);
  }
  pending_.clear();
  timings_.files_ms += ms_since(start);
}

void GenerationWriter::link(const std::string& name, std::int64_t from, const FileEntry& entry) {
  check_new_name(name);
  const fs::path source = store_->generation_dir(from) / name;
  const fs::path target = store_->generation_dir(generation_) / name;
  if (::link(source.c_str(), target.c_str()) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      io_fail("cannot link from", source, err);
    }
    // No hard links here (EXDEV, EPERM, EMLINK...): copy, verified.
    std::string bytes;
    if (int rerr = read_whole(source, &bytes); rerr != 0) {
      io_fail("cannot read", source, rerr);
    }
    if (static_cast<std::int64_t>(bytes.size()) != entry.bytes || sha256_hex(bytes) != entry.sha256) {
      throw SnapshotIoError("'" + source.string() + "' does not match its manifest entry");
    }
    add(name, bytes, entry.catalog_seq);
    return;
  }
  store_->notify(WriteStep::kRenamed, name);
  added(name, entry);
}

void GenerationWriter::write_manifest(std::int64_t g, const Manifest& manifest, bool current_tmp) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path dir = store_->generation_dir(g);
  const fs::path vdir = store_->version_dir();
  store_->notify(WriteStep::kBeforeManifest, "");
  // Written under a temporary name and renamed before it is durable: until
  // CURRENT names this generation nothing trusts its manifest, and a crash
  // before the fsyncs below leaves, at worst, a partial or unpublished
  // generation, which gc removes (docs/snapshots.md, "Why each fsync").
  const fs::path manifest_tmp = dir / ("." + std::string(kManifestName) + ".tmp");
  Fd manifest_fd(create_file(manifest_tmp));
  write_all(manifest_fd.get(), manifest_json(manifest), manifest_tmp);
  std::optional<Fd> current_fd;
  const fs::path current_path = vdir / ".CURRENT.tmp";
  if (current_tmp) {
    current_fd.emplace(create_file(current_path));
    write_all(current_fd->get(), std::to_string(g) + "\n", current_path);
  }
  store_->notify(WriteStep::kTempWritten, kManifestName);
  rename_file(manifest_tmp, dir / kManifestName);
  std::vector<std::pair<int, fs::path>> fds{{manifest_fd.get(), dir / kManifestName}};
  if (current_fd) {
    fds.emplace_back(current_fd->get(), current_path);
  }
  timings_.fsyncs += fsync_all(fds);
  if (int err = manifest_fd.close(); err != 0) {
    io_fail("cannot close", dir / kManifestName, err);
  }
  if (current_fd) {
    if (int err = current_fd->close(); err != 0) {
      io_fail("cannot close", current_path, err);
    }
  }
  // Every file's and the manifest's directory entry, and the generation's
  // own entry in generations/, durable before CURRENT may name it.
  fsync_dir(dir);
  fsync_dir(dir.parent_path());
  timings_.fsyncs += 2;
  store_->notify(WriteStep::kRenamed, kManifestName);
  timings_.manifest_ms += ms_since(start);
}

void GenerationWriter::publish(std::int64_t g, Committed& out) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path dir = store_->generation_dir(g);
  const fs::path vdir = store_->version_dir();
  store_->notify(WriteStep::kBeforeCurrent, "");
  store_->notify(WriteStep::kTempWritten, kCurrentName);
  rename_file(vdir / ".CURRENT.tmp", vdir / kCurrentName);
  // Published: from here on nothing may remove this generation, and a
  // failure is a warning, not an error.
  done_ = true;
  auto warn = [&](const std::string& what) {
    out.warnings.push_back(what);
    core::log::warn("snapshot.commit_warning", {{"generation", g}, {"warning", what}});
  };
  try {
    fsync_dir(vdir);
    ++timings_.fsyncs;
    store_->notify(WriteStep::kCurrentReplaced, kCurrentName);
  } catch (const std::exception& e) {
    warn(std::string("CURRENT replaced but not confirmed durable: ") + e.what());
  }
  timings_.current_ms += ms_since(start);

  // Legacy copies: a hard link to the generation's file (no copy, atomic
  // rename over the old one); a copy where links are not supported. Not
  // fsynced: they become durable with the next journal commit, at the
  // latest the next generation's; a crash before that leaves the previous
  // copies, which the legacy layout allows (they may lag one generation).
  const auto legacy_start = std::chrono::steady_clock::now();
  for (const auto& name : legacy_) {
    const fs::path tmp = vdir / ("." + name + ".tmp");
    try {
      std::error_code ec;
      fs::remove(tmp, ec);
      if (::link((dir / name).c_str(), tmp.c_str()) != 0) {
        std::string bytes;
        if (int err = read_whole(dir / name, &bytes); err != 0) {
          io_fail("cannot read", dir / name, err);
        }
        write_durable(tmp, bytes);
        ++timings_.fsyncs;
      }
      store_->notify(WriteStep::kTempWritten, "legacy/" + name);
      rename_file(tmp, vdir / name);
      store_->notify(WriteStep::kLegacyRenamed, "legacy/" + name);
    } catch (const std::exception& e) {
      std::error_code ec;
      fs::remove(tmp, ec);
      warn("legacy copy v1/" + name + " may be stale: " + e.what());
    }
  }
  timings_.legacy_ms += ms_since(legacy_start);
}

GenerationWriter::Committed GenerationWriter::commit(std::int64_t catalog_seq, std::int64_t generated_at_ms) {
  if (done_) {
    throw std::logic_error("generation already committed or aborted");
  }
  lock();
  flush();

  Committed out;
  out.manifest.generation = generation_;
  out.manifest.catalog_seq = catalog_seq;
  out.manifest.generated_at_ms = generated_at_ms;
  out.manifest.files = files_;
  for (auto& [name, entry] : out.manifest.files) {
    if (entry.catalog_seq == catalog_seq) {
      entry.catalog_seq.reset();  // the generation's: implicit
    }
  }

  // A staged generation is published under its own number unless a newer
  // one became current while it was written (numbers never go back): then
  // it is completed as it is and its files are published, hard-linked, in
  // the next generation.
  std::int64_t g = generation_;
  if (dir_lock_fd_ >= 0) {
    if (auto cur = store_->current_generation(); cur.ok() && cur.value() > generation_) {
      write_manifest(generation_, out.manifest, /*current_tmp=*/false);
      g = published_as_ = store_->create_next_generation();
      store_->notify(WriteStep::kGenerationCreated, "");
      for (const auto& [name, entry] : files_) {
        const fs::path source = store_->generation_dir(generation_) / name;
        const fs::path target = store_->generation_dir(g) / name;
        if (::link(source.c_str(), target.c_str()) != 0) {
          io_fail("cannot link to", target, errno);
        }
        store_->notify(WriteStep::kRenamed, name);
      }
      out.staged_as = generation_;
      out.manifest.generation = g;
    }
  }
  write_manifest(g, out.manifest, /*current_tmp=*/true);
  publish(g, out);

  // Release the locks now rather than when the writer is destroyed.
  if (lock_fd_ >= 0) {
    ::close(std::exchange(lock_fd_, -1));
  }
  if (dir_lock_fd_ >= 0) {
    ::close(std::exchange(dir_lock_fd_, -1));
  }
  out.timings = timings_;
  return out;
}

}  // namespace cocktail::snapshot
