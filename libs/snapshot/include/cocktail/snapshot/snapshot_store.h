// SnapshotStore: numbered generations of named files under ANALYTICS_PATH,
//
//   ANALYTICS_PATH/v1/generations/<generation>/<name>   the files
//   ANALYTICS_PATH/v1/generations/<generation>/manifest.json   written last
//   ANALYTICS_PATH/v1/CURRENT                          "<generation>\n"
//   ANALYTICS_PATH/v1/<name>                           legacy copies of the current generation's files
//
// Writing: every new file goes to a temporary name, is fsynced and renamed;
// a file unchanged since an earlier generation is a hard link to that
// generation's file (no byte read or written; its SHA-256 and size come from
// the earlier, verified manifest). Once every file is durable the manifest
// (SHA-256 and size of every file) is written and made durable with the
// directory entries; then CURRENT is replaced, which publishes the
// generation; then the legacy copies are refreshed. A failure or crash at any
// step before CURRENT leaves the previous generation current and complete.
// Generation numbers increase: the next is one more than the largest
// directory present. The crash-safety argument, fsync by fsync, is in
// docs/snapshots.md.
//
// Writers: one at a time holds an exclusive flock on v1/.lock (across
// processes too), and gc takes the same lock. begin_generation() holds it
// from the start. stage_generation() holds it only to reserve its number:
// its files are written and fsynced outside the lock (a large generation
// never makes a small one wait for its bytes), and lock() / commit() take
// it for the manifest and CURRENT alone. A staged generation's directory is
// flock'ed by its writer, so gc never takes it for a partial one.
//
// Reading: CURRENT, then the manifest, then each file, whose size and
// SHA-256 are checked before it is handed out. Readers take no lock; a
// generation removed by gc while being read is retried from CURRENT.
//
// Thread-safety: all const methods may run concurrently with each other and
// with writers (in this or another process). begin_generation,
// stage_generation, collect_garbage and make_room serialise on the lock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cocktail/core/filesystem.h"
#include "cocktail/snapshot/manifest.h"
#include "cocktail/snapshot/read_result.h"
#include "cocktail/snapshot/retention.h"
#include "cocktail/snapshot/write_observer.h"

namespace cocktail::snapshot {

// An I/O failure while writing or collecting (errno text included).
class SnapshotIoError : public std::runtime_error {
 public:
  explicit SnapshotIoError(const std::string& what, int error_number = 0)
      : std::runtime_error(what), errno_(error_number) {}
  // The errno behind it; 0 when there was none.
  int error_number() const { return errno_; }

 private:
  int errno_;
};

// What identifies a file's content on disk without reading it: its inode,
// size and modification time. A file whose stamp is unchanged since it was
// verified is taken to hold the same bytes (writing into it in place moves
// its mtime; a hard link does not).
struct FileStamp {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t bytes = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// A verified generation: the manifest and the bytes of every file it lists.
struct Snapshot {
  Manifest manifest;
  std::map<std::string, std::string> files;
};

// How long the steps of writing a generation took, in milliseconds, and how
// many fsync calls they made: where a slow commit spent its time.
struct WriteTimings {
  double lock_wait_ms = 0;  // waiting for the writers' lock (another writer, gc)
  double files_ms = 0;      // new files made durable (fsync) and renamed into place
  double manifest_ms = 0;   // manifest written; it and the directory entries durable
  double current_ms = 0;    // CURRENT replaced and durable
  double legacy_ms = 0;     // legacy copies refreshed
  int fsyncs = 0;
};

class GenerationWriter;

class SnapshotStore {
 public:
  // Creates ANALYTICS_PATH/v1/generations when missing. Throws SnapshotIoError.
  // `observer`, when given, must outlive the store.
  explicit SnapshotStore(std::filesystem::path analytics_path, WriteObserver* observer = nullptr);

  const std::filesystem::path& analytics_path() const { return root_; }
  std::filesystem::path version_dir() const { return root_ / "v1"; }
  std::filesystem::path generation_dir(std::int64_t generation) const;

  // ---- Writing (see GenerationWriter). Throws SnapshotIoError.
  // A writer holding the writers' lock until it commits or is destroyed:
  // blocks while another writer or gc holds it.
  GenerationWriter begin_generation();
  // A staged writer: the next number is reserved under the lock, which is
  // then released; see GenerationWriter::lock() and commit().
  GenerationWriter stage_generation();

  // ---- Reading.
  // The generation CURRENT names: kNoSnapshot when there is none.
  ReadResult<std::int64_t> current_generation() const;
  // The manifest of a generation, checked to belong to it.
  ReadResult<Manifest> read_manifest(std::int64_t generation) const;
  // One file of a generation, verified against the manifest.
  ReadResult<std::string> read_file(const Manifest& manifest, std::string_view name) const;
  // The current generation, every file verified. A generation that vanishes
  // mid-read (gc) is retried from CURRENT a few times.
  ReadResult<Snapshot> read_current() const;
  // The generations present on disk, ascending (complete or not).
  std::vector<std::int64_t> generations() const { return list_generations(); }
  // The stamp of a generation's file; nullopt when it cannot be stat'ed.
  std::optional<FileStamp> stamp(std::int64_t generation, std::string_view name) const;
  // Verifies one file of a generation against its manifest entry without
  // holding it in memory: read in chunks of at most `chunk_bytes`, hashed as
  // it goes; `pace(bytes)` (when given) is called after each chunk and may
  // block, to bound the read rate. nullopt when the size and SHA-256 match;
  // otherwise the error, of the kinds read_file() returns.
  std::optional<ReadError> verify_file(const Manifest& manifest, std::string_view name,
                                       const std::function<void(std::size_t)>& pace = {},
                                       std::size_t chunk_bytes = 1 << 20) const;

