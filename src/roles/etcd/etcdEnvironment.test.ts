import { describe, expect, it } from "vitest";
import { renderEtcdEnvironment } from "./etcdEnvironment";
import { seed000 } from "../../../test/fixtures/topologies";
import { parseStackConfig } from "../../stack/stackConfig";
import { etcdClientUrl, etcdInitialCluster, etcdMetricsUrl, etcdPeerUrl } from "./slice";

const ctx = { stack: "test" };

describe("etcd environment", () => {
  it("names every member and uses its own data directory", () => {
    const c = parseStackConfig(JSON.parse(JSON.stringify(seed000)), () => false);
    const member = { address: "192.168.11.151" };
    const text = renderEtcdEnvironment(ctx, {
      clusterName: c.cluster.name,
      memberName: "serverb",
      peerUrl: etcdPeerUrl(c, member),
      clientUrl: etcdClientUrl(c, member),
      loopbackClientUrl: etcdClientUrl(c, { address: "127.0.0.1" }),
      metricsUrls: [etcdMetricsUrl(c, member), etcdMetricsUrl(c, { address: "127.0.0.1" })],
      initialCluster: etcdInitialCluster(c),
      heartbeatIntervalMs: 1000,
      electionTimeoutMs: 5000,
    });
    const env = Object.fromEntries(
      text
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => {
          const [k, v] = l.split("=", 2);
          return [k, l.slice(k.length + 2, -1) || v];
        }),
    );
    expect(env.ETCD_NAME).toBe("serverb");
    expect(env.ETCD_INITIAL_CLUSTER).toBe(
      "servera=http://192.168.11.150:2380,serverb=http://192.168.11.151:2380,serverc=http://192.168.11.152:2380",
    );
    expect(env.ETCD_LISTEN_CLIENT_URLS).toBe("http://192.168.11.151:2379,http://127.0.0.1:2379");
    // The monitor scrapes the member's address; plain HTTP, /metrics and /health only.
    expect(env.ETCD_LISTEN_METRICS_URLS).toBe("http://192.168.11.151:2381,http://127.0.0.1:2381");
    expect(env.ETCD_DATA_DIR).toBe("/var/lib/etcd/patroni-cluster-otus");
    expect(env.ETCD_ELECTION_TIMEOUT).toBe("5000");
  });
});
