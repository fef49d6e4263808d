# The rolling restart's view of the cluster: GET /cluster from the first
# member that answers, and each listed member's own GET /patroni (what it says
# of itself now; null when it does not answer). Prints one JSON object
# {cluster, live}. Env: MEMBER_URLS (every member's REST API, space separated);
# fact CURL_TLS.
c=""
for u in $MEMBER_URLS; do c=$(curl -fsS -K "$CURL_TLS" --max-time 3 "$u/cluster") && break; c=""; done
[ -n "$c" ] || exit 1
live='{}'
while read -r name api; do
  s=$(curl -fsS -K "$CURL_TLS" --max-time 3 "$api" 2>/dev/null) || s=null
  live=$(jq -c --arg n "$name" --argjson s "$s" '. + {($n): $s}' <<<"$live")
done < <(jq -r '.members[] | "\(.name) \(.api_url)"' <<<"$c")
jq -cn --argjson c "$c" --argjson l "$live" '{cluster: $c, live: $l}'
