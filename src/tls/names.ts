// The names a host's certificate carries: every name and address it is
// reached at. libpq's verify-full, HAProxy's verifyhost and etcd's peers
// check the name they dialled against these.

/** A place clients dial: an HAProxy host (and, once there is one, a virtual IP). */
export interface EntryPoint {
  readonly address: string;
  /** A DNS name for it, if it has one. */
  readonly name?: string;
}

export interface CertificateNames {
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/**
 * A host's names: its host name (HAProxy's verifyhost checks DNS names
 * only), its address, and localhost/127.0.0.1 for the components that
 * connect to themselves. A host that HAProxy sends client sessions to also
 * carries every entry point: a client through HAProxy verifies the address
 * it dialled against the certificate PgBouncer (or PostgreSQL) presents,
 * because HAProxy passes TLS through.
 */
export function certificateNames(
  host: { readonly name: string; readonly address: string },
  entryPoints: readonly EntryPoint[] = [],
): CertificateNames {
  const unique = (xs: string[]) => [...new Set(xs)];
  return {
    commonName: host.name,
    dnsNames: unique([host.name, "localhost", ...entryPoints.flatMap((e) => (e.name ? [e.name] : []))]),
    ipAddresses: unique([host.address, "127.0.0.1", ...entryPoints.map((e) => e.address)]),
  };
}
