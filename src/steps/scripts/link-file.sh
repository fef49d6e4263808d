# Symlinks to TARGET at each of LINKS (space separated), e.g. the runbooks'
# config path and patronictl's default config paths to ours. Env: TARGET, LINKS.
for link in $LINKS; do
  mkdir -p "$(dirname "$link")"
  ln -sfn "$TARGET" "$link"
done
