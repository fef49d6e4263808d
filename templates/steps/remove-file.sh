# Remove a file this stack wrote. Env: TARGET.
rm -f "$TARGET"
