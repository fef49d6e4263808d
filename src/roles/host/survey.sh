# What already runs on a host before this stack's first deploy there, read
# at preview (src/providers/hostSurvey.ts) so that a host the stack would
# take over is refused before anything changes on any host. Reads only:
# nothing is written, installed or started. Prints one line per service
# found (see foreign_services), nothing when the host is free.
# Host facts: STACK, MANAGED_MARKER, PATRONI_CONFIG, ETCD_ENV.
foreign_services
