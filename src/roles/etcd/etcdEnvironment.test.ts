import { describe, expect, it } from "vitest";
import { etcdEnvironmentInput, renderEtcdEnvironment } from "./etcdEnvironment";
import { seed000 } from "../../../test/fixtures/topologies";
import { parseStackConfig } from "../../stack/stackConfig";
import { EtcdStage, stageOf } from "../../tls/stages";

const ctx = { stack: "test" };

function envAt(stage: EtcdStage, tls = true): Record<string, string> {
  const c = parseStackConfig(JSON.parse(JSON.stringify({ ...seed000, tls: { enabled: tls } })), () => false);
  const text = renderEtcdEnvironment(ctx, etcdEnvironmentInput(c, c.hosts[1], stage));
  expect(stageOf(text)).toBe(stage);
  return Object.fromEntries(
    text
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => {
        const [k, v] = l.split("=", 2);
        return [k, l.slice(k.length + 2, -1) || v];
      }),
  );
}

describe("etcd environment", () => {
  it("plain: names every member and uses its own data directory, no TLS", () => {
    const env = envAt("plain", false);
    expect(env.ETCD_NAME).toBe("serverb");
    expect(env.ETCD_INITIAL_CLUSTER).toBe(
      "servera=http://192.168.11.150:2380,serverb=http://192.168.11.151:2380,serverc=http://192.168.11.152:2380",
    );
    expect(env.ETCD_LISTEN_CLIENT_URLS).toBe("http://192.168.11.151:2379,http://127.0.0.1:2379");
    expect(env.ETCD_DATA_DIR).toBe("/var/lib/etcd/patroni-cluster-otus");
    expect(env.ETCD_ELECTION_TIMEOUT).toBe("5000");
    expect(Object.keys(env).filter((k) => /CERT|KEY|CA_FILE|METRICS/.test(k))).toEqual([]);
  });

  it("tls: https for clients and peers, client certificates required on both, a plain metrics listener", () => {
    const env = envAt("tls");
    expect(env.ETCD_LISTEN_CLIENT_URLS).toBe("https://192.168.11.151:2379,https://127.0.0.1:2379");
    expect(env.ETCD_ADVERTISE_CLIENT_URLS).toBe("https://192.168.11.151:2379");
    expect(env.ETCD_LISTEN_PEER_URLS).toBe("https://192.168.11.151:2380");
    expect(env.ETCD_INITIAL_CLUSTER).toMatch(/^servera=https:\/\/192\.168\.11\.150:2380,serverb=https/);
    expect(env.ETCD_CLIENT_CERT_AUTH).toBe("true");
    expect(env.ETCD_PEER_CLIENT_CERT_AUTH).toBe("true");
    expect(env.ETCD_CERT_FILE).toBe("/etc/pulumi-patroni/tls/host.crt");
    expect(env.ETCD_PEER_KEY_FILE).toBe("/etc/pulumi-patroni/tls/host.key");
    expect(env.ETCD_TRUSTED_CA_FILE).toBe("/etc/pulumi-patroni/tls/ca.crt");
    expect(env.ETCD_LISTEN_METRICS_URLS).toBe("http://192.168.11.151:2381,http://127.0.0.1:2381");
  });

  it("dual (migration): clients on http and https, peers and advertised URLs still http", () => {
    const env = envAt("dual");
    expect(env.ETCD_LISTEN_CLIENT_URLS).toBe(
      "http://192.168.11.151:2379,https://192.168.11.151:2379,http://127.0.0.1:2379,https://127.0.0.1:2379",
    );
    expect(env.ETCD_ADVERTISE_CLIENT_URLS).toBe("http://192.168.11.151:2379");
    expect(env.ETCD_LISTEN_PEER_URLS).toBe("http://192.168.11.151:2380");
    expect(env.ETCD_PEER_CERT_FILE).toBe("/etc/pulumi-patroni/tls/host.crt");
  });
});
