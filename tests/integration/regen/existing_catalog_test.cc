// Existing CocktailDB catalogs as they are: an unmigrated SQLite file read by
// `analytics-regen --once` (read-only, left byte for byte unchanged), and a
// PostgreSQL database shaped like the deployments' (extensions, citext names,
// their triggers and dirty flag) attached with `catalog-admin migrate`,
// written by psql in concurrent transactions and published in commit order.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <simdjson.h>

#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "catalog_backends.h"
#include "cocktail/bus/publisher.h"
#include "cocktail/bus/subscriber.h"
#include "cocktail/catalog/change_log.h"
#include "cocktail/catalog/database.h"
#include "cocktail/catalog/state.h"
#include "cocktail/catalog_service/outbox_publisher.h"
#include "cocktail/snapshot/sha256.h"
#include "cocktail/testing/child_process.h"
#include "cocktail/testing/postgres_server.h"
#include "cocktail/testing/wait.h"
#include "process.h"
#include "prometheus/registry.h"

namespace cocktail {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kBin = COCKTAIL_BIN_DIR;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every file of a directory with the SHA-256 of its bytes.
std::map<std::string, std::string> fingerprint(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    out[e.path().filename()] = snapshot::sha256_hex(slurp(e.path()));
  }
  return out;
}

// The `data` of every analytic of the current generation (metadata differs
// between runs: times, seqs), and the bytes of every other artifact.
std::map<std::string, std::string> analytics_of(const fs::path& analytics) {
  const fs::path gen = analytics / "v1" / "generations" / "1";
  std::map<std::string, std::string> out;
  simdjson::dom::parser parser;
  for (const auto& e : fs::directory_iterator(gen)) {
    const std::string name = e.path().filename();
    if (name == "manifest.json") {
      continue;
    }
    if (e.path().extension() == ".json") {
      simdjson::dom::element doc;
      const std::string text = slurp(e.path());
      if (parser.parse(text).get(doc) != simdjson::SUCCESS) {
        out[name] = "unparsable";
        continue;
      }
      simdjson::dom::element data;
      out[name] = doc["data"].get(data) == simdjson::SUCCESS ? simdjson::minify(data) : text;
    } else {
      out[name] = snapshot::sha256_hex(slurp(e.path()));
    }
  }
  return out;
}

testing::ProcessResult once(const std::string& db, const fs::path& analytics) {
  return testing::run_process(
      {kBin + "/analytics-regen", "--once", "--db", db, "--analytics-path", analytics.string()}, {},
      std::chrono::seconds(300));
}

testing::ProcessResult seed(const std::string& db, int recipes, int ingredients) {
  return testing::run_process({kBin + "/catalog-seed", "--db", db, "--recipes", std::to_string(recipes),
                               "--ingredients", std::to_string(ingredients), "--seed", "11"});
}

// ---------------------------------------------------------------- SQLite

// A CocktailDB file as the older deployments have it: their four catalog
// tables (no COLLATE NOCASE, no change_log, no schema_migrations), their
// other tables, the seeded rows copied in.
void make_legacy_file(const std::string& legacy, const std::string& seeded, bool wal) {
  catalog::testing::RawSql raw(legacy);
  raw.exec(R"sql(
CREATE TABLE ingredients (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT,
  parent_id INTEGER REFERENCES ingredients(id), path TEXT, allow_substitution BOOLEAN NOT NULL DEFAULT 0);
CREATE TABLE units (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, abbreviation TEXT, conversion_to_ml REAL);
CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, instructions TEXT, description TEXT,
  image_url TEXT, source TEXT, source_url TEXT, avg_rating REAL DEFAULT 0, rating_count INTEGER DEFAULT 0);
CREATE TABLE recipe_ingredients (id INTEGER PRIMARY KEY, recipe_id INTEGER NOT NULL REFERENCES recipes(id),
  ingredient_id INTEGER NOT NULL REFERENCES ingredients(id), unit_id INTEGER REFERENCES units(id), amount REAL);
CREATE TABLE ratings (id INTEGER PRIMARY KEY, cognito_user_id TEXT NOT NULL, recipe_id INTEGER, rating INTEGER);
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_by TEXT);
)sql");
  raw.exec("ATTACH '" + seeded + "' AS s");
  raw.exec(R"sql(
BEGIN;
INSERT INTO ingredients SELECT id, name, description, parent_id,
  CASE WHEN id % 7 = 0 THEN NULL ELSE path END, allow_substitution FROM s.ingredients;
INSERT INTO units SELECT id, name, abbreviation, conversion_to_ml FROM s.units;
INSERT INTO recipes SELECT id, name, instructions, description, image_url, source, source_url, 0, 0 FROM s.recipes;
INSERT INTO recipe_ingredients SELECT id, recipe_id, ingredient_id, unit_id, amount FROM s.recipe_ingredients;
INSERT INTO ratings(cognito_user_id, recipe_id, rating) VALUES ('u1', 1, 5);
COMMIT;
DETACH s;
)sql");
  if (wal) {
    raw.exec("PRAGMA journal_mode=WAL");
  }
}

