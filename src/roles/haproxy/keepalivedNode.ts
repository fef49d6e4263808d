// keepalived on one HAProxy host (haproxy.vip): its scripts (the check, and
// the release of the VIP's sessions when the host leaves MASTER), the
// interface the VIP goes on, keepalived.conf (validated with `keepalived -t`
// before it replaces the old one; secret: it holds the VRRP password), a
// reload of a running keepalived when the file changes, the first start,
// and a gate; and one step per unicast peer (its address in a file of its
// own that keepalived.conf includes). The order across hosts is
// PostgresCluster's: every running host reloads (learns a new peer) before
// a new host starts, so a new host hears the holder's adverts at once
// instead of electing itself after its master-down timer and taking the VIP
// from a healthy holder. A host leaving the stack is dropped from its peers'
// adverts only after its own keepalived stopped (pulumi deletes the peer
// steps after the departing host's service step, which depends on them), for
// the same reason the other way round.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand } from "../../providers/shellCommand";
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { MASKED_PASSWORDS, secretValues } from "../../stack/passwords";
import { HostConfig, StackConfig } from "../../stack/stackConfig";
import { contentHash, HostSteps } from "../../steps/hostSteps";
import { inlineScript, scriptsIn } from "../../steps/stepScript";
import { TLS_PATHS } from "../../tls/settings";
import { RoleArgs } from "../roleArgs";
import { KeepalivedConfigInput, renderKeepalivedConfig } from "./keepalivedConfig";
import {
  HAPROXY_PRIMARY_UP_URI,
  KEEPALIVED_CHECK_PATH,
  KEEPALIVED_CONFIG_PATH,
  KEEPALIVED_PEERS_DIR,
  KEEPALIVED_RELEASE_PATH,
  KEEPALIVED_RETIRING,
  KEEPALIVED_VIP_RECORD,
  VipSettings,
  virtualRouterId,
  vrrpOrder,
  vrrpPriority,
} from "./slice";

const script = scriptsIn(__dirname);

/** keepalived.conf's input for one HAProxy host. */
export function keepalivedConfigInput(
  c: StackConfig,
  vip: VipSettings,
  host: HostConfig,
  iface: string,
  password: string,
): KeepalivedConfigInput {
  const order = vrrpOrder(c);
  const addressOf = (name: string) => c.hosts.find((h) => h.name === name)!.address;
  return {
    hostName: host.name,
    clusterName: c.cluster.name,
    address: host.address,
    interface: iface,
    vip: vip.address,
    prefix: vip.prefix,
    virtualRouterId: virtualRouterId(vip),
    priority: vrrpPriority(order.indexOf(host.name), order.length),
    peers: order.filter((n) => n !== host.name).map(addressOf),
    peerFiles: `${KEEPALIVED_PEERS_DIR}/*.conf`,
    unicast: vip.unicast,
    password,
    checkScript: KEEPALIVED_CHECK_PATH,
    releaseScript: KEEPALIVED_RELEASE_PATH,
    healthPort: c.haproxy.statsPort,
    healthUri: HAPROXY_PRIMARY_UP_URI,
    caFile: TLS_PATHS.ca,
  };
}

/** A keepalived script as installed: its file here with the managed-file line after its shebang. */
export function keepalivedScript(ctx: ManagedFileContext, name: "keepalived-check" | "keepalived-release"): string {
  const [shebang, ...rest] = fs.readFileSync(path.join(__dirname, `${name}.sh`), "utf8").split("\n");
  return [shebang, managedHeader(ctx).trimEnd(), ...rest].join("\n");
}

export interface KeepalivedNodeArgs extends RoleArgs {
  /**
   * What the reload waits for: every HAProxy host's keepalived.conf
   * (KeepalivedNode.config), so that the hosts reload together. Hosts that
   * disagree on the VRRP password, the virtual router id or unicast for
   * longer than the master-down interval (3 s) each elect themselves.
   */
  readonly reloadAfter: pulumi.Input<pulumi.Resource[]>;
  /**
   * What the first start waits for: every HAProxy host's reload step and
   * peer steps (KeepalivedNode.reloaded, .peers). Depending on the peer
   * steps naming this host directly is what makes pulumi stop this host's
   * keepalived before its peers drop it, when the host leaves the stack.
   */
  readonly startAfter: pulumi.Input<pulumi.Resource[]>;
  /**
   * What the removal of the VIP's old address after a move waits for: the
   * client hosts' gates (they name the new address by then).
   */
  readonly retireAfter: pulumi.Input<pulumi.Resource[]>;
}

export class KeepalivedNode extends pulumi.ComponentResource {
  /** keepalived.conf written (not yet in force). */
  readonly config: ShellCommand;
  /** keepalived.conf in force on a running keepalived (a no-op on a host that has none yet). */
  readonly reloaded: ShellCommand;
  /** keepalived runs with its check enabled, and the VIP answers. */
  readonly ready: ShellCommand;
  /** This host's unicast peers, one step each (written before keepalived.conf, which includes them). */
  readonly peers: ShellCommand[];

