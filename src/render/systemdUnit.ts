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
