#include "cocktail/catalog/stats.h"

#include "cocktail/catalog/schema.h"

namespace cocktail::catalog {

CatalogStats read_stats(Database& db) {
  CatalogStats stats;
  Transaction tx(db, Transaction::Kind::kRead);
  stats.schema_version = schema_version(db);
  std::vector<std::string> names;
  {
    auto st = db.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY name");
    while (st.step()) names.push_back(st.column_text(0));
  }
  for (const auto& name : names) {
    // Table names come from the file's own schema, not from input, and are
    // quoted as identifiers; SQLite cannot bind a table name.
    std::string quoted = "\"";
    for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    quoted += "\"";
    auto st = db.prepare("SELECT COUNT(*) FROM " + quoted);
    stats.tables.emplace_back(name, st.step() ? st.column_int(0) : 0);
  }
  auto has = [&](const char* table) {
    for (const auto& n : names) {
      if (n == table) return true;
    }
    return false;
  };
  if (has("change_log")) {
    auto st = db.prepare(
        "SELECT MAX(COALESCE((SELECT MAX(seq) FROM change_log), 0), "
        "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'change_log'), 0))");
    if (st.step()) stats.catalog_seq = st.column_int(0);
  }
  if (has("outbox_cursor")) {
    auto st = db.prepare("SELECT name, published_seq FROM outbox_cursor ORDER BY name");
    while (st.step()) stats.published_seqs.emplace_back(st.column_text(0), st.column_int(1));
  }
  tx.commit();
  return stats;
}

}  // namespace cocktail::catalog
