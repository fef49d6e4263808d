# Write stdin to TARGET atomically with the given owner and mode; with
# VALIDATE, check the new file first (e.g. haproxy -c -f %s) and keep the
# old one if the check fails. Prints "changed" or "unchanged".
# Env: TARGET, FILE_MODE, FILE_OWNER, FILE_GROUP, VALIDATE (optional, %s = candidate path).
dir=$(dirname "$TARGET")
mkdir -p "$dir"
tmp=$(mktemp "$dir/.pulumi-patroni.XXXXXX")
trap 'rm -f "$tmp"' EXIT
chmod 600 "$tmp"
cat > "$tmp"
chown "$FILE_OWNER:$FILE_GROUP" "$tmp"
chmod "$FILE_MODE" "$tmp"
if [ -n "${VALIDATE:-}" ]; then
  check=${VALIDATE//%s/$tmp}
  if ! out=$(bash -c "$check" 2>&1); then
    echo "validation of the new $TARGET failed; the old file is kept:" >&2
    echo "$out" >&2
    exit 1
  fi
fi
if [ -f "$TARGET" ] && cmp -s "$tmp" "$TARGET"; then
  # Same bytes: still fix ownership and mode drift.
  chown "$FILE_OWNER:$FILE_GROUP" "$TARGET"; chmod "$FILE_MODE" "$TARGET"
  echo unchanged
else
  mv -f "$tmp" "$TARGET"
  echo changed
fi
