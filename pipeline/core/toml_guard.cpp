#include "toml_guard.hpp"

namespace repro {

namespace {
bool space_or_break(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
}  // namespace

std::optional<TomlHazard> toml_parser_hazard(std::string_view s) {
  enum class In { Code, Comment, Basic, Literal, MultiBasic, MultiLiteral } in = In::Code;
  // In a """ string after a backslash that is followed by whitespace or a non-ASCII character: TOML++ tests each
  // character for whitespace until the first that is not (a line-ending backslash skips line breaks too).
  bool after_backslash = false;
  TextPosition pos;
  const auto starts = [&](size_t i, std::string_view d) { return s.substr(i, d.size()) == d; };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (after_backslash && !space_or_break(c)) {
      if (u >= 0x80)
        return TomlHazard{pos, "a non-ASCII character right after a backslash (or a line-ending backslash) in a "
                               "\"\"\" string, which TOML++ 3.3 cannot parse safely; write it as \\uXXXX"};
      after_backslash = false;
    }
    if (c == '\n') {
      ++pos.line, pos.column = 1;
      if (in == In::Comment || in == In::Basic || in == In::Literal) in = In::Code;  // an unclosed string: TOML++ says so
      continue;
    }
    if (in == In::Code && u >= 0x80) return TomlHazard{pos, "a non-ASCII character outside a string or comment"};
    if ((u & 0xC0) != 0x80) ++pos.column;  // not a UTF-8 continuation byte
    if (after_backslash) continue;
    // A closing """ or ''' may be followed by up to two more quotes, which belong to the string.
    const auto close_multi = [&](char q) {
      i += 2;
      for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] == q; ++k) ++i, ++pos.column;
      pos.column += 2;
      in = In::Code;
    };
    const auto next_is = [&](auto pred) { return i + 1 < s.size() && pred(s[i + 1]); };
    switch (in) {
      case In::Code:
        if (c == '#') in = In::Comment;
        else if (starts(i, "\"\"\"")) in = In::MultiBasic, i += 2, pos.column += 2;
        else if (starts(i, "'''")) in = In::MultiLiteral, i += 2, pos.column += 2;
        else if (c == '"') in = In::Basic;
        else if (c == '\'') in = In::Literal;
        break;
      case In::Basic:
        if (c == '\\' && next_is([](char n) { return n != '\n'; })) ++i, ++pos.column;  // an escaped character
        else if (c == '"') in = In::Code;
        break;
      case In::MultiBasic:
        if (c == '\\' && next_is([](char n) { return space_or_break(n) || static_cast<unsigned char>(n) >= 0x80; }))
          after_backslash = true;
        else if (c == '\\' && i + 1 < s.size()) ++i, ++pos.column;  // an escaped character
        else if (starts(i, "\"\"\"")) close_multi('"');
        break;
      case In::Literal:
        if (c == '\'') in = In::Code;
        break;
      case In::MultiLiteral:
        if (starts(i, "'''")) close_multi('\'');
        break;
      case In::Comment:
        break;
    }
  }
  return std::nullopt;
}

}  // namespace repro
