# The console library the cluster page needs (prom.lib: its tables, query
# drill-downs and graph controls) into Prometheus' console_libraries
# directory. Debian ships it as an example under /usr/share/doc/prometheus,
# which images that keep no documentation (dpkg path-exclude) lack: then it is
# taken from the installed version's package itself. The page has its own
# head and navigation, so the example menu.lib (links to example consoles
# that are not installed) is not installed. Env: LIBRARIES_DIR.
examples=/usr/share/doc/prometheus/examples/console_libraries
mkdir -p "$LIBRARIES_DIR"
if [ ! -f "$examples/prom.lib" ]; then
  version=$(dpkg-query -W -f='${Version}' prometheus)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # apt downloads as _apt: the directory must be its to write.
  chown _apt "$work"
  (cd "$work" && apt-get download -q "prometheus=$version" >/dev/null)
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ".$examples/prom.lib"
  examples=$work$examples
fi
install -m 0644 "$examples/prom.lib" "$LIBRARIES_DIR/prom.lib"
echo "console library in $LIBRARIES_DIR: prom.lib"
