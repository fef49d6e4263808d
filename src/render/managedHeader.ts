// Every file we put on a host says who owns it (STYLE.md rule 3), so an
// operator editing it by hand knows the next `pulumi up` will overwrite it.
export interface ManagedFileContext {
  /** Pulumi stack that owns the file, e.g. "local". */
  readonly stack: string;
}

export function managedHeader(ctx: ManagedFileContext, commentPrefix = "#"): string {
  return `${commentPrefix} Managed by pulumi-patroni (stack ${ctx.stack}). Do not edit: change Pulumi.${ctx.stack}.yaml and run pulumi up.\n`;
}
