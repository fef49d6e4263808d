#!/usr/bin/env bash
# The one way to run the pinned Pulumi CLI for this repo: `npm run pulumi -- <args>`.
# Builds/locates the offline toolchain (scripts/toolchain.sh) and runs
# `pulumi "$@"` in the repo root with project settings:
#   - state in a local file backend (<repo>/.pulumi-state, git-ignored), so no
#     `pulumi login` is needed; an explicit PULUMI_BACKEND_URL wins;
#   - plugins and credentials in <repo>/.pulumi-home (git-ignored), never ~/.pulumi;
#   - no update checks and no plugin downloads (the machine is offline; a
#     missing plugin must fail loudly instead of trying the network);
#   - state and plugins readable by their owner only (umask 077);
#   - for the `local` stack only, a passphrase generated once per controller
#     and kept in a 0600 file (~/.config/pulumi-patroni/local.passphrase), and
#     its stack file Pulumi.local.yaml made from stacks/local.yaml. Any other
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
# State holds the stacks' encrypted secrets and the outputs: owner only.
umask 077
mkdir -p "$PULUMI_HOME"
chmod 700 "$PULUMI_HOME"
if [[ $PULUMI_BACKEND_URL == file://$repo/.pulumi-state ]]; then
  mkdir -p "$repo/.pulumi-state"
  chmod -R go-rwx "$repo/.pulumi-state"
fi

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
  stack=$(cd "$repo" && { pulumi stack --show-name 2>/dev/null || true; })
fi
if [[ ${stack##*/} == local ]]; then
  # Stands made before this file existed were encrypted with a constant
  # passphrase and a committed salt: they keep both, so they still open.
  legacy_passphrase=local-stand-passphrase
  legacy_salt='v1:Rl2dXEx48gI=:v1:7Kq4+hFY26SZX7E3:a8X0Pj/VNLegPMg9UTa3LcW6cQlBQw=='
  legacy_state=$repo/.pulumi-state/.pulumi/stacks/pulumi-patroni/local.json
  if [[ -z ${PULUMI_CONFIG_PASSPHRASE:-} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
    passphrase_file=${PULUMI_PATRONI_HOME:-$HOME/.config/pulumi-patroni}/local.passphrase
    if [[ ! -s $passphrase_file ]]; then
      mkdir -p "$(dirname "$passphrase_file")"
      if { [[ -f $legacy_state && ! -f $repo/Pulumi.local.yaml ]]; } || grep -qsF "$legacy_salt" "$repo/Pulumi.local.yaml"; then
        printf '%s' "$legacy_passphrase" >"$passphrase_file"
      else
        head -c 32 /dev/urandom | base64 | tr -d '\n' >"$passphrase_file"
      fi
      chmod 600 "$passphrase_file"
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE=$passphrase_file
  fi
  if [[ ! -f $repo/Pulumi.local.yaml ]]; then
    cp "$repo/stacks/local.yaml" "$repo/Pulumi.local.yaml"
    [[ -f $legacy_state ]] && printf 'encryptionsalt: %s\n' "$legacy_salt" >>"$repo/Pulumi.local.yaml"
  fi
fi

# A local stand's destroy writes its state once, at the end: with a
# checkpoint after each of a stand's ~220 steps it took 23.5 s, 19.8 s of
# them the CPU serializing the whole state again (issue 27: under 20 s);
# without them 6.0 s. Safe here only: the machines are switched off first
# and nothing of the stand outlives it, so a destroy cut short leaves the
# whole state and the next one repeats every step (each is idempotent). A
# stack on your own servers keeps its checkpoints.
if [[ ${args[0]:-} == destroy && -n $stack ]] &&
  grep -qE '^[[:space:]]*pulumi-patroni:hostSource:[[:space:]]*local-machines[[:space:]]*$' "$repo/Pulumi.${stack##*/}.yaml" 2>/dev/null; then
  export PULUMI_SKIP_CHECKPOINTS=${PULUMI_SKIP_CHECKPOINTS:-true}
fi

cd "$repo"
exec pulumi "$@"
