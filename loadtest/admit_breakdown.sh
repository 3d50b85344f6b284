#!/usr/bin/env bash
# Where the admit tick's time goes in a line of a million, step by step, inside
# Redis: puts PEOPLE (1,000,000) in a line on keys of its own, then runs an
# instrumented copy of lua/admit.lua (Redis TIME read between its steps) once to
# fill the active set a little and then TICKS (20) times, 100 ms apart, at
# 10,000 a second (about 1,000 a tick); prints Redis's microseconds per 1,000
# admitted for each step. `loadtest/million.sh` measures the whole tick as the
# server sees it; this says which step of it costs what.
#
#   loadtest/admit_breakdown.sh
#   PEOPLE=100000 TICKS=50 loadtest/admit_breakdown.sh
#
# Needs redis-cli and python3; uses the Redis at REDIS_HOST (127.0.0.1) and
# deletes its keys (prefix lineup-admit-breakdown:) when done.
set -euo pipefail
cd "$(dirname "$0")/.."

PEOPLE=${PEOPLE:-1000000}
TICKS=${TICKS:-20}
R="redis-cli -h ${REDIS_HOST:-127.0.0.1}"
p="lineup-admit-breakdown:{b}"
keys="$p:wait $p:active $p:jti $p:cfg $p:bucket $p:user-res $p:idle $p:line-stats $p:draw $p:drawn $p:holders $p:deadlines $p:sold $p:sold-loaded $p:held"
script=$(mktemp)
trap '$R del $keys >/dev/null; rm -f "$script"' EXIT

# The instrumented copy: T('step') after each step records its microseconds,
# and the script returns those instead of its reply.
python3 - "$script" <<'EOF'
import sys
lib = open('lua/_lib.lua').read()
admit = open('lua/admit.lua').read()
steps = [
    ("local ended = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms)", "settings"),
    ("-- Free seats: total - sold - held of every date on sale.", "prunes_and_idle_sweep"),
    ("local admitted = 0\nif batch > 0 then", "free_seats_and_shoppers"),
    ("  admitted = #popped / 2\n", "take_from_head"),
    ("  tokens = tokens - admitted\n", "write_active_jti_deadlines"),
    ("return {admitted, #ended", "rate_and_rest"),
]
clock = ("local __t = {} local function __now() local t = redis.call('TIME') "
         "return tonumber(t[1]) * 1e6 + tonumber(t[2]) end local __last = __now()\n"
         "local function T(step) local n = __now() __t[#__t + 1] = step .. '=' .. (n - __last) __last = n end\n")
for marker, step in steps:
    if marker not in admit:
        sys.exit(f"lua/admit.lua changed: update the step marker {marker!r}")
    admit = admit.replace(marker, f"T('{step}')\n" + marker, 1)
admit = admit.replace("return {admitted, #ended",
                      "do __t[#__t + 1] = 'admitted=' .. admitted return __t end\nreturn {admitted, #ended", 1)
open(sys.argv[1], 'w').write(lib + "\n" + clock + admit)
EOF

$R del $keys >/dev/null
echo "putting $PEOPLE people in line..."
$R eval "for i = 1, tonumber(ARGV[1]) do redis.call('ZADD', KEYS[1], 1796000000000000 + i, string.format('%08x-0000-4000-8000-%012d', i, i)) end redis.call('SET', KEYS[2], 1) redis.call('SET', KEYS[3], 1) return 1" \
  3 "$p:wait" "$p:drawn" "$p:sold-loaded" "$PEOPLE" >/dev/null
# ARGV: admit 10,000/s, max_active 1,000,000, active 300 s, not paused, idle 300 s,
# seat factor 100, poll budget 20,000, hold 300 s; one date of 1,000 seats.
tick() { $R --raw eval "$(cat "$script")" 15 $keys 10000 1000000 300000 0 300000 100 20000 300000 1000 | paste -sd'|'; }
tick >/dev/null
for _ in $(seq 1 "$TICKS"); do sleep 0.1; tick; done | python3 -c "
import sys
total = {}
for line in sys.stdin:
    for pair in line.strip().split('|'):
        step, us = pair.split('=')
        total[step] = total.get(step, 0) + float(us)
admitted = total.pop('admitted')
print(f'admit.lua in a line of $PEOPLE, $TICKS ticks, {admitted:.0f} admitted: Redis microseconds per 1,000 admitted')
for step, us in total.items():
    print(f'  {step:28} {us * 1000 / admitted:8.0f}')
print(f'  {\"all\":28} {sum(total.values()) * 1000 / admitted:8.0f}')
"
