#include "cocktail/catalog/stats.h"

#include "backend.h"
#include "cocktail/catalog/schema.h"

namespace cocktail::catalog {

CatalogStats read_stats(Database& db) {
  CatalogStats stats;
  const bool pg = db.backend() == Backend::kPostgres;
  Transaction tx(db, Transaction::Kind::kRead);
  stats.schema_version = schema_version(db);
  std::vector<std::string> names;
  std::vector<std::string> quoted;  // as identifiers, schema-qualified where needed
  {
    // PostgreSQL: the tables of the catalog's schema and this program's own
    // (named cocktail.<table>).
    auto st = db.prepare(Dialect{
        "SELECT '', name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY name",
        "SELECT CASE WHEN schemaname = 'cocktail' THEN 'cocktail' ELSE '' END AS schema, tablename FROM "
        "pg_catalog.pg_tables WHERE schemaname IN (current_schema(), 'cocktail') ORDER BY 1, 2"}
                             .of(db));
    // Names come from the catalog's own schema, not from input, and are
    // quoted as identifiers; a table name cannot be bound.
    auto quote = [](const std::string& name) {
      std::string out = "\"";
      for (char c : name) {
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
      }
      return out + "\"";
    };
    while (st.step()) {
      const std::string schema = st.column_text(0);
      const std::string table = st.column_text(1);
      names.push_back(schema.empty() ? table : std::string(schema).append(".").append(table));
      quoted.push_back(schema.empty() ? quote(table) : quote(schema).append(".").append(quote(table)));
    }
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto st = db.prepare("SELECT COUNT(*) FROM " + quoted[i]);
    stats.tables.emplace_back(names[i], st.step() ? st.column_int(0) : 0);
  }
  auto has = [&](const char* table) {
    for (const auto& n : names) {
      if (n == table) {
        return true;
      }
    }
    return false;
  };
  if (has(pg ? "cocktail.change_log" : "change_log")) {
    auto st = db.prepare(kLatestSeq.of(db));
    if (st.step()) {
      stats.catalog_seq = st.column_int(0);
    }
  }
  if (has(pg ? "cocktail.outbox_cursor" : "outbox_cursor")) {
    auto st = db.prepare(Dialect{"SELECT name, published_seq FROM outbox_cursor ORDER BY name",
                                 "SELECT name, published_seq FROM cocktail.outbox_cursor ORDER BY name"}
                             .of(db));
    while (st.step()) {
      stats.published_seqs.emplace_back(st.column_text(0), st.column_int(1));
    }
  }
  tx.commit();
  return stats;
}

}  // namespace cocktail::catalog
