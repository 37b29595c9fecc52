#pragma once
// How one record type is read from the archive: each column is named once,
// beside the field it fills, so a query's SELECT list and the reading of its
// rows come from the same list and cannot drift apart by position. Both
// backends hand their rows over as query::Rows, so one mapper serves both.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "archive/hash_chain.h"
#include "query/connection.h"

namespace sipwarden::query {

template <class Record>
class RowMapper {
 public:
  // Called while the mapper is built: `sql` is the column's expression in
  // the SELECT list (read as an integer, text, or NULL), `field` where it goes.
  RowMapper& column(std::string sql, std::int64_t Record::*field) {
    return add(std::move(sql), [field](const Rows& row, int c, Record& r) { r.*field = row.integer(c); });
  }
  RowMapper& column(std::string sql, int Record::*field) {
    return add(std::move(sql),
               [field](const Rows& row, int c, Record& r) { r.*field = static_cast<int>(row.integer(c)); });
  }
  // A flag: any integer but 0 is true.
  RowMapper& column(std::string sql, bool Record::*field) {
    return add(std::move(sql), [field](const Rows& row, int c, Record& r) { r.*field = row.integer(c) != 0; });
  }
  RowMapper& column(std::string sql, std::string Record::*field) {
    return add(std::move(sql), [field](const Rows& row, int c, Record& r) { r.*field = row.text(c); });
  }
  // NULL leaves the field empty (nullopt).
  RowMapper& column(std::string sql, std::optional<std::int64_t> Record::*field) {
    return add(std::move(sql), [field](const Rows& row, int c, Record& r) { r.*field = row.optionalInteger(c); });
  }
  RowMapper& column(std::string sql, std::optional<std::string> Record::*field) {
    return add(std::move(sql), [field](const Rows& row, int c, Record& r) {
      if (!row.null(c)) r.*field = row.text(c);
    });
  }
  // Bytes that travel as hex text (so that both backends hand them over as
  // text, NULs and all), decoded into the field.
  RowMapper& hexColumn(std::string sql, std::string Record::*field) {
    return add(std::move(sql), [field](const Rows& row, int c, Record& r) { r.*field = archive::fromHex(row.text(c)); });
  }

  // The SELECT list: every column's expression, in order, comma-separated.
  std::string select() const {
    std::string out;
    for (const auto& column : columns_) out += (out.empty() ? "" : ", ") + column.sql;
    return out;
  }
  // Called for each row of a statement that selected select().
  Record read(const Rows& row) const {
    Record record;
    for (std::size_t i = 0; i < columns_.size(); ++i) columns_[i].read(row, static_cast<int>(i), record);
    return record;
  }

 private:
  struct Column {
    std::string sql;
    std::function<void(const Rows&, int, Record&)> read;
  };
  RowMapper& add(std::string sql, std::function<void(const Rows&, int, Record&)> read) {
    columns_.push_back({std::move(sql), std::move(read)});
    return *this;
  }
  std::vector<Column> columns_;
};

}  // namespace sipwarden::query
