# Every member's REST API answers over https with this host's certificate
# (the migration then turns HAProxy's checks to TLS).
# Env: MEMBER_URLS (space separated), TIMEOUT; fact CURL_TLS.
all_answer() {
  local u
  for u in $MEMBER_URLS; do
    curl -fsS --max-time 2 -K "$CURL_TLS" "$u/patroni" >/dev/null 2>&1 || { echo "$u not answering over https yet"; return 1; }
  done
}
WAIT_INTERVAL=0.3 wait_until "$TIMEOUT" "every REST API over https" all_answer
echo "every REST API answers over https"
