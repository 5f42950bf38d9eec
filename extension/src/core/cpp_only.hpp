// Included last by every header of the pure core: the core must compile and be tested
// without a PostgreSQL server, so a PostgreSQL header seen here is a layering mistake.
#pragma once
#if defined(POSTGRES_H)
#error "extension/src/core must not see PostgreSQL headers"
#endif
