#!/usr/bin/env bash
# Every Debian package the build uses is installed by scripts/install-deps (issue 19): a bare
# Debian 12 failed at the daemon's CMake step because libfmt-dev and libboost-dev were not in
# its list, while every machine that ran the suite happened to have them.
#
# What the extension (PGXS), the daemon, the unit tests and the fuzz targets are built from is
# derived, not listed by hand:
#   headers     the compilers' dependency output for every compile command: the depfile a
#               CMake build already wrote (-MD -MF), else the command re-run with -M; the PGXS
#               commands are those `make -n -B outreach.so` prints;
#   libraries   every file the linker opens (each link command re-run with -Wl,--trace into a
#               scratch file: -l flags resolved as the linker resolves them, crt files, linker
#               scripts) and `ldd` of each built artefact;
#   the rest    the compilers and linker, cmake, make, pkg-config, the CMake package
#               configuration files and the pkg-config .pc files the CMake builds found.
# Each file is mapped to its package with `dpkg -S` (tried as given, resolved with realpath, in
# its /lib and /usr/lib forms; a file of a relocated copy, such as /opt/X/usr/include/..., as
# its /usr/... path). A package must be listed by `scripts/install-deps --list` or reached from
# a listed package through the Depends/Pre-Depends of installed packages (install-deps installs
# without recommends).
#
# Output: "ok packages: PKG (listed | via LISTED): FILE" per package, "FAILED packages: ..."
# naming the package and a file that needs it. Exit status 1 on failure. The full file-to-package
# map is left in build/packages/map.txt.
#
# Build trees: reuses what scripts/test built (the PGXS objects, build/outreachd, build/unit,
# build/fuzz), adding compile_commands.json to each CMake tree; builds what is missing.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"

out="$REPO_ROOT/build/packages"
rm -rf "$out"; mkdir -p "$out"
log="$out/build.log"
fail() { echo "FAILED packages: $*"; exit 1; }

# 1. The builds, as scripts/test, the Makefile and tests/fuzz/run.sh configure them.
cd "$REPO_ROOT" || fail "no repository at $REPO_ROOT"
if [ ! -f outreach.so ] || [ ! -x build/outreachd/daemon/outreachd ]; then
  make -j"$JOBS" PG_CONFIG="$PG_CONFIG" >>"$log" 2>&1 || { tail -20 "$log"; fail "make (extension and outreachd) did not build (log: $log)"; }
fi
configure() {  # configure TREE [ENV=VALUE...] -- CMAKE ARGS...: make sure TREE is built and
  # has compile_commands.json. A tree configured once with CMAKE_EXPORT_COMPILE_COMMANDS keeps it
  # in its cache (scripts/test's own cmake runs do not reset it): then only build (a no-op when
  # scripts/test just did; cmake re-runs its configure step itself when a CMakeLists.txt changed).
  local tree=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  if [ ! -f "$tree/compile_commands.json" ] || [ ! -f "$tree/CMakeCache.txt" ]; then
    env "${envs[@]}" cmake -S "$REPO_ROOT" -B "$tree" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@" >>"$log" 2>&1 || return 1
  fi
  cmake --build "$tree" -j"$JOBS" >>"$log" 2>&1
}
configure build/outreachd -- -DCMAKE_BUILD_TYPE=Release -DOUTREACH_TESTS=OFF ||
  { tail -20 "$log"; fail "build/outreachd did not build (log: $log)"; }
configure build/unit -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOUTREACH_DAEMON=OFF ||
  { tail -20 "$log"; fail "build/unit did not build (log: $log)"; }
configure build/fuzz CC=clang CXX=clang++ -- -DOUTREACH_FUZZ=ON ||
  { tail -20 "$log"; fail "build/fuzz did not build (log: $log)"; }

# 2. The PGXS commands: each object's compile command and the link of outreach.so.
make -n -B PG_CONFIG="$PG_CONFIG" outreach.so >"$out/pgxs-commands.txt" 2>>"$log" ||
  fail "make -n -B outreach.so failed (log: $log)"

# 3. Files -> packages -> install-deps.
"$REPO_ROOT/scripts/install-deps" --list >"$out/listed.txt" || fail "scripts/install-deps --list failed"
python3 "$REPO_ROOT/tests/bare/packages_map.py" --repo "$REPO_ROOT" --out "$out" \
  --listed "$out/listed.txt" --pgxs "$out/pgxs-commands.txt" \
  --cmake build/outreachd --cmake build/unit --cmake build/fuzz
