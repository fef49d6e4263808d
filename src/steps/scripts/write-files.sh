# Write several small files in one step, each atomically with its owner and
# mode (as write-file.sh does one). stdin: a JSON list of
# {"path", "mode", "owner", "group", "content"}. Prints each file's
# path and "changed" or "unchanged".
bundle=$(cat)
count=$(jq length <<<"$bundle")
for ((i = 0; i < count; i++)); do
  IFS=$'\t' read -r target mode owner group < <(jq -r ".[$i] | [.path, .mode, .owner, .group] | @tsv" <<<"$bundle")
  dir=$(dirname "$target")
  mkdir -p "$dir"
  tmp=$(mktemp "$dir/.pulumi-patroni.XXXXXX")
  chmod 600 "$tmp"
  jq -j ".[$i].content" <<<"$bundle" > "$tmp"
  chown "$owner:$group" "$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$target" ] && cmp -s "$tmp" "$target"; then
    chown "$owner:$group" "$target"; chmod "$mode" "$target"
    rm -f "$tmp"
    echo "$target unchanged"
  else
    mv -f "$tmp" "$target"
    echo "$target changed"
  fi
done
