#!/usr/bin/env python3
"""Maps the files a build uses to Debian packages and checks them against scripts/install-deps.

Called by tests/bare/packages_check.sh (which builds the trees first); see there for what is
derived and how. Prints "ok packages: ..." / "FAILED packages: ..." lines; exit status 1 on
failure.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import itertools
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--repo", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--listed", required=True)
ap.add_argument("--pgxs", required=True, help="output of make -n -B outreach.so")
ap.add_argument("--cmake", action="append", default=[], help="a CMake build tree (repeatable)")
args = ap.parse_args()

repo = os.path.realpath(args.repo)
scratch = tempfile.mkdtemp(prefix="outreach-packages.")
# file -> (what needs it); the first user found is kept as the example.
used = {}
problems = []
depfile_numbers = itertools.count()


def note(path, user, cwd=None):
    if not path:
        return
    if not os.path.isabs(path):
        path = os.path.join(cwd or repo, path)
    norm = os.path.normpath(path)
    real = os.path.realpath(path)
    for p in (norm, real):
        if p == repo or p.startswith(repo + os.sep) or p.startswith(scratch):
            return   # the project's own files and build trees
    used.setdefault(norm, user)


def rel(path):
    return os.path.relpath(path, repo) if path.startswith(repo + os.sep) else path


def run(argv, cwd):
    return subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def tool(name, user):
    found = shutil.which(name)
    if found:
        note(found, user)


# ---- headers: depfiles --------------------------------------------------------------------
def depfile_paths(text):
    text = text.replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        if ":" not in line:
            continue
        # "target: dep dep ..." (a Windows drive letter cannot occur here)
        deps = line.split(":", 1)[1]
        for tok in re.split(r"(?<!\\)\s+", deps.strip()):
            if tok:
                out.append(tok.replace("\\ ", " "))
    return out


def headers_of(argv, cwd, source, output):
    """argv: a compile command. Uses the depfile the build wrote when it is fresh, else re-runs
    the command with -M (preprocessing only) into a scratch depfile."""
    depfile = None
    if "-MF" in argv or output:
        # CMake's Makefile generator compiles with -MD -MF <object>.d (left out of
        # compile_commands.json): use that depfile when it is not older than the object.
        depfile = os.path.join(cwd, argv[argv.index("-MF") + 1] if "-MF" in argv else output + ".d")
        obj = os.path.join(cwd, output) if output else None
        if not (os.path.exists(depfile) and obj and os.path.exists(obj)
                and os.path.getmtime(depfile) >= os.path.getmtime(obj) - 1):
            depfile = None
    if depfile is None:
        new, skip = [], 0
        for i, a in enumerate(argv):
            if skip:
                skip -= 1
                continue
            if a in ("-MD", "-MMD", "-MP", "-c"):
                continue
            if a in ("-MF", "-MT", "-MQ", "-o"):
                skip = 1
                continue
            new.append(a)
        depfile = os.path.join(scratch, "dep-%d.d" % next(depfile_numbers))
        r = run(new + ["-M", "-MF", depfile, "-o", os.devnull], cwd)
        if r.returncode != 0:
            problems.append("could not derive the headers of %s: %s" % (rel(source), r.stderr.strip()[:300]))
            return
    with open(depfile) as f:
        for p in depfile_paths(f.read()):
            note(p, rel(source), cwd)
    note(argv[0] if os.path.isabs(argv[0]) else (shutil.which(argv[0]) or ""), rel(source), cwd)


# ---- libraries: the linker's trace and ldd ------------------------------------------------------
def link_trace(argv, cwd, label):
    if "-o" not in argv:
        return None
    i = argv.index("-o")
    artefact = os.path.normpath(os.path.join(cwd, argv[i + 1]))
    scratch_out = os.path.join(scratch, "link-" + os.path.basename(artefact))
    new = argv[:i] + ["-o", scratch_out] + argv[i + 2:] + ["-Wl,--trace"]
    r = run(new, cwd)
    if r.returncode != 0:
        problems.append("could not re-run the link of %s: %s" % (label, r.stderr.strip()[-300:]))
        return artefact
    for line in (r.stdout + "\n" + r.stderr).splitlines():
        for p in re.findall(r"(/[^\s()]+)", line):
            if os.path.exists(p):
                note(p, label, cwd)
    # the linker driver and the linker itself
    note(shutil.which(argv[0]) or "", label, cwd)
    ld = run([argv[0], "-print-prog-name=ld"], cwd).stdout.strip()
    if ld:
        note(shutil.which(ld) or ld, label, cwd)
    return artefact


def ldd(artefact, label):
    if not artefact or not os.path.exists(artefact):
        problems.append("built artefact %s is missing" % rel(artefact or label))
        return
    r = run(["ldd", artefact], repo)
    for line in r.stdout.splitlines():
        m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            note(m.group(1), label + " (ldd)")


# ---- PGXS ----------------------------------------------------------------------------------------
with open(args.pgxs) as f:
    for line in f:
        argv = shlex.split(line)
        if not argv:
            continue
        if "-c" in argv and "-o" in argv:
            out = argv[argv.index("-o") + 1]
            src = os.path.join(repo, argv[-1])
            headers_of(argv, repo, src, out)
        elif "-shared" in argv and "-o" in argv:
            art = link_trace(argv, repo, "outreach.so")
            ldd(art, "outreach.so")
tool("make", "the PGXS build")

# ---- CMake trees ----------------------------------------------------------------------------------
PKG_KEYWORDS = {"REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL", "NO_CMAKE_PATH", "NO_CMAKE_ENVIRONMENT_PATH"}
for tree in args.cmake:
    tree = os.path.join(repo, tree)
    tname = rel(tree)
    with open(os.path.join(tree, "compile_commands.json")) as f:
        for e in json.load(f):
            argv = e["arguments"] if "arguments" in e else shlex.split(e["command"])
            out = e.get("output")
            if not out and "-o" in argv:
                out = argv[argv.index("-o") + 1]
            headers_of(argv, e["directory"], e["file"], out)
    for d, _, files in os.walk(tree):
        if "link.txt" not in files or not d.endswith(".dir"):
            continue
        bindir = os.path.dirname(os.path.dirname(d))
        target = os.path.basename(d)[:-len(".dir")]
        with open(os.path.join(d, "link.txt")) as f:
            for line in f:
                argv = shlex.split(line)
                if not argv or os.path.basename(argv[0]) in ("ar", "ranlib", "llvm-ar", "llvm-ranlib") \
                        or "-o" not in argv:
                    continue   # static libraries: archived, not linked
                label = "%s/%s" % (tname, target)
                art = link_trace(argv, bindir, label)
                ldd(art, label)
    # What CMake itself found: package configuration files, libraries, tools, .pc files.
    with open(os.path.join(tree, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"^([A-Za-z0-9_]+):([A-Z]+)=(.*)$", line.rstrip("\n"))
            if not m:
                continue
            key, typ, val = m.groups()
            user = "%s (CMake: %s)" % (tname, key)
            if key.endswith("_DIR") and os.path.isdir(val) and not val.startswith(repo):
                for c in sorted(os.listdir(val)):
                    if c.endswith("Config.cmake") or c.endswith("-config.cmake"):
                        note(os.path.join(val, c), user)
                        break
            elif typ == "FILEPATH" and (key.endswith("_LIBRARY") or key.endswith("_LIBRARY_RELEASE")
                                         or key.startswith("pkgcfg_lib_")) and os.path.isfile(val):
                note(val, user)
            # Not CMAKE_AR, CMAKE_RANLIB or CMAKE_LINKER: with clang, CMake takes llvm-ar and
            # ld.lld when some package put them on the machine and falls back to binutils' ar and
            # ld (which g++ pulls in) otherwise; CMAKE_LINKER is not even on the link lines (the
            # compiler driver links, and its linker is traced above).
            elif key in ("CMAKE_CXX_COMPILER", "CMAKE_C_COMPILER", "CMAKE_MAKE_PROGRAM",
                         "PKG_CONFIG_EXECUTABLE", "CMAKE_COMMAND") and os.path.isfile(val):
                note(val, user)
            elif key.startswith("__pkg_config_arguments_"):
                for mod in val.split(";"):
                    if mod and mod not in PKG_KEYWORDS:
                        mod = re.split(r"[<>=]", mod)[0]
                        r = run(["pkg-config", "--path", mod], repo)
                        if r.returncode == 0 and r.stdout.strip():
                            note(r.stdout.strip(), user)

# ---- files -> packages ----------------------------------------------------------------------------
MERGED = [("/usr/lib/", "/lib/"), ("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"),
          ("/usr/lib64/", "/lib64/"), ("/usr/lib32/", "/lib32/"), ("/usr/libx32/", "/libx32/")]


def forms(path):
    out = []
    bases = [path, os.path.realpath(path)]
    for b in list(bases):   # a relocated copy of Debian's files: /opt/X/usr/... as /usr/...
        i = b.find("/usr/")
        if i > 0:
            bases.append(b[i:])
    for b in bases:
        out.append(b)
        for a, c in MERGED:
            if b.startswith(a):
                out.append(c + b[len(a):])
            elif b.startswith(c):
                out.append(a + b[len(c):])
    seen, uniq = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    return uniq


all_forms = {p: forms(p) for p in used}
queries = sorted({q for fs in all_forms.values() for q in fs})
owner = {}
for i in range(0, len(queries), 500):
    r = subprocess.run(["dpkg-query", "-S"] + queries[i:i + 500], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("diversion by"):
            continue
        m = re.match(r"^(.+?): (/.*)$", line)
        if m:
            pkgs = [p.strip().split(":")[0] for p in m.group(1).split(",")]
            owner[m.group(2)] = pkgs

file_pkgs = {}
for p, fs in all_forms.items():
    for q in fs:
        if q in owner:
            file_pkgs[p] = owner[q]
            break

# ---- what install-deps installs: listed packages and their Depends/Pre-Depends -----------------
fmt = "${binary:Package}\t${db:Status-Abbrev}\t${Provides}\t${Depends}\t${Pre-Depends}\n"
r = subprocess.run(["dpkg-query", "-W", "-f", fmt], stdout=subprocess.PIPE, text=True, check=True)
installed, provides, deps = set(), {}, {}


def names(field):
    groups = []
    for g in field.split(","):
        alts = [re.split(r"[\s(:]", a.strip())[0] for a in g.split("|")]
        alts = [a for a in alts if a]
        if alts:
            groups.append(alts)
    return groups


for line in r.stdout.splitlines():
    parts = line.split("\t")
    if len(parts) < 5 or not parts[1].startswith("ii"):
        continue
    pkg = parts[0].split(":")[0]
    installed.add(pkg)
    for g in names(parts[2]):
        for v in g:
            provides.setdefault(v, set()).add(pkg)
    deps[pkg] = names(parts[3]) + names(parts[4])


def satisfy(alts):
    """The installed packages that satisfy one dependency: its first alternative present."""
    for a in alts:
        if a in installed:
            return [a]
        if a in provides:
            return sorted(provides[a])
    return []


with open(args.listed) as f:
    listed = [l.strip() for l in f if l.strip()]
via = {}   # package -> the nearest listed package it is reached from (breadth first)
queue = []
for root in listed:
    if root not in installed:
        problems.append("%s is listed by scripts/install-deps but not installed" % root)
    elif root not in via:
        via[root] = root
        queue.append(root)
while queue:
    p = queue.pop(0)
    for g in deps.get(p, []):
        for q in satisfy(g):
            if q not in via:
                via[q] = via[p]
                queue.append(q)

# ---- report ----------------------------------------------------------------------------------------
by_pkg = {}
unowned = []
for p in sorted(used):
    pkgs = file_pkgs.get(p)
    if not pkgs:
        unowned.append(p)
        continue
    covered = [q for q in pkgs if q in via]
    key = covered[0] if covered else pkgs[0]
    by_pkg.setdefault(key, (p, used[p], bool(covered)))

with open(os.path.join(args.out, "map.txt"), "w") as f:
    for p in sorted(used):
        f.write("%s\t%s\t%s\n" % (", ".join(file_pkgs.get(p, ["?"])), p, used[p]))

failed = 0
for pkg in sorted(by_pkg):
    path, user, ok = by_pkg[pkg]
    if ok:
        how = "listed" if via[pkg] == pkg else "via " + via[pkg]
        print("ok packages: %s (%s): %s" % (pkg, how, path))
    else:
        failed += 1
        print("FAILED packages: %s is not installed by scripts/install-deps, directly or as a dependency "
              "of a listed package; %s needs %s" % (pkg, user, path))
for p in unowned:
    failed += 1
    print("FAILED packages: no Debian package owns %s (needed by %s): a bare machine will not have it"
          % (p, used[p]))
for msg in problems:
    failed += 1
    print("FAILED packages: " + msg)
shutil.rmtree(scratch, ignore_errors=True)
sys.exit(1 if failed else 0)