class UnmigratedSqlite : public ::testing::TestWithParam<bool> {};

// Read-only and unchanged: the same bytes, no new file (-wal, -shm,
// -journal) beside it; and the analytics equal those of the migrated copy.
TEST_P(UnmigratedSqlite, OnceReadsItAsItIsAndLeavesItUnchanged) {
  cocktail::testing::TempDir dir("legacy-catalog");
  const std::string seeded = dir.file("seeded.db");
  ASSERT_EQ(seed(seeded, 300, 150).exit_code, 0);
  fs::create_directory(dir.file("legacy"));
  const std::string legacy = dir.file("legacy/cocktaildb.db");
  make_legacy_file(legacy, seeded, GetParam());
  const auto before = fingerprint(dir.file("legacy"));
  ASSERT_EQ(before.size(), 1u) << "the file alone, closed cleanly";

  auto r = once(legacy, dir.file("analytics-legacy"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"catalog_seq\":0"), std::string::npos) << r.out;
  EXPECT_EQ(fingerprint(dir.file("legacy")), before);

  ASSERT_EQ(once(seeded, dir.file("analytics-seeded")).exit_code, 0);
  const auto got = analytics_of(dir.file("analytics-legacy"));
  const auto want = analytics_of(dir.file("analytics-seeded"));
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(got, want) << "paths missing in the file are derived from parent_id";

  // What needs the outbox says what to run (asked with a one-read
  // connection: a long-lived reader of a WAL file creates -wal and -shm, as
  // every SQLite reader does).
  catalog::DatabaseOptions read_only;
  read_only.read_only = true;
  read_only.one_read = true;
  auto db = catalog::Database::open(legacy, read_only);
  try {
    catalog::ChangeLog log(*db);
    FAIL() << "no error for a catalog without change_log";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("catalog-admin migrate --db " + legacy), std::string::npos)
        << e.what();
  }
  db.reset();
  EXPECT_EQ(fingerprint(dir.file("legacy")), before);
}

