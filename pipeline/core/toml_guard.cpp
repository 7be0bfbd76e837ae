#include "toml_guard.hpp"

namespace repro {

std::optional<TextPosition> non_ascii_outside_strings(std::string_view s) {
  enum class In { Code, Comment, Basic, Literal, MultiBasic, MultiLiteral } in = In::Code;
  TextPosition pos;
  const auto starts = [&](size_t i, std::string_view d) { return s.substr(i, d.size()) == d; };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      ++pos.line, pos.column = 1;
      if (in == In::Comment || in == In::Basic || in == In::Literal) in = In::Code;  // an unclosed string: TOML++ says so
      continue;
    }
    if (in == In::Code && u >= 0x80) return pos;
    if ((u & 0xC0) != 0x80) ++pos.column;  // not a UTF-8 continuation byte
    // A closing """ or ''' may be followed by up to two more quotes, which belong to the string.
    const auto close_multi = [&](char q) {
      i += 2;
      for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] == q; ++k) ++i, ++pos.column;
      pos.column += 2;
      in = In::Code;
    };
    switch (in) {
      case In::Code:
        if (c == '#') in = In::Comment;
        else if (starts(i, "\"\"\"")) in = In::MultiBasic, i += 2, pos.column += 2;
        else if (starts(i, "'''")) in = In::MultiLiteral, i += 2, pos.column += 2;
        else if (c == '"') in = In::Basic;
        else if (c == '\'') in = In::Literal;
        break;
      case In::Basic:
      case In::MultiBasic:
        if (c == '\\' && i + 1 < s.size() && s[i + 1] != '\n') ++i, ++pos.column;  // an escaped character
        else if (in == In::Basic && c == '"') in = In::Code;
        else if (in == In::MultiBasic && starts(i, "\"\"\"")) close_multi('"');
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
