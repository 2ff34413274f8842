// Catalog figures per backend (SQLite file or postgresql:// URI), printed as
// one JSON object; tests/bench/postgres.sh runs them on the same catalogs.
//   catalog-backend-bench load --db LOC [--rounds N]
//       load_state() as a regeneration reads it (one read transaction)
//   catalog-backend-bench outside-write --db LOC --sub tcp://... [--writes N]
//       an outside writer's commit (sqlite3 / libpq, as the shell or psql
//       would) until catalog-api publishes it on catalog.change
//   catalog-backend-bench mark-published --db LOC [--cursor catalog-api]
//       moves a publication cursor to the latest seq, so that a catalog-api
//       started next has no backlog to send (a freshly seeded catalog's
//       every row is unpublished)
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cocktail/bus/subscriber.h"
#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/database.h"
#include "cocktail/catalog/state.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace catalog = cocktail::catalog;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0
                   : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

int load(const std::map<std::string, std::string>& f) {
  const std::string db = f.at("--db");
  const int rounds = f.count("--rounds") ? std::stoi(f.at("--rounds")) : 5;
  catalog::DatabaseOptions o;
  o.read_only = true;
  o.create_if_missing = false;
  std::vector<double> ms;
  std::size_t recipes = 0, rows = 0;
  for (int i = 0; i < rounds; ++i) {
    const auto t = Clock::now();
    auto conn = catalog::Database::open(db, o);
    auto state = catalog::load_state(*conn);
    ms.push_back(ms_since(t));
    recipes = state.recipes.size();
    rows = state.recipe_ingredients.size();
  }
  std::printf(
      "{\"bench\":\"load\",\"recipes\":%zu,\"recipe_ingredients\":%zu,\"rounds\":%d,\"min_ms\":%.1f,"
      "\"median_ms\":%.1f}\n",
      recipes, rows, rounds, percentile(ms, 0.0), percentile(ms, 0.5));
  return 0;
}

int outside_write(const std::map<std::string, std::string>& f) {
  const std::string db = f.at("--db");
  const int writes = f.count("--writes") ? std::stoi(f.at("--writes")) : 50;
  std::mutex mu;
  std::condition_variable cv;
  std::int64_t last_unit_seq = 0;
  cocktail::bus::SubscriberOptions so;
  so.endpoints = {f.at("--sub")};
  so.topics = {"catalog.change"};
  cocktail::bus::Subscriber sub(so, {[&](const cocktail::bus::Event& e) {
                                       if (auto* c = std::get_if<cocktail::bus::CatalogChange>(&e);
                                           c && c->entity == cocktail::bus::Entity::kUnit) {
                                         std::lock_guard lock(mu);
                                         last_unit_seq = c->seq;
                                         cv.notify_all();
                                       }
                                     },
                                     [](std::string_view, const cocktail::core::Error&) {}});
  sub.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the subscription reaches the publisher
  PGconn* pg = nullptr;
  sqlite3* lite = nullptr;
  if (catalog::Database::is_postgres_location(db)) {
    pg = PQconnectdb(db.c_str());
  } else {
    sqlite3_open(db.c_str(), &lite);
    sqlite3_busy_timeout(lite, 5000);
  }
  std::vector<double> ms;
  const std::string run = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  for (int i = 0; i < writes; ++i) {
    std::int64_t before;
    {
      std::lock_guard lock(mu);
      before = last_unit_seq;
    }
    const std::string sql = "INSERT INTO units(name) VALUES ('Bench " + run + "-" + std::to_string(i) + "')";
    const auto t = Clock::now();
    if (pg) {
      PQclear(PQexec(pg, sql.c_str()));
    } else {
      sqlite3_exec(lite, sql.c_str(), nullptr, nullptr, nullptr);
    }
    std::unique_lock lock(mu);
    if (cv.wait_for(lock, std::chrono::seconds(5), [&] { return last_unit_seq > before; })) {
      ms.push_back(ms_since(t));
    }
  }
  if (pg) {
    PQfinish(pg);
  }
  if (lite) {
    sqlite3_close(lite);
  }
  std::printf(
      "{\"bench\":\"outside_write\",\"writes\":%d,\"published\":%zu,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
      "\"max_ms\":%.2f}\n",
      writes, ms.size(), percentile(ms, 0.5), percentile(ms, 0.99), percentile(ms, 1.0));
  return ms.size() == static_cast<std::size_t>(writes) ? 0 : 1;
}

int mark_published(const std::map<std::string, std::string>& f) {
  catalog::DatabaseOptions o;
  o.create_if_missing = false;
  auto conn = catalog::Database::open(f.at("--db"), o);
  catalog::ChangeLog log(*conn);
  const std::string cursor = f.count("--cursor") ? f.at("--cursor") : "catalog-api";
  const std::int64_t seq = log.latest_seq();
  log.mark_published(cursor, seq);
  std::printf("{\"bench\":\"mark_published\",\"cursor\":\"%s\",\"seq\":%lld}\n", cursor.c_str(),
              static_cast<long long>(seq));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: catalog-backend-bench load|outside-write|mark-published --db LOC [...]\n");
    return 2;
  }
  std::map<std::string, std::string> f;
  for (int i = 2; i + 1 < argc; i += 2) {
    f[argv[i]] = argv[i + 1];
  }
  const std::string cmd = argv[1];
  if (cmd == "load") {
    return load(f);
  }
  if (cmd == "outside-write") {
    return outside_write(f);
  }
  if (cmd == "mark-published") {
    return mark_published(f);
  }
  std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
  return 2;
}
