// `repro generate <spec> --show N`: the first N examples of a generated split, decoded by the task's
// "role" meta so keys, values, queries and answers can be checked by eye.
#pragma once
#include <repro/sdk.hpp>

#include <ostream>

namespace repro {

// Examples are taken round-robin over subsets (one of each configuration first).
void show_examples(const sdk::Dataset& d, int64_t count, std::ostream& out);

}  // namespace repro
