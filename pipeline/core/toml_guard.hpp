// A guard in front of TOML++ 3.3 (Debian's): its parser reaches __builtin_unreachable — undefined behaviour —
// when it tests some non-ASCII characters for whitespace (upstream issue marzer/tomlplusplus#190, fixed after
// 3.3). Found by tests/fuzz/spec_fuzz under UBSan in two places: outside strings and comments (e.g. right after
// a bare key), and in a """ string right after a backslash, including the first character of the line that
// follows a line-ending backslash. Such input is refused before TOML++ sees it.
#pragma once
#include <optional>
#include <string_view>

namespace repro {

struct TextPosition {
  int line = 1, column = 1;  // 1-based; columns count code points, as TOML++'s do
};

struct TomlHazard {
  TextPosition at;
  std::string_view what;  // one line, for "file:line:col: TOML syntax error: <what>"
};

// The first place in the text where TOML++ 3.3 would test a non-ASCII character for whitespace, if any.
std::optional<TomlHazard> toml_parser_hazard(std::string_view toml);

}  // namespace repro