INSTANTIATE_TEST_SUITE_P(JournalModes, UnmigratedSqlite, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Wal" : "Rollback"; });

// ------------------------------------------------------------ PostgreSQL

// The deployments' schema (docs of the CocktailDB PostgreSQL catalog).
constexpr const char* kDeploymentSchema = R"sql(
CREATE EXTENSION pg_trgm; CREATE EXTENSION citext; CREATE EXTENSION unaccent;
CREATE TABLE ingredients (id serial PRIMARY KEY, name citext NOT NULL UNIQUE, description text,
  parent_id integer REFERENCES ingredients(id), path text, allow_substitution boolean NOT NULL DEFAULT false,
  percent_abv numeric CHECK (percent_abv BETWEEN 0 AND 100), sugar_g_per_l numeric CHECK (sugar_g_per_l BETWEEN 0 AND 1000),
  titratable_acidity_g_per_l numeric CHECK (titratable_acidity_g_per_l BETWEEN 0 AND 100), url text,
  created_by text, created_at timestamp DEFAULT now(), updated_at timestamp DEFAULT now());
CREATE TABLE units (id serial PRIMARY KEY, name text NOT NULL UNIQUE, abbreviation text, conversion_to_ml real);
CREATE TABLE recipes (id serial PRIMARY KEY, name citext NOT NULL UNIQUE, instructions text, description text,
  image_url text, source text, source_url text, avg_rating real DEFAULT 0, rating_count integer DEFAULT 0,
  created_by text, created_at timestamp, updated_at timestamp);
CREATE TABLE ratings (id serial PRIMARY KEY, cognito_user_id text NOT NULL,
  recipe_id integer NOT NULL REFERENCES recipes ON DELETE CASCADE, rating integer CHECK (rating BETWEEN 1 AND 5),
  UNIQUE (cognito_user_id, recipe_id));
CREATE TABLE tags (id serial PRIMARY KEY, name text NOT NULL, created_by text, created_at timestamp);
CREATE TABLE recipe_tags (id serial PRIMARY KEY, recipe_id integer REFERENCES recipes ON DELETE CASCADE,
  tag_id integer REFERENCES tags ON DELETE CASCADE, UNIQUE (recipe_id, tag_id));
CREATE TABLE recipe_ingredients (id serial PRIMARY KEY, recipe_id integer NOT NULL REFERENCES recipes ON DELETE CASCADE,
  ingredient_id integer NOT NULL REFERENCES ingredients ON DELETE RESTRICT,
  unit_id integer REFERENCES units ON DELETE SET NULL, amount real);
CREATE TABLE user_ingredients (id serial PRIMARY KEY, cognito_user_id text NOT NULL,
  ingredient_id integer REFERENCES ingredients ON DELETE CASCADE, added_at timestamp,
  UNIQUE (cognito_user_id, ingredient_id));
CREATE TABLE analytics_refresh_state (id integer PRIMARY KEY, dirty_at timestamp, last_run_at timestamp);
CREATE TABLE recipe_similarity (recipe_id integer PRIMARY KEY REFERENCES recipes ON DELETE CASCADE,
  recipe_name text NOT NULL, neighbors jsonb NOT NULL, created_at timestamp);
CREATE INDEX ON ingredients(parent_id); CREATE INDEX ON ingredients(path);
CREATE INDEX ON recipe_ingredients(recipe_id); CREATE INDEX ON recipe_ingredients(ingredient_id);
CREATE INDEX recipes_name_trgm ON recipes USING gin ((name::text) gin_trgm_ops);
CREATE INDEX ingredients_name_trgm ON ingredients USING gin ((name::text) gin_trgm_ops);
CREATE UNIQUE INDEX tags_public_name ON tags(name) WHERE created_by IS NULL;
CREATE UNIQUE INDEX tags_private_name ON tags(name, created_by) WHERE created_by IS NOT NULL;
INSERT INTO analytics_refresh_state VALUES (1, NULL, NULL);
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at = now(); RETURN NEW; END $$;
CREATE TRIGGER recipes_updated_at BEFORE UPDATE ON recipes FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER ingredients_updated_at BEFORE UPDATE ON ingredients FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE FUNCTION update_recipe_rating() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE rid integer := COALESCE(NEW.recipe_id, OLD.recipe_id);
BEGIN
  UPDATE recipes SET avg_rating = COALESCE((SELECT AVG(rating) FROM ratings WHERE recipe_id = rid), 0),
    rating_count = (SELECT COUNT(*) FROM ratings WHERE recipe_id = rid) WHERE id = rid;
  RETURN NULL;
END $$;
CREATE TRIGGER ratings_insert AFTER INSERT ON ratings FOR EACH ROW EXECUTE FUNCTION update_recipe_rating();
CREATE TRIGGER ratings_update AFTER UPDATE OF rating ON ratings FOR EACH ROW EXECUTE FUNCTION update_recipe_rating();
CREATE TRIGGER ratings_delete AFTER DELETE ON ratings FOR EACH ROW EXECUTE FUNCTION update_recipe_rating();
CREATE FUNCTION mark_analytics_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE analytics_refresh_state SET dirty_at = now() WHERE id = 1; RETURN NULL; END $$;
)sql";

