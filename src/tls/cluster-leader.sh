# The leader's name, from the first member whose REST API answers (the TLS
# migration restarts Patroni on the leader first). Prints nothing when none
# answers. Env: MEMBER_URLS (space separated, http or https); fact CURL_TLS
# (not there yet before the migration writes it).
opts=()
if [ -r "$CURL_TLS" ]; then opts=(-K "$CURL_TLS"); fi
for u in $MEMBER_URLS; do
  if c=$(curl -fsS --max-time 3 "${opts[@]}" "$u/cluster" 2>/dev/null); then
    printf '%s' "$c" | jq -r '[.members[] | select(.role == "leader") | .name][0] // empty'
    exit 0
  fi
done
