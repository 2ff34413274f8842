// catalog-admin: operator commands on a catalog (a SQLite file or a
// PostgreSQL database).
//   migrate  brings the catalog to this program's schema version
//            (idempotent); on PostgreSQL it attaches to an existing
//            CocktailDB database (see docs/catalog.md)
//   stats    prints the row count of every table and the latest change_log seq
// Both print one JSON object on stdout.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <exception>
#include <filesystem>
#include <iostream>

#include "cocktail/catalog/schema.h"
#include "cocktail/catalog/stats.h"
#include "cocktail/core/options.h"

namespace catalog = cocktail::catalog;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

int migrate(const std::string& path, Writer& w) {
  catalog::DatabaseOptions options;
  options.create_if_missing = false;  // a typo must not create an empty catalog
  auto db = catalog::Database::open(path, options);
  int from = catalog::schema_version(*db);
  int to = catalog::migrate(*db);
  w.StartObject();
  w.Key("db");
  w.String(db->path().c_str());  // a URI's password is not printed
  w.Key("from_version");
  w.Int(from);
  w.Key("schema_version");
  w.Int(to);
  w.EndObject();
  return 0;
}

int stats(const std::string& path, Writer& w) {
  catalog::DatabaseOptions options;
  options.read_only = true;
  options.one_read = true;
  auto db = catalog::Database::open(path, options);
  auto s = catalog::read_stats(*db);
  w.StartObject();
  w.Key("db");
  w.String(db->path().c_str());  // a URI's password is not printed
  w.Key("schema_version");
  w.Int(s.schema_version);
  w.Key("catalog_seq");
  w.Int64(s.catalog_seq);
  w.Key("tables");
  w.StartObject();
  for (const auto& [name, rows] : s.tables) {
    w.Key(name.c_str());
    w.Int64(rows);
  }
  w.EndObject();
  w.Key("published_seq");
  w.StartObject();
  for (const auto& [name, seq] : s.published_seqs) {
    w.Key(name.c_str());
    w.Int64(seq);
  }
  w.EndObject();
  w.EndObject();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cocktail::core::Options options("catalog-admin", "Operator commands on a catalog file.");
  options.add_command("migrate", "migrate the file to this program's schema version (idempotent); prints it")
      .add_command("stats", "print the row count of every table and the latest change_log seq as JSON")
      .add_string("--db", "CATALOG_DB", "", "catalog: a SQLite file or a postgresql:// URI (required)");
  options.parse_or_exit(argc, argv);
  if (options.positional().size() != 1) {
    std::cerr << "catalog-admin: give exactly one command, migrate or stats (see catalog-admin --help)\n";
    return 2;
  }
  const std::string command = options.positional().front();
  const std::string path = options.get("--db");
  if (path.empty()) {
    std::cerr << "catalog-admin: --db is required (see catalog-admin --help)\n";
    return 2;
  }
  if (!catalog::Database::is_postgres_location(path) && !std::filesystem::exists(path)) {
    std::cerr << "catalog-admin: no catalog file at '" << path << "'\n";
    return 1;
  }
  try {
    rapidjson::StringBuffer out;
    Writer w(out);
    int rc = command == "migrate" ? migrate(path, w) : stats(path, w);
    std::cout << out.GetString() << "\n";
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "catalog-admin " << command << ": " << e.what() << "\n";
    return 1;
  }
}
