#!/bin/bash
# pp-validate-repository-config FILE: the VALIDATE of the repository host's
# pgbackrest.conf (write-file.sh runs it on the candidate): the repository must stay readable with it. A changed
# cipher passphrase cannot open the files already there, so the old file is
# kept and the deploy fails instead.
set -euo pipefail
candidate=$1
out=$(cd /tmp && runuser -u postgres -- pgbackrest --config="$candidate" --log-level-console=error --output=json info 2>&1) || {
  echo "pgbackrest cannot run with the new config: $out"
  exit 1
}
# A stanza pgBackRest cannot read reports status 99; its message may hold the undecryptable bytes, which
# are not valid JSON, so this looks for the code in the text instead of parsing it.
if printf '%s' "$out" | grep -q '"code":99'; then
  echo "the repository cannot be read with the new config (a changed backupCipherPassphrase cannot open what is there):"
  printf '%s' "$out" | tr -cd '[:print:]' | grep -o '"message":"[^"]*' | cut -c12-200 | sort -u | head -n 3
  exit 1
fi
