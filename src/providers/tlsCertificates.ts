// The cluster's CA and the hosts' certificates as dynamic resources, made
// with the controller's openssl (openssl.ts). Keys are Pulumi secrets: in
// the state they are ciphertext, and they reach the hosts on a step's stdin.
//
// ClusterCa keeps two CAs: the current one, which signs the certificates,
// and the next one, which every host and the stack's outputs already trust.
// A rotation (tls.caGeneration raised, or the current CA within
// renewBeforeDays of its end) promotes the next CA, which nobody has to
// learn first, and makes a new next one: clients that took the trust bundle
// from the outputs since the last rotation keep verifying throughout.
//
// HostCertificate is one host's key and certificate, replaced when its
// names, CA, validity or rotation generation change, or once it is within
// renewBeforeDays of its end: `pulumi preview` shows those replacements
// ahead of time. It comes with a twin, the same key and names under another
// serial, for the middle of a CA rotation (TlsRollout): Patroni's REST API
// reloads its CA file only when its certificate's serial changes.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { certificateFacts, generateCa, issueCertificate } from "./openssl";
import { storedProvider } from "./storedProvider";

const DAY_MS = 86_400_000;

/**
 * The time renewal windows are measured from: now, or PULUMI_PATRONI_NOW (an
 * ISO date) to rehearse what a pulumi up on that day would renew
 * (`PULUMI_PATRONI_NOW=2029-02-10 npm run pulumi -- preview`; the e2e test does).
 */
export function currentTime(): number {
  const at = process.env.PULUMI_PATRONI_NOW;
  if (!at) return Date.now();
  const t = Date.parse(at);
  if (Number.isNaN(t)) throw new Error(`PULUMI_PATRONI_NOW=${at} is not a date (like 2029-02-10)`);
  return t;
}

/** Whole days from now to an ISO date (negative once past). */
export const daysLeft = (notAfter: string, now = currentTime()): number =>
  Math.floor((Date.parse(notAfter) - now) / DAY_MS);

// ---------------------------------------------------------------- ClusterCa

export interface ClusterCaInputs {
  commonName: string;
  generation: number;
  validityDays: number;
  renewBeforeDays: number;
}

interface ClusterCaOutputs extends ClusterCaInputs {
  certificate: string;
  key: string;
  notAfter: string;
  nextCertificate: string;
  nextKey: string;
  /** The CA the last rotation retired (trusted by nobody once the rollout is done). */
  retiredCertificate?: string;
}

/** Why the current CA must be rotated now, or undefined. */
export function caRotationReason(
  olds: ClusterCaOutputs,
  news: ClusterCaInputs,
  now = currentTime(),
): string | undefined {
  if (news.generation !== olds.generation) return `tls.caGeneration ${olds.generation} -> ${news.generation}`;
  if (daysLeft(olds.notAfter, now) <= news.renewBeforeDays)
    return `the cluster CA expires on ${olds.notAfter.slice(0, 10)}`;
  return undefined;
}

export const clusterCaProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: ClusterCaOutputs, news: ClusterCaInputs) {
    // A new name or validity applies to the next CA made; only a rotation changes anything now.
    return caRotationReason(olds, news) ? { changes: true, replaces: [] } : { changes: false };
  },
  async create(inputs: ClusterCaInputs) {
    const [current, next] = await Promise.all([
      generateCa(`${inputs.commonName} ${inputs.generation}`, inputs.validityDays),
      generateCa(`${inputs.commonName} ${inputs.generation + 1}`, inputs.validityDays),
    ]);
    const outs: ClusterCaOutputs = {
      ...inputs,
      certificate: current.certificate,
      key: current.key,
      notAfter: certificateFacts(current.certificate).notAfter,
      nextCertificate: next.certificate,
      nextKey: next.key,
    };
    return { id: crypto.randomUUID(), outs };
  },
  async update(_id: string, olds: ClusterCaOutputs, news: ClusterCaInputs) {
    if (!caRotationReason(olds, news)) return { outs: { ...olds, ...news } };
    // The next CA takes over if it has years left (it was trusted since it was made); one made
    // with the current CA (the first) ends with it, and is replaced by a new one.
    const nextLasts = daysLeft(certificateFacts(olds.nextCertificate).notAfter) > 2 * news.renewBeforeDays;
    const current = nextLasts
      ? { certificate: olds.nextCertificate, key: olds.nextKey }
      : await generateCa(`${news.commonName} ${news.generation}`, news.validityDays);
    const next = await generateCa(`${news.commonName} ${news.generation + 1}`, news.validityDays);
    const outs: ClusterCaOutputs = {
      ...news,
      certificate: current.certificate,
      key: current.key,
      notAfter: certificateFacts(current.certificate).notAfter,
      nextCertificate: next.certificate,
      nextKey: next.key,
      retiredCertificate: olds.certificate,
    };
    return { outs };
  },
};