  // ---- Space. The file system holding ANALYTICS_PATH, by the probe
  // (statvfs unless set_space_probe() gave another: tests fake a small disk).
  std::optional<core::FilesystemUsage> space() const;
  // Set-up only (before the store is shared between threads).
  void set_space_probe(core::FilesystemProbe probe);

  // ---- Retention. Removes (or, with dry_run, lists) what the policy does
  // not keep; never the current generation. `now_ms`: Unix epoch ms.
  RetentionResult collect_garbage(const RetentionPolicy& policy, bool dry_run, std::int64_t now_ms);
  // Makes room for a write: while the file system has fewer than
  // `available_bytes` available, removes the oldest generation other than
  // the current one (partial and unpublished ones first), whatever the
  // retention policy would keep ("space"). Stops when there is room or
  // nothing left to remove. Takes the writers' lock.
  RetentionResult make_room(std::int64_t available_bytes, std::int64_t now_ms);
  // Generations, sizes, ages, disk use and free space. Takes no lock.
  StoreReport report(std::int64_t now_ms) const;

 private:
  friend class GenerationWriter;
  std::vector<std::int64_t> list_generations() const;  // ascending, numeric directory names only
  // One more than the largest generation directory or CURRENT; creates its
  // directory. Call under the writers' lock.
  std::int64_t create_next_generation() const;
  void notify(WriteStep step, std::string_view file) const;

  std::filesystem::path root_;
  WriteObserver* observer_;
  core::FilesystemProbe space_probe_ = core::statvfs_usage;
};

// Writes one generation. Files are written as they are added and made
// durable together (flush(), or commit()); nothing is visible to readers
// until commit() replaces CURRENT. Destroying a writer that was not
// committed removes its directory (abort). Not thread-safe; move-only.
//
// From begin_generation() it holds the writers' lock for its lifetime. From
// stage_generation() it holds only a lock on its own directory: add(),
// link() and flush() run beside other writers; lock() (or commit()) then
// takes the writers' lock, so that what the caller links is what CURRENT
// names at commit.
class GenerationWriter {
 public:
  GenerationWriter(GenerationWriter&& other) noexcept;
  GenerationWriter& operator=(GenerationWriter&&) = delete;
  ~GenerationWriter();

  std::int64_t generation() const { return generation_; }

  // Writes `bytes` as `name` (see is_valid_file_name; each name once),
  // durable at the next flush() or commit(). Throws std::invalid_argument
  // for a bad or repeated name, SnapshotIoError on I/O failure.
  // `catalog_seq`: the seq the file was computed from when it may differ
  // from the generation's (one equal to the generation's catalog_seq at
  // commit is left implicit in the manifest).
  void add(const std::string& name, std::string_view bytes,
           std::optional<std::int64_t> catalog_seq = std::nullopt);
  // Adds `name` as a hard link to the same file of generation `from`, whose
  // verified manifest lists it as `entry` (entry.catalog_seq: as for add()).
  // Nothing is read or written. Where the file system refuses the link, the
  // file is read, verified against `entry` and written as add() would.
  // Throws as add() does, and SnapshotIoError when the source is missing or
  // (on the copy path) does not match `entry`.
  void link(const std::string& name, std::int64_t from, const FileEntry& entry);
  // Makes every file added so far durable (one fsync each, issued together)
  // and gives it its final name. commit() does it for what is left.
  void flush();
  // Takes the writers' lock (blocking behind another writer or gc) if this
  // writer does not hold it yet.
  void lock();

  struct Committed {
    Manifest manifest;
    // Legacy copies that could not be refreshed (the generation is
    // published regardless; the next commit retries them).
    std::vector<std::string> warnings;
    WriteTimings timings;
    // A staged generation that could not be published under its own number
    // because a newer one became current while it was written: it is
    // completed (its manifest written) but never current, and its files are
    // published, hard-linked, as `manifest.generation`. nullopt otherwise.
    std::optional<std::int64_t> staged_as;
  };
  // Takes the lock if needed, flushes, writes the manifest, then replaces
  // CURRENT. Throws SnapshotIoError when the generation could not be
  // published (the previous one stays current).
  Committed commit(std::int64_t catalog_seq, std::int64_t generated_at_ms);

  // Removes the partial generation. Idempotent; never throws.
  void abort() noexcept;

 private:
  friend class SnapshotStore;
  // A file written to its temporary name, not yet durable.
  struct PendingFile {
    std::string name;
    int fd = -1;
  };
  GenerationWriter(const SnapshotStore& store, int lock_fd, int dir_lock_fd, std::int64_t generation);
  void check_new_name(const std::string& name) const;
  void added(const std::string& name, FileEntry entry);
  void close_pending() noexcept;
  // Writes `manifest` into generation `g`'s directory and makes it and the
  // directory entries durable; with `current_tmp`, also v1/.CURRENT.tmp
  // naming `g` (one batch of fsyncs for both).
  void write_manifest(std::int64_t g, const Manifest& manifest, bool current_tmp);
  // Replaces CURRENT by v1/.CURRENT.tmp (naming `g`), then the legacy copies.
  void publish(std::int64_t g, Committed& out);

  const SnapshotStore* store_;
  int lock_fd_;      // the writers' lock; -1 while a staged writer does not hold it
  int dir_lock_fd_;  // a staged writer's lock on its directory; -1 otherwise
  std::int64_t generation_;
  std::int64_t published_as_ = 0;  // the fallback generation of a staged commit, while written
  bool done_ = false;
  std::map<std::string, FileEntry> files_;
  std::vector<PendingFile> pending_;
  std::vector<std::string> legacy_;  // every file, linked (or copied) to v1/<name> on commit
  WriteTimings timings_;
};

}  // namespace cocktail::snapshot