  constructor(name: string, args: KeepalivedNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:KeepalivedNode", name, {}, opts);
    const { config, host } = args;
    const vip = config.haproxy.vip!;
    const steps = new HostSteps(this, name, host, args.facts);
    // The interface holding the host's address, read once (a host's address never changes).
    const iface: pulumi.Input<string> =
      vip.interface ??
      steps.command(
        "interface",
        {
          description: `find the interface holding ${host.address}`,
          create: script("vip-interface", { ADDRESS: host.address }),
          captureStdout: true,
        },
        { dependsOn: args.dependsOn },
      ).stdout;
    const scripts = [
      steps.file(
        "check",
        { path: KEEPALIVED_CHECK_PATH, content: keepalivedScript(args.managed, "keepalived-check"), mode: "0755" },
        { dependsOn: args.dependsOn },
      ),
      steps.file(
        "release",
        { path: KEEPALIVED_RELEASE_PATH, content: keepalivedScript(args.managed, "keepalived-release"), mode: "0755" },
        { dependsOn: args.dependsOn },
      ),
    ];
    const peerScript = (action: "add" | "remove", peer: HostConfig) =>
      script("keepalived-peer", {
        ACTION: action,
        PEERS_DIR: KEEPALIVED_PEERS_DIR,
        PEER: peer.name,
        ADDRESS: peer.address,
      });
    this.peers = vrrpOrder(config)
      .filter((n) => n !== host.name)
      .map((n) => config.hosts.find((h) => h.name === n)!)
      .map((peer) =>
        steps.command(
          `peer-${peer.name}`,
          {
            description: `unicast VRRP peer ${peer.name} (${peer.address})`,
            create: peerScript("add", peer),
            delete: peerScript("remove", peer),
          },
          { dependsOn: args.dependsOn },
        ),
      );
    const render = (i: string, password: string) =>
      renderKeepalivedConfig(args.managed, keepalivedConfigInput(config, vip, host, i, password));
    const conf = pulumi.all([iface, args.passwords]).apply(([i, p]) => render(i, p.haproxyVrrp));
    const file = steps.file(
      "config",
      {
        path: KEEPALIVED_CONFIG_PATH,
        content: pulumi.secret(conf),
        shown: pulumi.output(iface).apply((i) => render(i, MASKED_PASSWORDS.haproxyVrrp)),
        // keepalived.conf holds the VRRP password's first 8 characters: masked too.
        mask: args.passwords.apply((p) => [...secretValues(p), p.haproxyVrrp.slice(0, 8)]),
        mode: "0600",
        validate: "keepalived -t -f %s",
      },
      { dependsOn: [...args.dependsOn, ...scripts, ...this.peers] },
    );
    this.config = file;
    const triggers = [contentHash(conf)];
    this.reloaded = steps.command(
      "reload",
      {
        description: "reload keepalived",
        // A host without a running keepalived yet: its start step starts it.
        create: inlineScript("keepalived-first-config", "true"),
        update: script("keepalived-reload", {
          VIP: vip.address,
          RECORD: KEEPALIVED_VIP_RECORD,
          RETIRING: KEEPALIVED_RETIRING,
        }),
        triggers,
      },
      { dependsOn: pulumi.output(args.reloadAfter).apply((configs) => [file, ...configs]) },
    );
    const service = steps.service(
      "service",
      { unit: "keepalived", onChange: "start", triggers: [] },
      { dependsOn: pulumi.output(args.startAfter).apply((others) => [file, this.reloaded, ...others]) },
    );
    this.ready = steps.gate(
      "gate",
      {
        what: "keepalived",
        script: script("wait-keepalived", {
          VIP: vip.address,
          HEALTH_SCHEME: config.tls.enabled ? "https" : "http",
          HEALTH_PORT: config.haproxy.statsPort,
          HEALTH_URI: HAPROXY_PRIMARY_UP_URI,
          TIMEOUT: 60,
          RECORD: KEEPALIVED_VIP_RECORD,
        }),
        triggers,
      },
      { dependsOn: [service, this.reloaded] },
    );
    // After a move of the VIP, once the client hosts name the new address: the old one goes.
    steps.command(
      "retire",
      {
        description: "remove the VIP's old address once the clients moved",
        create: script("keepalived-retire", { RETIRING: KEEPALIVED_RETIRING, RELEASE: KEEPALIVED_RELEASE_PATH }),
        triggers,
      },
      { dependsOn: pulumi.output(args.retireAfter).apply((clients) => [this.ready, ...clients]) },
    );
    this.registerOutputs({ ready: this.ready.id });
  }
}
