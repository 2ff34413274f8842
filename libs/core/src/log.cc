#include "cocktail/core/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>

#include "cocktail/core/time.h"

namespace cocktail::core::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

const SteadyClock kSteadyClock;

// A token bucket per event name. Event names are literals of the code, so
// the map stays small.
class Limiter {
 public:
  // True when the line may be written; `*suppressed` is then how many lines
  // of this event were left out since the last one written.
  bool admit(Level l, std::string_view event, std::uint64_t* suppressed) {
    *suppressed = 0;
    std::lock_guard lock(mu_);
    if (limit_.burst <= 0 || static_cast<int>(l) < static_cast<int>(limit_.min_level)) {
      return true;
    }
    const auto now = (limit_.clock ? limit_.clock : &kSteadyClock)->now();
    auto it = buckets_.find(event);
    if (it == buckets_.end()) {
      it = buckets_.emplace(std::string(event), Bucket{static_cast<double>(limit_.burst), now, 0}).first;
    }
    Bucket& b = it->second;
    if (limit_.interval.count() > 0 && now > b.last) {
      const double refill =
          std::chrono::duration<double>(now - b.last) / std::chrono::duration<double>(limit_.interval);
      b.tokens = std::min(static_cast<double>(limit_.burst), b.tokens + refill);
    }
    b.last = std::max(b.last, now);
    if (b.tokens < 1.0) {
      ++b.suppressed;
      ++totals_[it->first];
      ++total_;
      return false;
    }
    b.tokens -= 1.0;
    *suppressed = b.suppressed;
    b.suppressed = 0;
    return true;
  }

  void set(const RateLimit& limit) {
    std::lock_guard lock(mu_);
    limit_ = limit;
    buckets_.clear();
  }

  std::vector<std::pair<std::string, std::uint64_t>> by_event() {
    std::lock_guard lock(mu_);
    return {totals_.begin(), totals_.end()};
  }

  std::uint64_t total() {
    std::lock_guard lock(mu_);
    return total_;
  }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point last;
    std::uint64_t suppressed = 0;  // since the last line written
  };
  std::mutex mu_;
  RateLimit limit_;
  std::map<std::string, Bucket, std::less<>> buckets_;
  std::map<std::string, std::uint64_t, std::less<>> totals_;  // since the process started
  std::uint64_t total_ = 0;
};

Limiter& limiter() {
  static Limiter instance;  // never destroyed before the last log line of a thread
  return instance;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void append_quoted(std::string& out, std::string_view v) {
  bool needs = v.empty();
  for (char c : v) {
    needs = needs || c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20;
  }
  if (!needs) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// Formatting a calendar date is the most expensive part of a log line; the
// "YYYY-MM-DDTHH:MM:SS" prefix only changes once a second, so each thread
// keeps the last one and appends the milliseconds by hand.
void append_timestamp(std::string& out, std::int64_t epoch_ms) {
  thread_local std::int64_t cached_second = -1;
  thread_local std::string cached_prefix;
  std::int64_t second = epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000;
  if (second != cached_second) {
    std::string full = format_utc_iso8601(second * 1000);
    cached_prefix = full.substr(0, full.size() - 5);  // drop ".000Z"
    cached_second = second;
  }
  int ms = static_cast<int>(epoch_ms - second * 1000);
  out.append(cached_prefix);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + ms / 100));
  out.push_back(static_cast<char>('0' + ms / 10 % 10));
  out.push_back(static_cast<char>('0' + ms % 10));
  out.push_back('Z');
}

}  // namespace

std::string Field::format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void set_level(Level l) { g_level.store(static_cast<int>(l)); }
Level level() { return static_cast<Level>(g_level.load()); }

bool parse_level(std::string_view text, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == level_name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void set_rate_limit(const RateLimit& limit) { limiter().set(limit); }
std::vector<std::pair<std::string, std::uint64_t>> suppressed_by_event() { return limiter().by_event(); }
std::uint64_t suppressed_total() { return limiter().total(); }

void write(Level l, std::string_view event, std::initializer_list<Field> fields) {
  if (static_cast<int>(l) < g_level.load(std::memory_order_relaxed)) {
    return;
  }
  std::uint64_t suppressed = 0;
  if (!limiter().admit(l, event, &suppressed)) {
    return;
  }
  std::string line;
  line.reserve(128);
  line.append("ts=");
  append_timestamp(line, system_now_ms());
  line.append(" level=").append(level_name(l));
  line.append(" event=");
  append_quoted(line, event);
  for (const auto& f : fields) {
    line.push_back(' ');
    line.append(f.key).push_back('=');
    if (f.quote) {
      append_quoted(line, f.value);
    } else {
      line.append(f.value);
    }
  }
  if (suppressed > 0) {
    line.append(" suppressed=").append(std::to_string(suppressed));
  }
  line.push_back('\n');
  // One write(2) per line keeps lines whole across threads and processes.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace cocktail::core::log
