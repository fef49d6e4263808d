// What every role component is given: the validated config and the facts
// derived from it, its host (and how to reach it), the cluster's passwords
// and the host's platform, resolved once, and what it waits for.
import * as pulumi from "@pulumi/pulumi";
import { Topology } from "../config/topology";
import { HostPlatform } from "../platform/platform";
import { ManagedFileContext } from "../render/managedHeader";
import { ClusterPasswords } from "../stack/passwords";
import { HostConfig, StackConfig } from "../stack/stackConfig";
import { HostFacts } from "../steps/stepScript";
import { StepHost } from "../steps/hostSteps";

export interface RoleArgs {
  readonly config: StackConfig;
  readonly topology: Topology<HostConfig>;
  readonly host: HostConfig & StepHost;
  readonly managed: ManagedFileContext;
  /** The facts every host script may use by name (src/stack/hostFacts.ts). */
  readonly facts: HostFacts;
  /** Every password of the cluster (secret). */
  readonly passwords: pulumi.Output<ClusterPasswords>;
  /** The versions this host runs. */
  readonly platform: pulumi.Output<HostPlatform>;
  /** The host's packages step, and the stages this role waits for. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}
