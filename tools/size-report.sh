#!/usr/bin/env bash
# Prints the largest source files and functions so growth stays visible (style.md section 9).
# Soft limits: 600 lines per file, 60 lines per function. Informational: never fails.
cd "$(dirname "$0")/.." || exit 0
echo "== largest files (lines) =="
git ls-files 'src/*' 'include/*' 'shaders/*' 'tests/*' 'examples/*' 'bench/*' 2>/dev/null |
  grep -E '\.(cpp|hpp|glsl)$' | xargs -r wc -l | grep -v ' total$' | sort -rn | head -5
echo "== longest functions (lines, approximate: top-level braces) =="
for f in $(git ls-files 'src/*.cpp' 2>/dev/null); do
  awk -v file="$f" '
    /^[A-Za-z].*\) *(const)? *(noexcept)? *\{ *$/ && !start { start = NR; base = depth }
    { n = gsub(/\{/, "{"); m = gsub(/\}/, "}"); depth += n - m;
      if (start && depth == base) { print NR - start + 1, file ":" start; start = 0 } }' "$f"
done | sort -rn | head -5
exit 0
