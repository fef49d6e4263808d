# The console libraries the cluster page needs (prom.lib, menu.lib) into
# Prometheus' console_libraries directory. Debian ships them as examples under
# /usr/share/doc/prometheus, which images that keep no documentation (dpkg
# path-exclude) lack: then they are taken from the installed version's
# package itself. Env: LIBRARIES_DIR.
examples=/usr/share/doc/prometheus/examples/console_libraries
mkdir -p "$LIBRARIES_DIR"
if [ ! -f "$examples/prom.lib" ] || [ ! -f "$examples/menu.lib" ]; then
  version=$(dpkg-query -W -f='${Version}' prometheus)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # apt downloads as _apt: the directory must be its to write.
  chown _apt "$work"
  (cd "$work" && apt-get download -q "prometheus=$version" >/dev/null)
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb |
    tar -x -C "$work" ".$examples/prom.lib" ".$examples/menu.lib"
  examples=$work$examples
fi
for lib in prom.lib menu.lib; do install -m 0644 "$examples/$lib" "$LIBRARIES_DIR/$lib"; done
echo "console libraries in $LIBRARIES_DIR: prom.lib menu.lib"
