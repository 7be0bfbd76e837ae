// A shared library named like a plugin that registers nothing: the loader must say which symbol is missing.
extern "C" int repro_test_unrelated_function() { return 42; }
