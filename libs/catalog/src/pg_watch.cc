#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "cocktail/core/log.h"
#include "pg_outbox.h"

namespace cocktail::catalog::pg {
namespace {

class PgChangeWatch final : public ChangeWatch {
 public:
  PgChangeWatch(std::string uri, DatabaseOptions options, std::function<void()> on_change)
      : uri_(std::move(uri)), options_(options), on_change_(std::move(on_change)) {
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_ < 0) {
      throw std::runtime_error("eventfd failed");
    }
    thread_ = std::thread([this] { run(); });
  }
  ~PgChangeWatch() override {
    stopping_ = true;
    const std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
    thread_.join();
    ::close(wake_);
  }

 private:
  void run() {
    std::unique_ptr<PgDatabase> db;
    while (!stopping_) {
      try {
        if (!db) {
          db = PgDatabase::open(uri_, options_);
          db->exec(std::string("LISTEN ") + kNotifyChannel);
          // Whatever committed while nobody listened is picked up by this call.
          on_change_();
        }
        if (db->wait_for_notification(1000, wake_) && !stopping_) {
          on_change_();
        }
      } catch (const std::exception& e) {
        core::log::warn("catalog.watch_failed", {{"error", e.what()}});
        db.reset();
        // Back off before reconnecting; the tailer keeps polling meanwhile.
        for (int i = 0; i < 10 && !stopping_; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    }
  }

  std::string uri_;
  DatabaseOptions options_;
  std::function<void()> on_change_;
  int wake_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ChangeWatch> watch_changes(PgDatabase& db, std::function<void()> on_change) {
  DatabaseOptions options = db.options();
  options.read_only = true;
  return std::make_unique<PgChangeWatch>(db.uri(), options, std::move(on_change));
}

}  // namespace cocktail::catalog::pg
