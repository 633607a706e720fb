#!/bin/sh
# Builds and runs the kube9 Lua guard harness (C only; not part of SwiftPM; needs gcc and
# liblua5.4-dev). Arguments go to the harness:
#   --seed N --cases N            generated differential corpus (default 40000 subject/pattern pairs)
#   --only diff|api|hostile|bench one part only (bench: speed, not run by default)
#   --filter NAME                 hostile scripts whose file name contains NAME
#   --watchdog SECONDS            per-script watchdog (default 10)
#   --verbose                     print every differential case
# run.sh --baseline [args]: the same hostile scripts against the sandbox WITHOUT the guards
# (expect failures and hangs: that is what the guards are for).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${TMPDIR:-/tmp}/kube9-lua-guard-harness
guards="$root/Sources/CLuaShims/kube9_lua_guard.c"
if [ "${1:-}" = "--baseline" ]; then
    shift
    out=$out-baseline
    guards="$here/no_guards.c"
    set -- --only hostile --watchdog 5 "$@"
fi
gcc -std=gnu11 -O2 -g -Wall -Wextra -Wshadow \
    -I"$root/Sources/CLuaShims/include" -I/usr/include/lua5.4 \
    "$here/harness.c" "$root/Sources/CLuaShims/kube9_lua.c" "$guards" \
    -o "$out" -llua5.4 -lm
cd "$root"
exec "$out" --hostile "$root/Tests/Kube9LuaTests/Hostile" "$@"
