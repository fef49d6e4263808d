# Health gate: every exporter of this host answers on its address, and the
# ones that read a service report it up (pg_up 1, pgbouncer_up 1).
# Env: CHECKS (space separated ADDRESS:PORT or ADDRESS:PORT=METRIC), TIMEOUT.
answers() {
  local target=${1%%=*} metric=${1#*=} body
  body=$(curl -fsS --max-time 3 "http://$target/metrics") || { echo "$target: no answer"; return 1; }
  if [ "$metric" != "$1" ] && ! grep -q "^$metric 1\$" <<<"$body"; then
    echo "$target: $(grep "^$metric " <<<"$body" || echo "no $metric")"
    return 1
  fi
}
for check in $CHECKS; do
  wait_until "$TIMEOUT" "exporter ${check%%=*}" answers "$check"
done
echo "exporters answer: $CHECKS"
