#!/usr/bin/env bash
# Size gate (style.md section 9): prints the largest source files and functions and every one
# over the soft limits (600 lines per file, 60 per function), and FAILS (exit 1) for a file over
# 1,000 lines or a function over 150. Functions come from universal-ctags (a real C++ parser:
# braces inside strings and comments do not count). Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v ctags > /dev/null || { echo "size-report: ctags is missing (Debian: universal-ctags)" >&2; exit 1; }
ctags --version 2> /dev/null | grep -q "Universal Ctags" ||
  { echo "size-report: needs Universal Ctags (Debian: universal-ctags)" >&2; exit 1; }

files=$(git ls-files 'src/*' 'include/*' 'shaders/*' 'tests/*' 'examples/*' 'bench/*' 'tools/*' |
  grep -E '\.(cpp|hpp|h|glsl|inc|def)$')
status=0

echo "== largest files (lines; soft limit 600, hard 1000) =="
# shellcheck disable=SC2086
wc -l $files | grep -v ' total$' | sort -rn > /tmp/descent-size-files.$$
head -5 /tmp/descent-size-files.$$
awk '$1 > 600 && $1 <= 1000 { print "  over the soft limit: " $2 " (" $1 " lines)" }' /tmp/descent-size-files.$$
if awk '$1 > 1000 { print "  OVER THE HARD LIMIT: " $2 " (" $1 " lines)"; bad = 1 } END { exit !bad }' \
    /tmp/descent-size-files.$$; then status=1; fi
rm -f /tmp/descent-size-files.$$

echo "== longest functions (lines; soft limit 60, hard 150) =="
cpp=$(echo "$files" | grep -E '\.(cpp|hpp|h)$')
# shellcheck disable=SC2086
ctags --output-format=json --fields=+ne --kinds-C++=f --languages=C++ -f - $cpp 2> /dev/null |
  python3 -c '
import json, sys
rows = []
for line in sys.stdin:
    t = json.loads(line)
    if "end" in t:
        rows.append((t["end"] - t["line"] + 1, t["path"], t["line"], t["name"]))
rows.sort(reverse=True)
for n, path, line, name in rows[:5]:
    print(f"{n:5d} {path}:{line} {name}")
soft = [r for r in rows if 60 < r[0] <= 150]
hard = [r for r in rows if r[0] > 150]
print(f"  {len(soft)} functions over the soft limit")
for n, path, line, name in hard:
    print(f"  OVER THE HARD LIMIT: {path}:{line} {name} ({n} lines)")
sys.exit(1 if hard else 0)
' || status=1
exit $status