std::string dirty_triggers() {
  std::string sql;
  for (const char* t :
       {"recipes", "ingredients", "recipe_ingredients", "units", "ratings", "tags", "recipe_tags"}) {
    sql += std::string("CREATE TRIGGER ") + t + "_dirty AFTER INSERT OR UPDATE OR DELETE ON " + t +
           " FOR EACH STATEMENT EXECUTE FUNCTION mark_analytics_dirty();\n";
  }
  return sql;
}

std::string number_text(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, end);
}

// Copies a catalog (as load_state reads it) into the deployment's tables.
void load_into(PGconn* pg, const catalog::CatalogState& s) {
  auto copy = [&](const std::string& sql, const std::string& rows) {
    PGresult* r = PQexec(pg, sql.c_str());
    ASSERT_EQ(PQresultStatus(r), PGRES_COPY_IN) << PQerrorMessage(pg);
    PQclear(r);
    ASSERT_EQ(PQputCopyData(pg, rows.data(), static_cast<int>(rows.size())), 1);
    ASSERT_EQ(PQputCopyEnd(pg, nullptr), 1);
    r = PQgetResult(pg);
    ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(pg);
    PQclear(r);
    while ((r = PQgetResult(pg))) {
      PQclear(r);
    }
  };
  auto opt = [](const auto& v) { return v ? std::to_string(*v) : std::string("\\N"); };
  std::string rows;
  for (const auto& i : s.ingredients) {
    rows += std::to_string(i.id) + "\t" + i.name + "\t" + opt(i.parent_id) + "\t" + i.path + "\t" +
            (i.allow_substitution ? "t" : "f") + "\n";
  }
  copy("COPY ingredients(id, name, parent_id, path, allow_substitution) FROM STDIN", rows);
  rows.clear();
  for (const auto& u : s.units) {
    rows += std::to_string(u.id) + "\t" + u.name + "\t" + u.abbreviation + "\t" +
            (u.conversion_to_ml ? number_text(*u.conversion_to_ml) : "\\N") + "\n";
  }
  copy("COPY units(id, name, abbreviation, conversion_to_ml) FROM STDIN", rows);
  rows.clear();
  for (const auto& r : s.recipes) {
    rows += std::to_string(r.id) + "\t" + r.name + "\n";
  }
  copy("COPY recipes(id, name) FROM STDIN", rows);
  rows.clear();
  for (const auto& ri : s.recipe_ingredients) {
    rows += std::to_string(ri.id) + "\t" + std::to_string(ri.recipe_id) + "\t" +
            std::to_string(ri.ingredient_id) + "\t" + opt(ri.unit_id) + "\t" +
            (ri.amount ? number_text(*ri.amount) : "\\N") + "\n";
  }
  copy("COPY recipe_ingredients(id, recipe_id, ingredient_id, unit_id, amount) FROM STDIN", rows);
  for (const char* t : {"ingredients", "units", "recipes", "recipe_ingredients"}) {
    PQclear(PQexec(pg, (std::string("SELECT setval(pg_get_serial_sequence('") + t +
                        "', 'id'), (SELECT MAX(id) FROM " + t + "))")
                           .c_str()));
  }
}

// What the deployment owns: its tables' columns, indexes, triggers (not
// ours), extensions and every row (the dirty flag included).
std::string deployment_fingerprint(const cocktail::testing::PostgresServer& server, const std::string& uri) {
  std::string sql =
      "SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, "
      "ordinal_position) FROM information_schema.columns WHERE table_schema = 'public';"
      "SELECT string_agg(indexdef, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public';"
      "SELECT string_agg(tgrelid::regclass::text || '.' || tgname || ':' || tgenabled::text, ',' ORDER BY "
      "tgrelid::regclass::text, "
      "tgname) FROM pg_trigger WHERE NOT tgisinternal AND tgname <> 'cocktail_change_capture';"
      "SELECT string_agg(extname || extversion, ',' ORDER BY extname) FROM pg_extension;";
  for (const char* t :
       {"ingredients", "units", "recipes", "ratings", "tags", "recipe_tags", "recipe_ingredients",
        "user_ingredients", "analytics_refresh_state", "recipe_similarity"}) {
    sql += std::string("SELECT md5(COALESCE(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ") + t +
           " AS t;";
  }
  return server.psql(uri, sql);
}

