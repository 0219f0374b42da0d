#!/bin/sh
# Fails when a production library given as an argument carries simulator code (SPEC §9.5: the
# simulator lives in zlh_sim alone): an object file named sim_*, or a symbol of namespace zlh::sim.
status=0
for lib in "$@"; do
  objects=$(ar t "$lib" | grep '^sim_')
  symbols=$(nm -C "$lib" | grep 'zlh::sim::' | head -5)
  if [ -n "$objects$symbols" ]; then
    echo "$lib carries simulator code:"
    [ -n "$objects" ] && echo "$objects"
    [ -n "$symbols" ] && echo "$symbols"
    status=1
  fi
done
[ "$status" = 0 ] && echo "no simulator code in: $*"
exit "$status"
