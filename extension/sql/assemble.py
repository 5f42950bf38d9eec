#!/usr/bin/env python3
"""Builds the extension's scripts for the current version (docs/decisions.md, "One definition
per SQL object"):

  outreach--NEW.sql        every file of current/, in name order: the whole schema, as a fresh
                           install creates it.
  outreach--PREV--NEW.sql  updates/PREV--NEW.sql (hand-written: what changes tables, data and
                           anything the current files no longer define), then every statement of
                           current/ that can run again on an existing schema (below), so that a
                           function, view, trigger, comment or grant is written once, in its
                           concern's file, and an update takes it from there.
  released/*.sql           copied as they are: the frozen scripts of released versions (the
                           first version's install script and every update between released
                           versions), so that any of them can be installed and updated.

Statements run again by an update (they must be idempotent): CREATE OR REPLACE (function,
procedure, aggregate, view, trigger), COMMENT ON, GRANT, REVOKE and DO blocks (checks).
Everything else (types, tables, indexes, policies, operators, data, pg_extension_config_dump)
runs at install only; an update changes it in updates/PREV--NEW.sql.

  assemble.py OUTPUT_DIR VERSION       (VERSION: default_version of outreach.control)
"""
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RERUN = re.compile(r'(CREATE\s+OR\s+REPLACE\s|COMMENT\s+ON\s|GRANT\s|REVOKE\s|DO\s)', re.I)


def statements(text):
    """Splits a script into statements, each with the comment lines before it. Knows quoted
    strings, quoted identifiers, dollar quoting and comments; psql meta-commands end a line."""
    out, start, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('--', i):
            j = text.find('\n', i)
            i = n if j < 0 else j + 1
        elif text.startswith('/*', i):
            i = text.index('*/', i) + 2
        elif c in ("'", '"'):
            j = i + 1
            while True:
                j = text.index(c, j)
                if text.startswith(c * 2, j):
                    j += 2
                    continue
                break
            i = j + 1
        elif c == '$' and (m := re.match(r'\$([A-Za-z_]\w*)?\$', text[i:])):
            i = text.index(m.group(0), i + len(m.group(0))) + len(m.group(0))
        elif c == ';' or (c == '\\' and (i == 0 or text[i - 1] == '\n')):
            j = text.find('\n', i)
            j = n if j < 0 else j + 1
            out.append(text[start:j])
            start = i = j
        else:
            i += 1
    if first_code_line(text[start:]):
        raise SystemExit(f'assemble.py: text after the last statement: {text[start:][:80]!r}')
    return out


def first_code_line(stmt):
    for line in stmt.splitlines():
        s = line.strip()
        if s and not s.startswith('--'):
            return s
    return ''


def main():
    out_dir, version = sys.argv[1], sys.argv[2]
    current = sorted(f for f in os.listdir(os.path.join(HERE, 'current')) if f.endswith('.sql'))
    install, rerun = [], []
    for name in current:
        text = open(os.path.join(HERE, 'current', name), encoding='utf-8').read()
        install.append(text if text.endswith('\n') else text + '\n')
        for stmt in statements(text):
            code = first_code_line(stmt)
            if RERUN.match(code):
                rerun.append(stmt)
    with open(os.path.join(out_dir, f'outreach--{version}.sql'), 'w', encoding='utf-8') as f:
        f.write(''.join(install))

    updates = [f for f in os.listdir(os.path.join(HERE, 'updates')) if f.endswith(f'--{version}.sql')]
    for name in updates:
        prev = name[:-len(f'--{version}.sql')]
        text = open(os.path.join(HERE, 'updates', name), encoding='utf-8').read()
        with open(os.path.join(out_dir, f'outreach--{prev}--{version}.sql'), 'w', encoding='utf-8') as f:
            f.write(f'\\echo Use "ALTER EXTENSION outreach UPDATE TO \'{version}\'" to load this file. \\quit\n\n')
            f.write(text if text.endswith('\n') else text + '\n')
            f.write('\n-- Every function, view, trigger, comment and grant, as extension/sql/current/ defines it.\n')
            f.write(''.join(rerun))
    for name in os.listdir(os.path.join(HERE, 'released')):
        if name.endswith('.sql'):
            shutil.copyfile(os.path.join(HERE, 'released', name), os.path.join(out_dir, name))


if __name__ == '__main__':
    main()