export class ClusterCa extends pulumi.dynamic.Resource {
  /** The CA that signs the hosts' certificates. */
  declare readonly certificate: pulumi.Output<string>;
  declare readonly key: pulumi.Output<string>;
  declare readonly notAfter: pulumi.Output<string>;
  /** The CA the next rotation promotes: trusted already. */
  declare readonly nextCertificate: pulumi.Output<string>;

  constructor(name: string, args: ClusterCaInputs, opts?: pulumi.CustomResourceOptions) {
    super(
      storedProvider("tlsCertificates", "clusterCaProvider", clusterCaProvider),
      name,
      {
        ...args,
        certificate: undefined,
        key: undefined,
        notAfter: undefined,
        nextCertificate: undefined,
        nextKey: undefined,
        retiredCertificate: undefined,
      },
      { ...opts, additionalSecretOutputs: ["key", "nextKey"] },
      "patroni",
      "ClusterCa",
    );
  }
}

// ---------------------------------------------------------------- HostCertificate

export interface HostCertificateInputs {
  caCertificate: string;
  caKey: string;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  validityDays: number;
  renewBeforeDays: number;
  /** tls.rotation: a new number is a new certificate. */
  generation: number;
}

interface HostCertificateOutputs extends HostCertificateInputs {
  certificate: string;
  key: string;
  serial: string;
  notAfter: string;
  /** The same key and names under another serial (see the module comment). */
  twinCertificate: string;
  twinSerial: string;
}

/** The inputs whose change makes a new certificate, and the expiry window. */
export function certificateReplaces(
  olds: HostCertificateOutputs,
  news: HostCertificateInputs,
  now = currentTime(),
): string[] {
  const changed = (["caCertificate", "commonName", "dnsNames", "ipAddresses", "validityDays", "generation"] as const)
    .filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]))
    .map((k) => String(k));
  if (daysLeft(olds.notAfter, now) <= news.renewBeforeDays) changed.push("notAfter");
  return changed;
}

export const hostCertificateProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: HostCertificateInputs, news: HostCertificateInputs) {
    const failures = [];
    if (!Number.isInteger(news.validityDays) || news.validityDays < 1)
      failures.push({ property: "validityDays", reason: "must be a positive number of days" });
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: HostCertificateOutputs, news: HostCertificateInputs) {
    const replaces = certificateReplaces(olds, news);
    if (replaces.length > 0) return { changes: true, replaces, deleteBeforeReplace: false };
    // A new renewal window or CA key alone changes nothing issued.
    const same = olds.renewBeforeDays === news.renewBeforeDays && olds.caKey === news.caKey;
    return { changes: !same, replaces: [] };
  },
  async create(inputs: HostCertificateInputs) {
    const issued = await issueCertificate(
      { certificate: inputs.caCertificate, key: inputs.caKey },
      {
        commonName: inputs.commonName,
        dnsNames: inputs.dnsNames,
        ipAddresses: inputs.ipAddresses,
        days: inputs.validityDays,
      },
    );
    const facts = certificateFacts(issued.certificate);
    const outs: HostCertificateOutputs = {
      ...inputs,
      certificate: issued.certificate,
      key: issued.key,
      serial: facts.serial,
      notAfter: facts.notAfter,
      twinCertificate: issued.twin,
      twinSerial: certificateFacts(issued.twin).serial,
    };
    return { id: crypto.randomUUID(), outs };
  },
  async update(_id: string, olds: HostCertificateOutputs, news: HostCertificateInputs) {
    return { outs: { ...olds, ...news } };
  },
};

export interface HostCertificateArgs {
  readonly caCertificate: pulumi.Input<string>;
  readonly caKey: pulumi.Input<string>;
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly validityDays: number;
  readonly renewBeforeDays: number;
  readonly generation: number;
}

export class HostCertificate extends pulumi.dynamic.Resource {
  declare readonly certificate: pulumi.Output<string>;
  declare readonly key: pulumi.Output<string>;
  declare readonly serial: pulumi.Output<string>;
  declare readonly notAfter: pulumi.Output<string>;
  declare readonly twinCertificate: pulumi.Output<string>;
  declare readonly twinSerial: pulumi.Output<string>;

  constructor(name: string, args: HostCertificateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      storedProvider("tlsCertificates", "hostCertificateProvider", hostCertificateProvider),
      name,
      {
        ...args,
        dnsNames: [...args.dnsNames],
        ipAddresses: [...args.ipAddresses],
        certificate: undefined,
        key: undefined,
        serial: undefined,
        notAfter: undefined,
        twinCertificate: undefined,
        twinSerial: undefined,
      },
      { ...opts, additionalSecretOutputs: ["key", "caKey"] },
      "patroni",
      "HostCertificate",
    );
  }
}
