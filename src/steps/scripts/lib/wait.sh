# Bounded waits for the step scripts; renderStepScript puts this in front of
# every step that calls wait_until.
#
# wait_until SECONDS WHAT COMMAND...: runs COMMAND every WAIT_INTERVAL seconds
# (default 1) until it succeeds, then prints its output. After SECONDS it
# fails the step, saying what it waited for and COMMAND's last output.
wait_until() {
  local seconds=$1 what=$2 deadline out
  shift 2
  deadline=$(($(date +%s) + seconds))
  while :; do
    if out=$("$@" 2>&1); then
      [ -z "$out" ] || printf '%s\n' "$out"
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$what: not reached after ${seconds}s; last check said:" >&2
      printf '%s\n' "$out" | tail -n 20 >&2
      return 1
    fi
    sleep "${WAIT_INTERVAL:-1}"
  done
}
