// A message from a dynamic provider to the person running Pulumi: shown in
// the Diagnostics of `pulumi up` or `pulumi destroy`. Dynamic providers get
// the engine's address as their first argument but Pulumi's runtime in the
// provider process is not told it; it is set here once, for the log call.
// A message that cannot be delivered is dropped: it never fails a step.
import * as pulumi from "@pulumi/pulumi";

let told = false;

export async function tellTheUser(message: string): Promise<void> {
  try {
    const engine = process.argv[2];
    if (!engine) return;
    if (!told) {
      const settings = require("@pulumi/pulumi/runtime/settings") as { resetOptions(...args: unknown[]): void };
      settings.resetOptions("pulumi-patroni", "", -1, engine, "", false, "");
      told = true;
    }
    await pulumi.log.info(message);
  } catch {
    /* no engine to tell */
  }
}
