#!/usr/bin/env bash
# Every header of the pure core refuses to compile once a PostgreSQL header has been seen, also
# when it is not the first core header of the file (core/cpp_only.hpp). Each header is
# included after another core header and a stand-in for postgres.h, and must fail with the
# guard's message. Usage: core_headers_refuse_postgres.sh CXX SOURCE_DIR (extension/src).
set -uo pipefail
cxx=$1 src=$2
failed=0
for header in "$src"/core/*.hpp; do
  name=$(basename "$header")
  [ "$name" = cpp_only.hpp ] && continue
  first=error.hpp
  [ "$name" = error.hpp ] && first=civil_date.hpp
  out=$(printf '#include "core/%s"\n#define POSTGRES_H\n#include "core/%s"\n' "$first" "$name" |
        "$cxx" -std=c++17 -fsyntax-only -I"$src" -x c++ - 2>&1)
  if grep -q 'must not see PostgreSQL headers' <<<"$out"; then
    echo "ok $name refuses PostgreSQL headers"
  else
    echo "FAILED $name compiles after a PostgreSQL header (does it end with #include \"cpp_only.hpp\"?)"
    failed=1
  fi
done
exit $failed
