// A row mapper names each column once: its SELECT list is the columns in
// order, and it reads each column into its field by the column's kind.
#include "query/row_mapper.h"

#include <gtest/gtest.h>

namespace sipwarden::query {
namespace {

// One row of text cells (nullopt for NULL), as a backend would hand it over.
class OneRow final : public Rows {
 public:
  explicit OneRow(std::vector<std::optional<std::string>> cells) : cells_(std::move(cells)) {}
  bool step() override { return false; }
  std::int64_t integer(int column) const override { return std::stoll(*cells_.at(column)); }
  std::string text(int column) const override { return cells_.at(column).value_or(""); }
  bool null(int column) const override { return !cells_.at(column); }

 private:
  std::vector<std::optional<std::string>> cells_;
};

struct Record {
  std::int64_t id = 0;
  int code = 0;
  bool held = false;
  std::string name;
  std::optional<std::string> original;
  std::optional<std::int64_t> endedMs;
  std::string bytes;
};

// The record a one-column mapper reads from a row holding `cell`.
template <typename Field>
Record readOne(Field Record::*field, std::optional<std::string> cell) {
  return RowMapper<Record>().column("c", field).read(OneRow({std::move(cell)}));
}

TEST(RowMapper, SelectsItsColumnsInOrder) {
  const auto mapper = RowMapper<Record>()
                          .column("r.id", &Record::id)
                          .column("r.held <> 0", &Record::held)
                          .hexColumn("hex(r.bytes)", &Record::bytes);
  EXPECT_EQ(mapper.select(), "r.id, r.held <> 0, hex(r.bytes)");
  const Record r = mapper.read(OneRow({"42", "1", "00FF41"}));
  EXPECT_EQ(r.id, 42);
  EXPECT_TRUE(r.held);
  EXPECT_EQ(r.bytes, std::string("\0\xFF" "A", 3));
}

TEST(RowMapper, ReadsEachKindOfColumn) {
  EXPECT_EQ(readOne(&Record::id, "9007199254740993").id, 9007199254740993);
  EXPECT_EQ(readOne(&Record::code, "486").code, 486);
  EXPECT_TRUE(readOne(&Record::held, "2").held);
  EXPECT_FALSE(readOne(&Record::held, "0").held);
  EXPECT_EQ(readOne(&Record::name, "alice").name, "alice");
  EXPECT_EQ(readOne(&Record::original, "before").original, std::optional<std::string>("before"));
  EXPECT_EQ(readOne(&Record::endedMs, "1700").endedMs, std::optional<std::int64_t>(1700));
}

TEST(RowMapper, NullLeavesOptionalFieldsEmpty) {
  EXPECT_FALSE(readOne(&Record::original, std::nullopt).original);
  EXPECT_EQ(readOne(&Record::original, "").original, std::optional<std::string>(""));  // empty is not NULL
  EXPECT_FALSE(readOne(&Record::endedMs, std::nullopt).endedMs);
}

}  // namespace
}  // namespace sipwarden::query
