# Remove each of LINKS (space separated) that is still a symlink of ours. Env: LINKS.
for link in $LINKS; do
  if [ -L "$link" ]; then rm -f "$link"; fi
done
