#!/bin/sh
# pp-pgbackrest-archive-push STANZA WAL: PostgreSQL's archive_command (run by the
# archiver as postgres, in the data directory; WAL is pg_wal/NAME).
# pgBackRest's archive-push, with one refusal turned into a warning: a
# segment of a timeline older than this primary's that the archive already
# holds in another version (pgBackRest exit 45, ArchiveDuplicateError).
# Such a file is a standby's copy, received up to a timeline switch and
# never marked done (the walreceiver marks only whole segments); once the
# node leads, a checkpoint marks it ready. The archive's version came from
# that timeline's primary (a zombie primary's archive_timeout completes it
# after the new primary forked). Neither is on the cluster's history past
# the switch: recovery reads the new timeline's segment there. Refused, the
# archiver retries this file forever and nothing after it is archived (seen
# after the fault suite's failovers). A clash on the current timeline stays
# an error: two primaries wrote the same segment.
set -u
stanza=$1 wal=$2
pgbackrest --stanza="$stanza" archive-push "$wal" && exit 0
rc=$?
[ "$rc" -eq 45 ] || exit "$rc"
name=${wal##*/}
case $name in
  [0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]????????????????) ;;
  *) exit 45 ;;
esac
[ ${#name} -eq 24 ] || exit 45
timeline=$(printf '%d' "0x$(echo "$name" | cut -c1-8)")
# This primary's timeline: the newest history file (none on timeline 1).
current=1
for h in "${wal%/*}"/*.history; do
  [ -e "$h" ] || continue
  t=$(printf '%d' "0x$(basename "$h" .history)")
  [ "$t" -gt "$current" ] && current=$t
done
[ "$timeline" -lt "$current" ] || exit 45
echo "pp-pgbackrest-archive-push: WARNING: $name (timeline $timeline, this primary is on $current) is in the archive in another version (pgBackRest's ERROR [045] above), pushed while that timeline led; this node's copy is a standby's, past the timeline switch. Skipped; archiving goes on." >&2
exit 0
