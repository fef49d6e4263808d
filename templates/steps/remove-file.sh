# Remove a file this stack wrote. Env: TARGET, OWNER.
if ! owned_here; then echo "$(hostname) now belongs to $(cat /etc/pulumi-patroni/owner): $TARGET kept"; exit 0; fi
rm -f "$TARGET"
