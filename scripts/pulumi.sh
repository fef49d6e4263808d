#!/usr/bin/env bash
# The one way to run the pinned Pulumi CLI for this repo: `npm run pulumi -- <args>`.
# Builds/locates the offline toolchain (scripts/toolchain.sh) and runs
# `pulumi "$@"` in the repo root with project settings:
#   - state in a local file backend (<repo>/.pulumi-state, git-ignored), so no
#     `pulumi login` is needed; an explicit PULUMI_BACKEND_URL wins;
#   - plugins and credentials in <repo>/.pulumi-home (git-ignored), never ~/.pulumi;
#   - no update checks and no plugin downloads (the machine is offline; a
#     missing plugin must fail loudly instead of trying the network);
#   - for the throwaway `local` stack only, a documented default passphrase
#     (the stack holds test-stand secrets, not production ones). Any other
#     stack needs PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$("$repo/scripts/toolchain.sh")
export PATH="$bin:$PATH"
export PULUMI_HOME="$repo/.pulumi-home"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$repo/.pulumi-state}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# ts-node's type check of the program costs ~15-60 s per run on 2 cores;
# `npm run typecheck` (part of `npm test`) checks the same code once.
export PULUMI_NODEJS_TRANSPILE_ONLY=${PULUMI_NODEJS_TRANSPILE_ONLY:-true}
mkdir -p "$PULUMI_HOME"
[[ $PULUMI_BACKEND_URL == file://$repo/.pulumi-state ]] && mkdir -p "$repo/.pulumi-state"

# Which stack is targeted: --stack/-s, the name in `stack init|select|rm NAME`,
# else the currently selected stack.
stack=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --stack=* | -s=*) stack=${args[i]#*=} ;;
    --stack | -s) stack=${args[i + 1]:-} ;;
  esac
done
if [[ -z $stack && ${args[0]:-} == stack && ${args[1]:-} =~ ^(init|select|rm)$ ]]; then
  for a in "${args[@]:2}"; do [[ $a == -* ]] || { stack=$a; break; }; done
fi
if [[ -z $stack ]]; then
  stack=$(cd "$repo" && pulumi stack --show-name 2>/dev/null || true)
fi
if [[ ${stack##*/} == local && -z ${PULUMI_CONFIG_PASSPHRASE:-} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
  export PULUMI_CONFIG_PASSPHRASE=local-stand-passphrase
fi

cd "$repo"
exec pulumi "$@"
