// Plain facts derived from the validated hosts that several roles need;
// computed in one place so they never disagree. Facts of one role (etcd's
// URLs, say) live with that role.

export interface TopologyHost {
  readonly name: string;
  readonly address: string;
  readonly roles: readonly string[];
}

export interface Topology<H extends TopologyHost = TopologyHost> {
  readonly hosts: readonly H[];
  /** The hosts with `role`, in configuration order. */
  withRole(role: string): readonly H[];
  /**
   * Addresses that may open sessions to PostgreSQL: every host's, and the
   * controller's on a local stand (it sits on the hosts' bridge, so the fault
   * harness and a DBA at the controller reach every node directly).
   */
  readonly sessionAddresses: readonly string[];
  /** The hosts share the controller's CPU (local machines), so installs are staggered. */
  readonly hostsShareCpu: boolean;
}

export const hasRole = (host: TopologyHost, role: string): boolean => host.roles.includes(role);

export function deriveTopology<H extends TopologyHost>(
  hosts: readonly H[],
  controller?: { readonly address: string },
): Topology<H> {
  return {
    hosts,
    withRole: (role) => hosts.filter((h) => hasRole(h, role)),
    sessionAddresses: [...hosts.map((h) => h.address), ...(controller ? [controller.address] : [])],
    hostsShareCpu: controller !== undefined,
  };
}
