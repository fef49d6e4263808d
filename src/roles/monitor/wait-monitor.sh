# Health gate of the monitor: Prometheus runs with its configuration and every
# rule loaded, scrapes exactly the targets of the stack (file_sd follows a
# changed target file by itself) and each of them answers from here, and
# Alertmanager runs and is the one Prometheus sends to.
# Env: PROMETHEUS, ALERTMANAGER (URLs: https with TLS, verified with CURL_TLS), TARGETS (space separated JOB=ADDRESS:PORT),
# TARGET_SCHEMES (http or https for each target, in order: https verified with the
# cluster's CA and this host's certificate, fact CURL_TLS), RULES (how many), TIMEOUT.
api() { curl -fsS --max-time 3 -K "$CURL_TLS" "$PROMETHEUS/api/v1/$1"; }
loaded() {
  local count
  api status/runtimeinfo | jq -e .data.reloadConfigSuccess >/dev/null || { echo "configuration not loaded"; return 1; }
  count=$(api rules | jq '[.data.groups[].rules[]] | length')
  echo "rules loaded: $count (want $RULES)"
  [ "$count" = "$RULES" ]
}
wait_until "$TIMEOUT" "prometheus with its configuration and rules" loaded
wanted=$(tr ' ' '\n' <<<"$TARGETS" | sort)
same_targets() {
  local active
  active=$(api targets?state=active | jq -r '.data.activeTargets[] | "\(.labels.job)=\(.labels.instance)"' | sort)
  [ "$active" = "$wanted" ] && return 0
  echo "prometheus scrapes:"; echo "$active"; echo "wanted:"; echo "$wanted"
  return 1
}
wait_until "$TIMEOUT" "prometheus scraping the stack's targets" same_targets
answers() { curl -fsS --max-time 3 -K "$CURL_TLS" -o /dev/null "$1://$2/metrics" || { echo "$1://$2 does not answer"; return 1; }; }
read -r -a schemes <<<"$TARGET_SCHEMES"
i=0
for target in $TARGETS; do
  wait_until "$TIMEOUT" "${target%%=*} target ${target#*=}" answers "${schemes[$i]}" "${target#*=}"
  i=$((i + 1))
done
alertmanager_used() {
  curl -fsS --max-time 3 -K "$CURL_TLS" "$ALERTMANAGER/-/ready" >/dev/null || { echo "alertmanager not ready"; return 1; }
  api alertmanagers | jq -e --arg am "$ALERTMANAGER/api/v2/alerts" '[.data.activeAlertmanagers[].url] == [$am]' >/dev/null
}
wait_until "$TIMEOUT" "alertmanager ready and used by prometheus" alertmanager_used
echo "prometheus: $RULES rules, $(wc -w <<<"$TARGETS") targets answering; alertmanager ready"
