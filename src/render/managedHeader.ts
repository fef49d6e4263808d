// Every file we put on a host says who owns it, so an
// operator editing it by hand knows the next `pulumi up` will overwrite it;
// the host scripts find our files (and refuse others') by the same marker.
export interface ManagedFileContext {
  /** Pulumi stack that owns the file, e.g. "local". */
  readonly stack: string;
}

/** The words every managed file starts with (host scripts grep for them: MANAGED_MARKER). */
export const MANAGED_MARKER = "Managed by pulumi-patroni";

/** Which stack and host a machine belongs to ("stack/host"), written by the platform step. */
export const OWNER_FILE = "/etc/pulumi-patroni/owner";

export function managedHeader(ctx: ManagedFileContext, commentPrefix = "#"): string {
  return `${commentPrefix} ${MANAGED_MARKER} (stack ${ctx.stack}). Do not edit: change Pulumi.${ctx.stack}.yaml and run pulumi up.\n`;
}
