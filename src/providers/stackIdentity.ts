// StackIdentity: the fields a deployed stack cannot change (cluster.name,
// postgresVersion, ports members find each other at, a host's address...),
// recorded in the state at the first deploy. Every host step waits for it, so
// a changed identity field fails the preview (the provider's check) before
// anything runs, naming the field and what to do instead.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { storedProvider } from "./storedProvider";

export interface IdentityInputs {
  /** Field path -> value (src/config/fieldClasses.ts identityValues). */
  fields: Record<string, unknown>;
  /** Field path -> what to do instead of changing it. */
  advice: Record<string, string>;
  /** Resolves only once the configured secrets passed their checks. */
  checks?: string;
  /** Members by role (etcd, postgres): a change must keep at least one of each. */
  members?: Record<string, string[]>;
  /**
   * The HAProxy hosts clients' URIs name (none with a VIP: they name the VIP)
   * and every HAProxy host: a change must keep one of the former.
   */
  entry?: { uriHosts: string[]; haproxyHosts: string[] };
}

/** Why `news` may not replace `olds`, one line per changed field (empty when nothing changed). */
export function identityChanges(olds: Partial<IdentityInputs> | undefined, news: IdentityInputs): string[] {
  const before = olds?.fields ?? {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(news.fields)) {
    if (!(key in before) || JSON.stringify(before[key]) === JSON.stringify(value)) continue;
    problems.push(
      `${key}: changed from ${JSON.stringify(before[key])} to ${JSON.stringify(value)} on a deployed stack, which cannot be done in place; ` +
        `${news.advice[key] ?? "keep the old value"}. Nothing on the hosts was changed.`,
    );
  }
  for (const [role, now] of Object.entries(news.members ?? {})) {
    const before = olds?.members?.[role] ?? [];
    if (before.length > 0 && !now.some((m) => before.includes(m))) {
      problems.push(
        `hosts: this change removes every ${role} member at once (${before.join(", ")}) while adding ${now.join(", ") || "none"}; ` +
          `${role === "etcd" ? "the DCS and with it the cluster's state would be lost" : "no running PostgreSQL would remain to copy the data from"}. ` +
          `Keep at least one of them and change the rest in a later pulumi up. Nothing on the hosts was changed.`,
      );
    }
  }
  const named = olds?.entry?.uriHosts ?? [];
  if (named.length > 0 && news.entry && !news.entry.haproxyHosts.some((h) => named.includes(h))) {
    problems.push(
      `hosts: this change removes every HAProxy host the clients' URIs name (${named.join(", ")}) while adding ${news.entry.haproxyHosts.join(", ") || "none"}; ` +
        `clients configured with those URIs (and the client host's pg_service.conf until it is rewritten) would reach nothing. ` +
        `Add the new HAProxy host first, move the clients to the new URIs (the primaryUri output), then remove the old one in a later pulumi up; ` +
        `or set haproxy.vip first, so that clients name the VIP instead of a host. Nothing on the hosts was changed.`,
    );
  }
  return problems;
}

/** The implementation; the state stores a loader of it (storedProvider.ts). */
export const stackIdentityProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: IdentityInputs, news: IdentityInputs) {
    return { inputs: news, failures: identityChanges(olds, news).map((reason) => ({ property: "", reason })) };
  },
  async diff(_id: string, olds: IdentityInputs, news: IdentityInputs) {
    // Only additions (a new host, a field new to the guard) reach here.
    return {
      changes:
        JSON.stringify([olds.fields, olds.members, olds.entry]) !==
        JSON.stringify([news.fields, news.members, news.entry]),
    };
  },
  async create(inputs: IdentityInputs) {
    return { id: crypto.randomUUID(), outs: inputs };
  },
  async update(_id: string, _olds: IdentityInputs, news: IdentityInputs) {
    return { outs: news };
  },
};

export class StackIdentity extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: pulumi.Inputs & {
      fields: Record<string, unknown>;
      advice: Record<string, string>;
      checks?: pulumi.Input<string>;
      members?: Record<string, string[]>;
      entry?: { uriHosts: string[]; haproxyHosts: string[] };
    },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      storedProvider("stackIdentity", "stackIdentityProvider", stackIdentityProvider),
      name,
      args,
      opts,
      "patroni",
      "StackIdentity",
    );
  }
}
