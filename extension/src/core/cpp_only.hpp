// Included last by every header of the pure core: the core must compile and be tested
// without a PostgreSQL server, so a PostgreSQL header seen here is a layering mistake (one
// included by the core header itself, or by a glue file before it: glue includes the core
// first). No include guard on purpose: each core header checks where it is first included
// (with `#pragma once` here, only the first core header of a file was checked).
// tests/unit/core_headers_refuse_postgres.sh holds every core header to it; the core's .cpp
// files are compiled by CMake without PostgreSQL's include directory.
#if defined(POSTGRES_H) || defined(POSTGRES_FE_H) || defined(C_H)
#error "extension/src/core must not see PostgreSQL headers"
#endif
