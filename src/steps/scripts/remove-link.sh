# Remove each of LINKS (space separated) that is still a symlink of ours. Env: LINKS.
if ! owned_here; then echo "$(hostname) now belongs to $(current_owner): links kept"; exit 0; fi
for link in $LINKS; do
  if [ -L "$link" ]; then rm -f "$link"; fi
done
