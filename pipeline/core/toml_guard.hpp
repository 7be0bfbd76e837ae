// A guard in front of TOML++ 3.3 (Debian's): its parser reaches __builtin_unreachable — undefined behaviour —
// when it tests some non-ASCII characters for whitespace outside strings and comments (e.g. right after a bare
// key; found by tests/fuzz/spec_fuzz under UBSan). TOML allows non-ASCII only in strings and comments, so such
// input is refused before TOML++ sees it.
#pragma once
#include <optional>
#include <string_view>

namespace repro {

struct TextPosition {
  int line = 1, column = 1;  // 1-based; columns count code points, as TOML++'s do
};

// The first non-ASCII byte outside a TOML string or comment, if any.
std::optional<TextPosition> non_ascii_outside_strings(std::string_view toml);

}  // namespace repro
