# pg_outreach, the way a DBA builds any extension:
#   make && make install      build the extension (C++17, PGXS) and install it
#   make installcheck         run the pg_regress suites in sql/ against a running server
# The unit tests, fuzz targets and benchmarks are built by CMakeLists.txt (scripts/test runs all).

PG_CONFIG ?= pg_config

EXTVERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" extension/outreach.control)
# The install script of this version and the update to it are assembled from the current
# sources (one file per concern) and the hand-written update; released versions' scripts are
# frozen copies (extension/sql/assemble.py says how).
SQL_SOURCES := $(wildcard extension/sql/current/*.sql extension/sql/updates/*.sql extension/sql/released/*.sql)
SQL_SCRIPTS := extension/outreach--$(EXTVERSION).sql \
  $(patsubst extension/sql/updates/%.sql,extension/outreach--%.sql,$(wildcard extension/sql/updates/*--$(EXTVERSION).sql)) \
  $(patsubst extension/sql/released/%,extension/%,$(wildcard extension/sql/released/*.sql))

MODULE_big = outreach
OBJS = $(patsubst %.cpp,%.o,$(sort $(wildcard extension/src/core/*.cpp extension/src/pg/*.cpp)))

# Without EXTENSION set, PGXS would look for the control file at the top; MODULEDIR keeps the
# install location (share/extension) while the control file stays in extension/.
MODULEDIR = extension
DATA = extension/outreach.control
DATA_built = $(sort $(SQL_SCRIPTS))
EXTRA_CLEAN = extension/outreach--*.sql extension/.sql-stamp

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --encoding=UTF8

# PostgreSQL's headers are C: seen as system headers, their C-isms (register, ...) do not fail -Werror.
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server)
PG_CXXFLAGS = -std=c++17 -Wextra -Werror -Wno-missing-field-initializers -Wno-unused-parameter
SHLIB_LINK = -lutf8proc -lcrypto -lstdc++

# JIT bitcode is not built: PostgreSQL's clang would have to parse our C++17, and these
# functions gain little from inlining into JIT-compiled expressions. Set before PGXS reads it.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The scripts are assembled by extension/sql/assemble.py.
$(SQL_SCRIPTS): extension/.sql-stamp
extension/.sql-stamp: $(SQL_SOURCES) extension/sql/assemble.py extension/outreach.control
	python3 extension/sql/assemble.py extension $(EXTVERSION)
	touch $@

# The daemon, outreachd (C++20, Boost.Asio, libpq), is built with CMake by the same `make` and
# installed by `make install` beside PostgreSQL's programs (pg_config --bindir); a DBA may
# choose another place with `make install DAEMON_BINDIR=/usr/local/bin`.
# WITH_OUTREACHD=no builds the extension alone (the Debian packaging builds the daemon once, not
# for every PostgreSQL version).
OUTREACHD_BUILD ?= build/outreachd
DAEMON_BINDIR ?= $(shell $(PG_CONFIG) --bindir)
WITH_OUTREACHD ?= yes
.PHONY: outreachd install-outreachd clean-outreachd
ifeq ($(WITH_OUTREACHD),yes)
all: outreachd
install: install-outreachd
clean: clean-outreachd
endif
# (The + lets CMake's make share this make's job slots: without it `make -j2` built the daemon
# one file at a time.)
outreachd:
	@mkdir -p $(OUTREACHD_BUILD)
	@cmake -S . -B $(OUTREACHD_BUILD) -DCMAKE_BUILD_TYPE=Release -DOUTREACH_TESTS=OFF >$(OUTREACHD_BUILD)/cmake.log 2>&1 || \
	  { cat $(OUTREACHD_BUILD)/cmake.log; exit 1; }
	+cmake --build $(OUTREACHD_BUILD) --target outreachd
install-outreachd: outreachd
	install -d '$(DESTDIR)$(DAEMON_BINDIR)'
	install -m 755 $(OUTREACHD_BUILD)/daemon/outreachd '$(DESTDIR)$(DAEMON_BINDIR)/outreachd'
clean-outreachd:
	rm -rf $(OUTREACHD_BUILD)

# PGXS tracks no header dependencies: an object is rebuilt when any header of the extension
# changes (a stale object built against an older class layout corrupts memory at run time).
$(OBJS): $(wildcard extension/src/core/*.hpp extension/src/pg/*.hpp)
