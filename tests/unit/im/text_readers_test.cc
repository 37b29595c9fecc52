// The three small text readers (RTF, text/enriched, HTML) against the ways
// past them a red team found: each case is text a person sees in some
// client that the reader used to lose.
#include <gtest/gtest.h>

#include <string>

#include "im/enriched_text.h"
#include "im/rtf_text.h"
#include "sipwarden/html_text.h"

namespace sipwarden::im {
namespace {

const std::string kLink = "http://evil.com/x";

bool holds(const std::optional<std::string>& text, std::string_view what) {
  return text && text->find(what) != std::string::npos;
}

// ---- RTF -------------------------------------------------------------------

TEST(RtfText, AControlWordUsesUpAUnicodeSkip) {
  // \uc1 (the default): one replacement character follows each \uN, and a
  // control word in that place is the replacement, not a character.
  EXPECT_EQ(rtfText("{\\rtf1\\ansi \\u104\\b ttp://evil.com/x}"), kLink);
  EXPECT_EQ(rtfText("{\\rtf1\\ansi \\u104\\tab ttp://evil.com/x}"), kLink);
  EXPECT_EQ(rtfText("{\\rtf1\\ansi \\u104\\~ttp://evil.com/x}"), kLink);     // a control symbol
  EXPECT_EQ(rtfText("{\\rtf1\\ansi \\u104\\'68ttp://evil.com/x}"), kLink);   // a \'hh escape
  EXPECT_EQ(rtfText("{\\rtf1\\ansi \\uc2\\u104\\b\\i ttp://evil.com/x}"), kLink);
  EXPECT_EQ(rtfText("{\\rtf1\\ansi \\u104?ttp://evil.com/x}"), kLink);       // the usual form still reads
}

TEST(RtfText, AGroupBraceEndsAUnicodeSkip) {
  EXPECT_EQ(rtfText("{\\rtf1\\ansi \\u104{ttp://evil.com/x}}"), kLink);
  EXPECT_EQ(rtfText("{\\rtf1\\ansi {\\uc3\\u104}ttp://evil.com/x}"), kLink);
}

TEST(RtfText, BinaryDataOutsideAHiddenDestinationIsUnreadable) {
  // \binN says the next N bytes are data; where a reader could show them,
  // skipping them could skip the link.
  EXPECT_EQ(rtfText("{\\rtf1\\ansi \\bin20 http://evil.com/x   hi}"), std::nullopt);
  EXPECT_EQ(rtfText("{\\rtf1\\ansi {\\b \\bin5 abcde} " + kLink + "}"), std::nullopt);
  // Inside a picture or object the data is skipped, '}' bytes and all.
  EXPECT_EQ(rtfText("{\\rtf1\\ansi {\\pict\\bin4 }}}}}" + kLink + "}"), kLink);
  EXPECT_EQ(rtfText("{\\rtf1\\ansi {\\*\\objdata\\bin3 {{{}" + kLink + "}"), kLink);
}

TEST(RtfText, AFieldInstructionEndsItsOwnLine) {
  const auto text = rtfText("{\\rtf1\\ansi {\\field{\\*\\fldinst HYPERLINK \"" + kLink +
                            "\"}{\\fldrslt click}} after}");
  EXPECT_EQ(text, "HYPERLINK \"" + kLink + "\"\nclick after");
  // The target without quotes does not run into the word a reader sees.
  EXPECT_EQ(rtfText("{\\rtf1\\ansi {\\field{\\*\\fldinst HYPERLINK " + kLink + "}{\\fldrslt click}}}"),
            "HYPERLINK " + kLink + "\nclick");
  // A group inside the instruction does not break it.
  EXPECT_EQ(rtfText("{\\rtf1\\ansi {\\field{\\*\\fldinst HYPER{LINK} x}{\\fldrslt y}}}"), "HYPERLINK x\ny");
}

TEST(RtfText, HyperlinkShapeAndUnicodeDestinationsAreRead) {
  EXPECT_TRUE(holds(rtfText("{\\rtf1\\ansi {\\*\\hl{\\*\\hlsrc " + kLink + "}}}"), kLink));
  EXPECT_TRUE(holds(rtfText("{\\rtf1\\ansi {\\*\\hl{\\*\\hlloc " + kLink + "}{\\*\\hlfr click}}}"), kLink));
  EXPECT_TRUE(holds(rtfText("{\\rtf1\\ansi {\\shp{\\*\\shpinst{\\shptxt " + kLink + "}}}}"), kLink));
  EXPECT_TRUE(holds(rtfText("{\\rtf1\\ansi {\\*\\shptxt " + kLink + "}}"), kLink));
  EXPECT_TRUE(holds(rtfText("{\\rtf1\\ansi {\\upr{\\*\\ud " + kLink + "}}}"), kLink));
  EXPECT_TRUE(holds(rtfText("{\\rtf1\\ansi {\\*\\upr{\\*\\ud " + kLink + "}}}"), kLink));
  // Tables and unknown {\* } destinations stay hidden.
  EXPECT_EQ(rtfText("{\\rtf1\\ansi {\\fonttbl{\\f0 Arial;}}{\\*\\unknowndest secret}shown}"), "shown");
}

// ---- text/enriched -----------------------------------------------------------

TEST(EnrichedText, ParamContentsFollowTheText) {
  // A client without text/enriched shows the markup, parameters and all.
  EXPECT_EQ(enrichedText("<color><param>" + kLink + "</param>red</color> words"), "red words\n" + kLink);
  EXPECT_EQ(enrichedText("a<x-a><param>one</param></x-a>b<x-b><param>two</param></x-b>"), "ab\none\ntwo");
  // An unclosed parameter runs to the end.
  EXPECT_EQ(enrichedText("a<param>" + kLink), "a\n" + kLink);
}

TEST(EnrichedText, AnUnclosedCommandKeepsTheRestVerbatim) {
  EXPECT_EQ(enrichedText("hi <" + kLink + " more"), "hi <" + kLink + " more");
  EXPECT_EQ(enrichedText("hi <bold>x</bold> <" + kLink + "\r\nmore"), "hi x <" + kLink + "\r\nmore");
}

TEST(EnrichedText, ACommandThatIsNotAPlainNameIsText) {
  EXPECT_EQ(enrichedText("see <x-foo " + kLink + ">here</x-foo>"), "see here\nx-foo " + kLink);
  EXPECT_EQ(enrichedText("<" + kLink + ">"), kLink);
  // Plain names, opening or closing, are formatting only.
  EXPECT_EQ(enrichedText("<bold>a</bold><x-Made-Up-9>b</x-Made-Up-9>"), "ab");
  const std::string sixty(60, 'a');
  EXPECT_EQ(enrichedText("<" + sixty + ">x"), "x");
  EXPECT_EQ(enrichedText("<" + sixty + "b>x"), "x\n" + sixty + "b");
  EXPECT_EQ(enrichedText("<>x"), "x");  // nothing to show
}

// ---- HTML ------------------------------------------------------------------

TEST(HtmlText, ALessThanNotStartingATagIsText) {
  // WHATWG tokenizer: '<' opens a tag only before a letter, '/', '!' or '?'.
  EXPECT_EQ(html::toText("I <3 " + kLink + " <b>ok</b>"), "I <3 " + kLink + " ok");
  EXPECT_EQ(html::toText("a < " + kLink), "a < " + kLink);
  EXPECT_EQ(html::toText("1<2 and 3>2"), "1<2 and 3>2");
  EXPECT_EQ(html::toText("end <"), "end <");
  EXPECT_EQ(html::toText("a<=" + kLink + ">b"), "a<=" + kLink + ">b");
  // Tags, end tags, comments and processing instructions are still markup.
  EXPECT_EQ(html::toText("<p>a</p><!-- c --><?x y?>b<br>c"), "a\nb\nc");
  EXPECT_EQ(html::toText("x </ y> z"), "x  z");
}

}  // namespace
}  // namespace sipwarden::im