struct Published {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bus::CatalogChange> changes;
  std::size_t heartbeats = 0;
  bus::SubscriberHandlers handlers() {
    return {[this](const bus::Event& e) {
              std::lock_guard lock(mu);
              if (auto* c = std::get_if<bus::CatalogChange>(&e)) {
                changes.push_back(*c);
              }
              if (std::holds_alternative<bus::CatalogHeartbeat>(e)) {
                ++heartbeats;
              }
              cv.notify_all();
            },
            [](std::string_view, const core::Error&) {}};
  }
  bool wait(const std::function<bool()>& pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 30s, pred);
  }
};

// An OutboxPublisher on the catalog and a subscriber that has heard it.
class Tail {
 public:
  explicit Tail(const std::string& uri) : bus_(any_port()) {
    catalog_service::OutboxPublisherOptions o;
    // The seed's backlog goes out once the subscriber below has joined (sent
    // at once, it was lost to the slow joiner now and then).
    o.start_delay = 300ms;
    o.heartbeat_interval = 50ms;
    o.poll_interval = 10s;  // notifications wake it, not polling
    bus::SubscriberOptions so;
    so.endpoints = {bus_.endpoint()};
    so.topics = {"catalog."};
    sub_ = std::make_unique<bus::Subscriber>(so, inbox.handlers());
    sub_->start();
    // A subscriber hears nothing until its subscription has reached the
    // publisher: probe until it hears, so that the outbox's first messages
    // (the backlog) are not published to nobody.
    bool heard = false;
    for (int i = 0; i < 600 && !heard; ++i) {
      EXPECT_TRUE(bus_.publish(bus::CatalogHeartbeat{0, 0}).ok());
      std::unique_lock lock(inbox.mu);
      heard = inbox.cv.wait_for(lock, 50ms, [&] { return inbox.heartbeats > 0; });
    }
    EXPECT_TRUE(heard);
    publisher_ =
        std::make_unique<catalog_service::OutboxPublisher>(catalog::Database::open(uri), bus_, registry_, o);
    publisher_->start();
  }
  Published inbox;

 private:
  static bus::PublisherOptions any_port() {
    bus::PublisherOptions o;
    o.endpoint = "tcp://127.0.0.1:0";
    return o;
  }
  prometheus::Registry registry_;
  bus::Publisher bus_;
  std::unique_ptr<catalog_service::OutboxPublisher> publisher_;
  std::unique_ptr<bus::Subscriber> sub_;
};

class DeploymentPostgres : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = cocktail::testing::PostgresServer::shared(&why);
    if (server_ == nullptr) {
      GTEST_SKIP() << why;
    }
  }
  testing::ProcessResult admin(const std::string& uri) {
    return testing::run_process({kBin + "/catalog-admin", "migrate", "--db", uri});
  }
  std::unique_ptr<cocktail::testing::ChildProcess> psql(const std::string& uri, const std::string& sql) {
    return std::make_unique<cocktail::testing::ChildProcess>(
        server_->psql_path(),
        std::vector<std::string>{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql});
  }
  cocktail::testing::PostgresServer* server_ = nullptr;
};

