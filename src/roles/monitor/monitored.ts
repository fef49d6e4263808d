// Whether a stack is monitored (a host has the monitor role): what the other
// roles ask before they open what the monitor scrapes. Its own module,
// importing nothing, so that any role can ask without an import cycle
// (the monitor's slice imports theirs).
export const MONITOR_ROLE = "monitor";

export const monitored = (c: { readonly hosts: readonly { readonly roles: readonly string[] }[] }): boolean =>
  c.hosts.some((h) => h.roles.includes(MONITOR_ROLE));
