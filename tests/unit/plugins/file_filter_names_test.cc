// file_filter's reading of a file name as Windows opens it and as a log
// shows it (plugins/file_filter/file_names.cc): invisible and bidi
// characters removed before the extension is taken, full-width forms
// folded, every such character escaped for display.
#include "file_filter/file_names.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sipwarden/utf8.h"

namespace sipwarden::plugins::file_filter {
namespace {

using Extensions = std::vector<std::string>;

TEST(FileFilterNames, CandidateExtensionsOfPlainNames) {
  EXPECT_EQ(candidateExtensions("invoice.pdf.exe"), Extensions{".exe"});
  EXPECT_EQ(candidateExtensions("report.EXE. "), Extensions{".exe"});
  EXPECT_EQ(candidateExtensions("a.exe::$DATA"), (Extensions{".exe::$data", ".exe"}));
  EXPECT_EQ(candidateExtensions(std::string("a.exe\0.jpg", 10)), (Extensions{".jpg", ".exe"}));
  EXPECT_TRUE(candidateExtensions("README").empty());
}

TEST(FileFilterNames, BidiAndInvisibleCharactersAreJudgedRemoved) {
  // RLO: shows as "reportexe.pdf"; the raw reading already ends in .exe.
  EXPECT_EQ(candidateExtensions("report\xE2\x80\xAE" "fdp.exe"), Extensions{".exe"});
  // Hidden inside the extension: the raw reading, then the one without.
  EXPECT_EQ(candidateExtensions("a.ex\xE2\x80\x8B" "e"), (Extensions{".ex\xE2\x80\x8B" "e", ".exe"}));
  EXPECT_EQ(candidateExtensions("a.exe\xC2\xAD"), (Extensions{".exe\xC2\xAD", ".exe"}));
  EXPECT_EQ(candidateExtensions("a.exe\xF3\xA0\x80\x81"), (Extensions{".exe\xF3\xA0\x80\x81", ".exe"}));  // tag
  // %-encoded, as a URL or a selector may carry it.
  EXPECT_EQ(candidateExtensions("a.ex%E2%80%8Be"), (Extensions{".ex\xE2\x80\x8B" "e", ".exe"}));
}

TEST(FileFilterNames, FullWidthFormsAreFoldedInAFurtherReading) {
  EXPECT_EQ(candidateExtensions("x\xEF\xBC\x8E" "exe"), Extensions{".exe"});
  EXPECT_EQ(candidateExtensions("x\xEF\xBD\xA1" "exe"), Extensions{".exe"});
  EXPECT_EQ(candidateExtensions("x\xE3\x80\x82" "EXE\xE3\x80\x80"), Extensions{".exe"});
  // A real dot after the full-width one decides in every reading.
  EXPECT_EQ(candidateExtensions("a\xEF\xBC\x8E" "exe.txt"), Extensions{".txt"});
}

TEST(FileFilterNames, DisplayNameEscapesWhatCannotBeSeen) {
  EXPECT_EQ(displayName("report\xE2\x80\xAE" "fdp.exe"), "report<U+202E>fdp.exe");
  EXPECT_EQ(displayName("a\xE2\x81\xA6" "b\xE2\x81\xA9"), "a<U+2066>b<U+2069>");
  EXPECT_EQ(displayName("a\xEF\xBB\xBF\xC2\xAD\xD8\x9C"), "a<U+FEFF><U+00AD><U+061C>");
  EXPECT_EQ(displayName("a\xF3\xA0\x80\x81"), "a<U+E0001>");
  EXPECT_EQ(displayName("a\r\nb\x7F"), "a__b_");
  EXPECT_EQ(displayName("a\xC2\x85" "b\xE2\x80\xA8"), "a<U+0085>b<U+2028>");
  EXPECT_EQ(displayName("caf\xE9\xFF.txt"), "caf<0xE9><0xFF>.txt");
  EXPECT_EQ(displayName("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC.txt"), "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC.txt");
  EXPECT_EQ(displayName(std::string(300, 'a'), 200), std::string(200, 'a') + "...");
  EXPECT_EQ(displayName("abc", 3), "abc");
}

TEST(FileFilterNames, Utf8Validity) {
  EXPECT_TRUE(utf8::isValid("plain.txt"));
  EXPECT_TRUE(utf8::isValid("caf\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(utf8::isValid("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(utf8::isValid("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(utf8::isValid("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(utf8::isValid("a\xE2\x80"));         // cut short
  EXPECT_FALSE(utf8::isValid("\x80"));
  EXPECT_TRUE(hasInvisibleCharacters("a\xE2\x80\x8D"));
  EXPECT_FALSE(hasInvisibleCharacters("caf\xC3\xA9\xFF"));
}

TEST(FileFilterNames, LinearOnLongNames) {
  std::string name;
  for (int i = 0; i < 100000; ++i) name += "\xE2\x80\xAE\xEF\xBC\x8E";
  name += "exe";
  EXPECT_EQ(candidateExtensions(name).back(), ".exe");
  EXPECT_LE(displayName(name, 64).size(), 64u + 3u);
}

}  // namespace
}  // namespace sipwarden::plugins::file_filter
