# A symlink at LINK pointing to TARGET (e.g. the seeds' config path to ours).
ln -sfn "$TARGET" "$LINK"