TEST_F(DeploymentPostgres, MigrateAttachesLeavesTheirsAloneAndGivesTheSameAnalytics) {
  cocktail::testing::TempDir dir("deployment");
  const std::string seeded = dir.file("seeded.db");
  ASSERT_EQ(seed(seeded, 300, 150).exit_code, 0);
  catalog::DatabaseOptions read_only;
  read_only.read_only = true;
  const auto state = catalog::load_state(*catalog::Database::open(seeded, read_only));

  const std::string uri = server_->create_database();
  server_->psql(uri, std::string(kDeploymentSchema) + dirty_triggers());
  {
    catalog::testing::RawSql raw(uri);
    load_into(raw.pg(), state);
  }
  ASSERT_NE(server_->psql(uri, "SELECT dirty_at IS NOT NULL FROM analytics_refresh_state"), "f\n");
  const std::string before = deployment_fingerprint(*server_, uri);

  // Services refuse a database not attached yet, and say what to run.
  auto api_db = testing::run_process({kBin + "/catalog-seed", "--db", uri});
  EXPECT_NE(api_db.exit_code, 0);
  EXPECT_NE(api_db.err.find("catalog-admin migrate --db"), std::string::npos) << api_db.err;

  auto migrated = admin(uri);
  ASSERT_EQ(migrated.exit_code, 0) << migrated.out << migrated.err;
  EXPECT_EQ(deployment_fingerprint(*server_, uri), before)
      << "their tables, triggers, flag and rows are untouched";
  EXPECT_EQ(server_->psql(uri, "SELECT COUNT(*) FROM pg_trigger WHERE tgname = 'cocktail_change_capture'"),
            "4\n");

  // Twice: nothing changes at all.
  const std::string dump_args = server_->psql_path().substr(0, server_->psql_path().size() - 4) + "pg_dump";
  // pg_dump's \restrict lines carry a random key per run: left out.
  auto dump = [&] {
    std::istringstream in(testing::run_process({dump_args, "-d", uri}).out);
    std::string out;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("\\restrict", 0) != 0 && line.rfind("\\unrestrict", 0) != 0) {
        out += line + "\n";
      }
    }
    return out;
  };
  const std::string dumped = dump();
  ASSERT_NE(dumped.find("cocktail.change_log"), std::string::npos);
  ASSERT_EQ(admin(uri).exit_code, 0);
  EXPECT_EQ(dump(), dumped);

  // The analytics of the attached database equal those of the SQLite file.
  ASSERT_EQ(once(uri, dir.file("a-pg")).exit_code, 0);
  ASSERT_EQ(once(seeded, dir.file("a-sqlite")).exit_code, 0);
  const auto pg = analytics_of(dir.file("a-pg"));
  EXPECT_FALSE(pg.empty());
  EXPECT_EQ(pg, analytics_of(dir.file("a-sqlite")));

  // Their own writers (psql here), several sessions at once: every change is
  // published once, each transaction's changes together, in commit order.
  const std::string flag_before = server_->psql(uri, "SELECT dirty_at FROM analytics_refresh_state");
  Tail tail(uri);
  constexpr int kSessions = 3;
  constexpr int kTransactions = 4;
  std::vector<std::unique_ptr<cocktail::testing::ChildProcess>> writers;
  for (int s = 1; s <= kSessions; ++s) {
    std::string sql;
    for (int t = 1; t <= kTransactions; ++t) {
      const std::string tag = "S" + std::to_string(s) + "T" + std::to_string(t);
      sql.append("BEGIN; INSERT INTO ingredients(name, path) VALUES ('").append(tag);
      sql.append("', NULL); UPDATE recipes SET instructions = '").append(tag);
      sql.append("' WHERE id = ").append(std::to_string(s)).append("; COMMIT; ");
    }
    writers.push_back(psql(uri, sql));
  }
  for (auto& w : writers) {
    auto status = w->wait_for(60s);
    ASSERT_TRUE(status && status->success()) << w->stderr_text();
  }
  constexpr std::size_t kChanges = std::size_t{2} * kSessions * kTransactions;
  ASSERT_TRUE(tail.inbox.wait([&] { return tail.inbox.changes.size() >= kChanges; }));
  std::this_thread::sleep_for(200ms);  // nothing more may arrive
  std::map<std::int64_t, std::string> names;
  for (std::string_view line :
       {server_->psql(uri, "SELECT id || ' ' || name FROM ingredients WHERE name LIKE 'S_T_'")}) {
    std::istringstream in{std::string(line)};
    std::int64_t id;
    std::string name;
    while (in >> id >> name) {
      names[id] = name;
    }
  }
  std::lock_guard lock(tail.inbox.mu);
  const auto& got = tail.inbox.changes;
  ASSERT_EQ(got.size(), kChanges);
  std::map<int, int> last_t;
  for (std::size_t i = 0; i < got.size(); i += 2) {
    if (i > 0) {
      EXPECT_EQ(got[i].seq, got[i - 1].seq + 1);
    }
    EXPECT_EQ(got[i + 1].seq, got[i].seq + 1);
    ASSERT_EQ(got[i].entity, bus::Entity::kIngredient);
    ASSERT_EQ(got[i].op, bus::Op::kInsert);
    ASSERT_TRUE(names.count(got[i].id));
    const std::string tag = names[got[i].id];
    const int s = tag[1] - '0';
    const int t = tag[3] - '0';
    EXPECT_EQ(got[i + 1].entity, bus::Entity::kRecipe) << "a transaction's changes go out together";
    EXPECT_EQ(got[i + 1].op, bus::Op::kUpdate);
    EXPECT_EQ(got[i + 1].id, s);
    EXPECT_EQ(t, last_t[s] + 1) << "each session's transactions in the order they committed";
    last_t[s] = t;
    names.erase(got[i].id);
  }
  EXPECT_TRUE(names.empty()) << "every change once";
  EXPECT_NE(server_->psql(uri, "SELECT dirty_at FROM analytics_refresh_state"), flag_before)
      << "their dirty flag still works";
}

