# After the rolling restart: patronictl list and every other reader of the
# DCS see a member's state as of its last HA loop. Each member's loop is
# woken (a PATCH /config that changes nothing; see wait-patroni.sh) until
# the DCS shows no pending restart either, bounded by a loop.
# stdin: a curl config line with the REST API credentials.
# Env: MEMBER_URLS (space separated), LOOP_WAIT; fact CURL_TLS.
IFS= read -r auth
deadline=$(($(date +%s) + LOOP_WAIT + 5))
while :; do
  for u in $MEMBER_URLS; do
    printf '{"pulumi_patroni_wakeup": null}\n' | curl -fsS -K "$CURL_TLS" --max-time 3 -K <(printf '%s\n' "$auth") -X PATCH -H 'Content-Type: application/json' --data-binary @- "$u/config" >/dev/null 2>&1 || true
  done
  sleep 1
  pending=$(for u in $MEMBER_URLS; do curl -fsS -K "$CURL_TLS" --max-time 3 "$u/cluster" && break; done | jq -r '[.members[] | select(.pending_restart) | .name] | join(" ")')
  [ -z "$pending" ] && exit 0
  [ "$(date +%s)" -ge "$deadline" ] && { echo "the DCS still shows a pending restart for: $pending"; exit 0; }
done
