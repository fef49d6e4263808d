// systemd unit drop-ins. We extend the units Debian's packages ship instead of
// replacing them, so package upgrades keep working.
// https://www.freedesktop.org/software/systemd/man/systemd.unit.html
import { ManagedFileContext, managedHeader } from "./managedHeader";

export type UnitSections = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

export const dropInPath = (unit: string, name = "pulumi-patroni") => `/etc/systemd/system/${unit}.d/${name}.conf`;

/** Renders sections in the given order and keys sorted, one line per value. */
export function renderSystemdDropIn(ctx: ManagedFileContext, sections: UnitSections): string {
  const body = Object.entries(sections)
    .map(([section, keys]) => {
      const lines = Object.keys(keys)
        .sort()
        .flatMap((k) => {
          const v = keys[k];
          return (typeof v === "string" ? [v] : [...v]).map((one) => `${k}=${one}`);
        });
      return [`[${section}]`, ...lines].join("\n");
    })
    .join("\n\n");
  return managedHeader(ctx) + body + "\n";
}

/** etcd must not start before its address exists (seed 001: "cannot assign requested address"). */
export const ETCD_DROP_IN: UnitSections = {
  Unit: { After: "network-online.target", Wants: "network-online.target" },
  Service: { Restart: "on-failure", RestartSec: "2s" },
};

/** Patroni after the network and etcd (when local); never killed with its postgres children. */
export const PATRONI_DROP_IN: UnitSections = {
  Unit: { After: ["network-online.target", "etcd.service"], Wants: "network-online.target" },
  Service: { KillMode: "process", Restart: "on-failure", RestartSec: "5s", TimeoutStopSec: "60s" },
};

export const PGBOUNCER_DROP_IN: UnitSections = {
  Unit: { After: ["network-online.target", "patroni.service"], Wants: "network-online.target" },
  Service: { Restart: "on-failure", RestartSec: "2s" },
};

export const HAPROXY_DROP_IN: UnitSections = {
  Unit: { After: "network-online.target", Wants: "network-online.target" },
};
