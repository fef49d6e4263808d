# Remove a file this stack wrote. Env: TARGET.
if ! owned_here; then echo "$(hostname) now belongs to $(current_owner): $TARGET kept"; exit 0; fi
rm -f "$TARGET"
