#!/bin/sh
# Banned functions and module boundaries (STYLE.md), and the layer order
# of DESIGN.md "Layout" (tests/lint_layers.py).
set -u
cd "$(dirname "$0")/.." || exit 2
status=0
src=$(git ls-files 'reconciler/*.c' 'reconciler/*.h' 'renderers/*.c' 'renderers/*.h' \
    'providers/*.c' 'providers/*.h' 'bench/*.c' 2>/dev/null)
# The fuzz targets read hostile bytes too: the same banned list.
fuzz=$(git ls-files 'tests/fuzz/*.c' 'tests/fuzz/*.h' 2>/dev/null)
bad=$(grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|system|popen)\s*\(' $src $fuzz |
    grep -vE '^\S+:[0-9]+:\s*(\*|/\*)' | grep -vE '(snprintf|vsnprintf|asprintf)\s*\(' || true)
if [ -n "$bad" ]; then
	echo "lint: banned functions:"; echo "$bad"; status=1
fi
git2=$(grep -lE '#include <git2' $src | grep -v '^reconciler/git/repo.c$' | grep -v '^bench/' || true)
if [ -n "$git2" ]; then
	echo "lint: only reconciler/git/repo.c may include <git2.h>: $git2"; status=1
fi
curl=$(grep -lE '#include <curl/' $src | grep -v '^providers/' || true)
if [ -n "$curl" ]; then
	echo "lint: only providers may include <curl/curl.h>: $curl"; status=1
fi
io=$(grep -nE '\b(fopen|open|printf|fprintf|puts|write)\s*\(' renderers/*.c || true)
if [ -n "$io" ]; then
	echo "lint: renderers are pure (no I/O):"; echo "$io"; status=1
fi
# The layer order, include cycles, unique basenames (tests/lint_layers.py).
python3 tests/lint_layers.py || status=1
[ $status -eq 0 ] && echo "lint: ok"
exit $status