TEST_F(DeploymentPostgres, RefusesADatabaseItDoesNotRecognise) {
  const std::string uri = server_->create_database();
  server_->psql(uri, "CREATE TABLE invoices (id serial PRIMARY KEY, total numeric)");
  auto r = admin(uri);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not a CocktailDB catalog"), std::string::npos) << r.err;
  EXPECT_EQ(server_->psql(uri, "SELECT COUNT(*) FROM pg_namespace WHERE nspname = 'cocktail'"), "0\n");
}

// A transaction that changed rows first but commits last is published last,
// after a transaction that started later: seqs follow commit order, and the
// late rows are not skipped.
TEST_F(DeploymentPostgres, ALateCommitIsPublishedAfterAnEarlierOneAndNeverSkipped) {
  const std::string uri = server_->create_database();
  ASSERT_EQ(seed(uri, 20, 30).exit_code, 0);
  Tail tail(uri);
  tail.inbox.wait([&] { return !tail.inbox.changes.empty(); });  // the seed's backlog
  std::size_t backlog = 0;
  ASSERT_TRUE(tail.inbox.wait([&] {
    const bool quiet = tail.inbox.changes.size() == backlog;
    backlog = tail.inbox.changes.size();
    return quiet && backlog > 0;
  }));
  catalog::testing::RawSql holder(uri);
  holder.exec("SELECT pg_advisory_lock(71), pg_advisory_lock(72)");
  auto waiting_on = [&](int key) {
    return cocktail::testing::wait_until(
        [&] {
          return holder.scalar("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = " +
                               std::to_string(key) + " AND NOT granted") == 1;
        },
        30s);
  };
  auto a = psql(uri,
                "BEGIN; INSERT INTO ingredients(name) VALUES ('A first'); SELECT pg_advisory_lock(71); "
                "INSERT INTO ingredients(name) VALUES ('A second'); COMMIT;");
  ASSERT_TRUE(waiting_on(71));
  auto b = psql(
      uri, "BEGIN; INSERT INTO ingredients(name) VALUES ('B only'); SELECT pg_advisory_lock(72); COMMIT;");
  ASSERT_TRUE(waiting_on(72));
  holder.exec("SELECT pg_advisory_unlock(72)");
  ASSERT_TRUE(b->wait_for(30s).value_or(cocktail::testing::ExitStatus{}).success()) << b->stderr_text();
  holder.exec("SELECT pg_advisory_unlock(71)");
  ASSERT_TRUE(a->wait_for(30s).value_or(cocktail::testing::ExitStatus{}).success()) << a->stderr_text();

  ASSERT_TRUE(tail.inbox.wait([&] { return tail.inbox.changes.size() >= backlog + 3; }));
  std::vector<std::string> order;
  std::int64_t previous = 0;
  {
    std::lock_guard lock(tail.inbox.mu);
    for (std::size_t i = backlog; i < tail.inbox.changes.size(); ++i) {
      const auto& c = tail.inbox.changes[i];
      EXPECT_GT(c.seq, previous);
      previous = c.seq;
      order.push_back(holder.dump("SELECT name FROM ingredients WHERE id = " + std::to_string(c.id)));
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"B only\n", "A first\n", "A second\n"}));
}

}  // namespace
}  // namespace cocktail
